package kafka

// Heartbeat: v0-4
//
// Behavior:
// * Extends the member's session. Answers NOT_COORDINATOR,
//   UNKNOWN_MEMBER_ID (unknown group or member), ILLEGAL_GENERATION, or
//   REBALANCE_IN_PROGRESS while the group waits for members to rejoin, which
//   is how members learn that they must rejoin.
// * v3+: a static member replaced by a newer instance with the same
//   instance id is FENCED_INSTANCE_ID (see JoinGroup).
// * During CompletingRebalance (waiting for the leader's SyncGroup) the
//   answer is NONE, as in Kafka 2.x+.
//
// Version notes:
// * v1: ThrottleMillis
// * v3: InstanceID (KIP-345)
// * v4: flexible versions

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(12, 0, 4, typed(handleHeartbeat)) }

func handleHeartbeat(_ context.Context, s *Server, _ *clientConn, req *kmsg.HeartbeatRequest, resp *kmsg.HeartbeatResponse) error {
	resp.ErrorCode = s.groups.heartbeat(req)
	return nil
}

func (c *groupCoordinator) heartbeat(req *kmsg.HeartbeatRequest) int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.isCoordinatorLocked() {
		return kerr.NotCoordinator.Code
	}
	g := c.groups[req.Group]
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	if g.fenced(req.InstanceID, req.MemberID) {
		return kerr.FencedInstanceID.Code
	}
	m := g.members[req.MemberID]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	c.touchLocked(g, m)
	switch {
	case g.state == statePreparingRebalance:
		return kerr.RebalanceInProgress.Code
	case req.Generation != g.generation:
		return kerr.IllegalGeneration.Code
	case g.state == stateEmpty:
		return kerr.UnknownMemberID.Code
	}
	return 0
}
