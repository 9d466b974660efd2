package kafka

// SyncGroup: v0-5
//
// Behavior:
// * The leader's SyncGroup carries every member's assignment; it moves the
//   group to Stable and answers every member waiting in SyncGroup. A
//   follower's SyncGroup waits for the leader's (or for a new rebalance,
//   which answers it with REBALANCE_IN_PROGRESS).
// * In Stable a SyncGroup returns the member's current assignment.
// * Checks: NOT_COORDINATOR, FENCED_INSTANCE_ID (v3+, a replaced static
//   member, see JoinGroup), UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
//   REBALANCE_IN_PROGRESS (while members rejoin), and v5+
//   INCONSISTENT_GROUP_PROTOCOL when ProtocolType/Protocol disagree with the
//   group's.
//
// Version notes:
// * v1: ThrottleMillis
// * v3: InstanceID (KIP-345)
// * v4: flexible versions
// * v5: ProtocolType, Protocol (KIP-559)

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(14, 0, 5, typed(handleSyncGroup)) }

func handleSyncGroup(ctx context.Context, s *Server, _ *clientConn, req *kmsg.SyncGroupRequest, resp *kmsg.SyncGroupResponse) error {
	ch, res, pt, pn := s.groups.sync(req)
	if ch != nil {
		select {
		case res = <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	resp.ErrorCode = res.code
	if res.code == 0 {
		resp.MemberAssignment = res.assignment
		if resp.MemberAssignment == nil {
			resp.MemberAssignment = []byte{}
		}
		resp.ProtocolType, resp.Protocol = &pt, &pn
	}
	return nil
}

func (c *groupCoordinator) sync(req *kmsg.SyncGroupRequest) (ch chan syncResult, res syncResult, protocolType, protocol string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fail := func(code int16) (chan syncResult, syncResult, string, string) {
		return nil, syncResult{code: code}, "", ""
	}
	if !c.isCoordinatorLocked() {
		return fail(kerr.NotCoordinator.Code)
	}
	g := c.groups[req.Group]
	if g == nil {
		return fail(kerr.UnknownMemberID.Code)
	}
	if g.fenced(req.InstanceID, req.MemberID) {
		return fail(kerr.FencedInstanceID.Code)
	}
	m := g.members[req.MemberID]
	if m == nil {
		return fail(kerr.UnknownMemberID.Code)
	}
	if req.Generation != g.generation {
		return fail(kerr.IllegalGeneration.Code)
	}
	if (req.ProtocolType != nil && *req.ProtocolType != g.protocolType) ||
		(req.Protocol != nil && *req.Protocol != g.protocol) {
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	c.touchLocked(g, m)
	switch g.state {
	case stateEmpty:
		return fail(kerr.UnknownMemberID.Code)
	case statePreparingRebalance:
		return fail(kerr.RebalanceInProgress.Code)
	case stateStable:
		return nil, syncResult{assignment: m.assignment}, g.protocolType, g.protocol
	}
	// CompletingRebalance.
	ch = make(chan syncResult, 1)
	if m.sync != nil {
		m.sync <- syncResult{code: kerr.RebalanceInProgress.Code}
	}
	m.sync = ch
	if m.id == g.leader {
		for _, o := range g.members {
			o.assignment = nil
		}
		for _, a := range req.GroupAssignment {
			if o := g.members[a.MemberID]; o != nil {
				o.assignment = a.MemberAssignment
			}
		}
		g.state = stateStable
		for _, o := range g.members {
			if o.sync != nil {
				o.sync <- syncResult{assignment: o.assignment}
				o.sync = nil
				c.touchLocked(g, o)
			}
		}
	}
	return ch, syncResult{}, g.protocolType, g.protocol
}
