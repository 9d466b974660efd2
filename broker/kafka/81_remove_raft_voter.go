package kafka

// RemoveRaftVoter: v0 (KIP-853)
//
// Behavior:
// * Removes member VoterID, as DELETE /admin/members/{id} does (a joining
//   member's join is aborted). Only the __meta leader accepts it
//   (NOT_LEADER_OR_FOLLOWER elsewhere). VoterDirectoryID is ignored.
// * A ClusterID other than ours is INCONSISTENT_CLUSTER_ID; an unknown or
//   removed member VOTER_NOT_FOUND; another change under way
//   REQUEST_TIMED_OUT; a removal whose remaining voters have no active
//   majority INVALID_REQUEST.
// * The answer waits until the member is out of every group, at most the
//   proposal timeout (the request has none), then REQUEST_TIMED_OUT (the
//   removal goes on).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

func init() { regKey(81, 0, 0, handleRemoveRaftVoter) }

func handleRemoveRaftVoter(ctx context.Context, s *Server, _ *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.RemoveRaftVoterRequest)
	resp := req.ResponseKind().(*kmsg.RemoveRaftVoterResponse)
	vc := voterChange{
		clusterID: req.ClusterID, voterID: req.VoterID, badID: kerr.VoterNotFound.Code,
		timeout: cluster.DefaultProposalTimeout,
		propose: func(ctx context.Context, qb QuorumBackend) (cluster.Member, error) {
			return qb.RemoveMember(ctx, uint64(req.VoterID))
		},
		await: cluster.MemberRemoved,
	}
	resp.ErrorCode, resp.ErrorMessage = voterAnswer(vc.run(ctx, s))
	return resp, nil
}
