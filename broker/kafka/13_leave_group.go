package kafka

// LeaveGroup: v0-5
//
// Behavior:
// * Removes the member (v0-2) or each listed member (v3+, KIP-345 batch,
//   matched by member id or, when the id is empty, by instance id); an
//   unknown member is UNKNOWN_MEMBER_ID (per member in v3+); a member id
//   whose instance id now belongs to another member is FENCED_INSTANCE_ID.
// * A Stable or CompletingRebalance group then rebalances; a group that
//   loses its last member becomes Empty.
// * Reason (v5, KIP-800) is logged only.
//
// Version notes:
// * v1: ThrottleMillis
// * v3: Members batch (KIP-345)
// * v4: flexible versions
// * v5: Reason

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(13, 0, 5, typed(handleLeaveGroup)) }

func handleLeaveGroup(_ context.Context, s *Server, _ *clientConn, req *kmsg.LeaveGroupRequest, resp *kmsg.LeaveGroupResponse) error {
	leaving := req.Members
	if req.Version < 3 {
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = req.MemberID
		leaving = []kmsg.LeaveGroupRequestMember{m}
	}
	code, codes := s.groups.leave(req.Group, leaving)
	resp.ErrorCode = code
	if req.Version >= 3 && code == 0 {
		for i, lm := range leaving {
			rm := kmsg.NewLeaveGroupResponseMember()
			rm.MemberID, rm.InstanceID, rm.ErrorCode = lm.MemberID, lm.InstanceID, codes[i]
			resp.Members = append(resp.Members, rm)
		}
	} else if req.Version < 3 && code == 0 {
		resp.ErrorCode = codes[0]
	}
	return nil
}

func (c *groupCoordinator) leave(name string, leaving []kmsg.LeaveGroupRequestMember) (int16, []int16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.isCoordinatorLocked() {
		return kerr.NotCoordinator.Code, nil
	}
	codes := make([]int16, len(leaving))
	g := c.groups[name]
	if g == nil {
		for i := range codes {
			codes[i] = kerr.UnknownMemberID.Code
		}
		return 0, codes
	}
	removed := false
	for i, lm := range leaving {
		if lm.MemberID != "" && g.fenced(lm.InstanceID, lm.MemberID) {
			codes[i] = kerr.FencedInstanceID.Code
			continue
		}
		m := g.members[lm.MemberID]
		if m == nil && lm.MemberID == "" && lm.InstanceID != nil {
			for _, o := range g.members {
				if o.instanceID != nil && *o.instanceID == *lm.InstanceID {
					m = o
				}
			}
		}
		if m == nil {
			codes[i] = kerr.UnknownMemberID.Code
			continue
		}
		if lm.Reason != nil {
			c.s.log.Debug("member leaving group", "group", name, "member", m.id, "reason", *lm.Reason)
		}
		c.removeMemberLocked(g, m, kerr.UnknownMemberID.Code)
		removed = true
	}
	if removed {
		c.membersChangedLocked(g)
	}
	return 0, codes
}
