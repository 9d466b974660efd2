package kafka

// AddRaftVoter: v0-1 (KIP-853)
//
// Behavior:
// * Adds member VoterID, as POST /admin/members does: it joins every Raft
//   group as a learner and becomes a voter group by group once caught up.
//   Only the __meta leader accepts it (NOT_LEADER_OR_FOLLOWER elsewhere,
//   as in KRaft; DescribeQuorum names the leader).
// * The listener named "RAFT" or "CONTROLLER" (else the first) is the
//   member's peer-transport address; one named "PLAINTEXT", "BROKER" or
//   "KAFKA" its Kafka address. VoterDirectoryID is ignored.
// * A ClusterID other than ours is INCONSISTENT_CLUSTER_ID. An id that is
//   or was a member is DUPLICATE_VOTER (ids are never reused); another
//   change under way REQUEST_TIMED_OUT, as Kafka answers an uncommitted
//   voter change; a malformed request INVALID_REQUEST.
// * With AckWhenCommitted (always before v1) the answer waits until the
//   member is a voter in every group, at most TimeoutMillis, then
//   REQUEST_TIMED_OUT (the change goes on); without it, the answer comes
//   once the addition is committed in __meta.
//
// Version notes:
// * v1: AckWhenCommitted (KIP-1186)

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

func init() { regKey(80, 0, 1, handleAddRaftVoter) }

func handleAddRaftVoter(ctx context.Context, s *Server, _ *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.AddRaftVoterRequest)
	resp := req.ResponseKind().(*kmsg.AddRaftVoterResponse)
	spec := cluster.MemberSpec{ID: uint64(req.VoterID)}
	for _, l := range req.Listeners {
		addr := net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
		switch l.Name {
		case "RAFT", "CONTROLLER":
			spec.RaftAddr = addr
		case "PLAINTEXT", "BROKER", "KAFKA":
			spec.KafkaAddr = addr
		}
	}
	if spec.RaftAddr == "" && len(req.Listeners) > 0 {
		l := req.Listeners[0]
		spec.RaftAddr = net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
	}
	vc := voterChange{
		clusterID: req.ClusterID, voterID: req.VoterID, badID: kerr.InvalidRequest.Code,
		timeout: time.Duration(req.TimeoutMillis) * time.Millisecond,
		propose: func(ctx context.Context, qb QuorumBackend) (cluster.Member, error) { return qb.AddMember(ctx, spec) },
	}
	if vc.timeout <= 0 {
		vc.timeout = 15 * time.Second
	}
	if req.Version < 1 || req.AckWhenCommitted {
		vc.await = cluster.MemberVoter
	}
	resp.ErrorCode, resp.ErrorMessage = voterAnswer(vc.run(ctx, s))
	return resp, nil
}
