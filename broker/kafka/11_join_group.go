package kafka

// JoinGroup: v0-9
//
// Behavior:
// * Served by the coordinator only (the __meta leader); others answer
//   NOT_COORDINATOR.
// * v4+: a member joining with an empty member id gets MEMBER_ID_REQUIRED
//   and a fresh id, and must join again with it (KIP-394); the group waits
//   for such pending members before completing a rebalance.
// * A join starts a rebalance (PreparingRebalance) unless the member is a
//   follower rejoining with unchanged protocols, which gets the current
//   generation back. The rebalance completes when every member has
//   rejoined or the largest rebalance timeout passes; members that did not
//   rejoin are removed. The generation is then bumped, the protocol chosen
//   (the leader's most preferred protocol that every member supports), the
//   previous leader kept if still present (else the earliest joiner), and
//   the leader gets the member list.
// * Session timeouts outside the configured bounds are
//   INVALID_SESSION_TIMEOUT; a protocol type or protocol set that does not
//   match the group is INCONSISTENT_GROUP_PROTOCOL.
// * Static membership (InstanceID, v5+, KIP-345): a static member joining
//   without a member id gets one at once (no MEMBER_ID_REQUIRED, as in
//   Kafka); if a member with the same instance id exists it is replaced
//   (its waiting JoinGroup/SyncGroup answered FENCED_INSTANCE_ID) and the
//   group rebalances (Kafka can skip that rebalance when nothing changed;
//   we do not). Any request naming a known instance id with another member
//   id is FENCED_INSTANCE_ID (JoinGroup, SyncGroup, Heartbeat,
//   OffsetCommit, LeaveGroup), so a zombie instance stops instead of
//   fencing the new one in turn. Static members expire by session timeout
//   like dynamic ones. SkipAssignment (v9) is always false.
// * Reason (v8, KIP-800) is logged only.
//
// Version notes:
// * v1: RebalanceTimeoutMillis
// * v2: ThrottleMillis
// * v4: MEMBER_ID_REQUIRED (KIP-394)
// * v5: InstanceID (KIP-345)
// * v6: flexible versions
// * v7: ProtocolType, Protocol nullable in the response
// * v8: Reason (KIP-800)
// * v9: SkipAssignment (KIP-814)

import (
	"context"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(11, 0, 9, typed(handleJoinGroup)) }

func handleJoinGroup(ctx context.Context, s *Server, cc *clientConn, req *kmsg.JoinGroupRequest, resp *kmsg.JoinGroupResponse) error {
	ch, r := s.groups.join(req, cc)
	if r == nil {
		select {
		case r = <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	*resp = *r
	return nil
}

func (c *groupCoordinator) join(req *kmsg.JoinGroupRequest, cc *clientConn) (chan *kmsg.JoinGroupResponse, *kmsg.JoinGroupResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fail := func(code int16) *kmsg.JoinGroupResponse { return joinError(req.Version, code, req.MemberID) }
	if code := c.checkGroupLocked(req.Group); code != 0 {
		return nil, fail(code)
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	rebalance := session
	if req.Version >= 1 {
		rebalance = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	}
	gc := c.s.cfg.Groups
	if session < gc.MinSessionTimeout || session > gc.MaxSessionTimeout {
		return nil, fail(kerr.InvalidSessionTimeout.Code)
	}
	if req.ProtocolType == "" || len(req.Protocols) == 0 {
		return nil, fail(kerr.InconsistentGroupProtocol.Code)
	}
	g := c.groups[req.Group]
	if g == nil {
		g = &group{name: req.Group, members: map[string]*member{}, pending: map[string]time.Time{}}
		c.groups[req.Group] = g
	}
	if len(g.members) > 0 {
		if req.ProtocolType != g.protocolType || len(g.commonProtocols(req.Protocols, req.MemberID)) == 0 {
			return nil, fail(kerr.InconsistentGroupProtocol.Code)
		}
	}
	if req.Reason != nil && *req.Reason != "" {
		c.s.log.Debug("join group", "group", req.Group, "member", req.MemberID, "reason", *req.Reason)
	}

	static := g.staticMember(req.InstanceID)
	if req.MemberID != "" && g.fenced(req.InstanceID, req.MemberID) {
		return nil, fail(kerr.FencedInstanceID.Code)
	}
	if req.MemberID == "" && static != nil {
		// A new instance of a static member (a restarted process with
		// the same group.instance.id) replaces the old one at once; the
		// old member id is fenced from now on.
		c.s.log.Info("static group member replaced", "group", req.Group, "instance", *req.InstanceID, "old_member", static.id)
		c.removeMemberLocked(g, static, kerr.FencedInstanceID.Code)
	}

	m := g.members[req.MemberID]
	switch {
	case req.MemberID == "":
		id := newMemberID(clientIDOf(cc))
		if req.Version >= 4 && req.InstanceID == nil {
			g.pending[id] = time.Now().Add(session)
			return nil, withMemberID(fail(kerr.MemberIDRequired.Code), id)
		}
		req.MemberID = id
	case m == nil:
		if _, ok := g.pending[req.MemberID]; !ok || req.InstanceID != nil {
			return nil, fail(kerr.UnknownMemberID.Code)
		}
	}
	delete(g.pending, req.MemberID)

	ch := make(chan *kmsg.JoinGroupResponse, 1)
	if m == nil {
		m = &member{id: req.MemberID, clientHost: hostOf(cc)}
		m.clientID = clientIDOf(cc)
		m.instanceID, m.protocolType, m.protocols = req.InstanceID, req.ProtocolType, req.Protocols
		m.session, m.rebalance = session, rebalance
		c.addMemberLocked(g, m)
		g.protocolType = req.ProtocolType
		m.join, m.joinVersion = ch, req.Version
		if g.state == statePreparingRebalance {
			c.tryCompleteJoinLocked(g)
		} else {
			c.prepareRebalanceLocked(g)
		}
		return ch, nil
	}

	unchanged := sameProtocols(m.protocols, req.Protocols)
	m.protocols, m.session, m.rebalance, m.instanceID = req.Protocols, session, rebalance, req.InstanceID
	c.touchLocked(g, m)
	if m.join != nil { // a retried join replaces the earlier waiter
		m.join <- fail(kerr.RebalanceInProgress.Code)
	}
	m.join, m.joinVersion = ch, req.Version
	switch g.state {
	case statePreparingRebalance:
		c.tryCompleteJoinLocked(g)
	case stateStable, stateCompletingRebalance:
		if unchanged && m.id != g.leader {
			r := g.currentJoinLocked(m, req.Version)
			m.join = nil
			return nil, r
		}
		c.prepareRebalanceLocked(g)
	case stateEmpty:
		c.prepareRebalanceLocked(g)
	}
	return ch, nil
}

// clientIDOf returns the client id of the connection's latest request.
func clientIDOf(cc *clientConn) string {
	if cc == nil {
		return ""
	}
	if p := cc.clientID.Load(); p != nil {
		return *p
	}
	return ""
}

func hostOf(cc *clientConn) string {
	if cc == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(cc.remote)
	if err != nil {
		return cc.remote
	}
	return "/" + host
}
