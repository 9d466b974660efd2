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
	fail := func(code int16, msg string) (kmsg.Response, error) {
		resp.ErrorCode, resp.ErrorMessage = code, kmsg.StringPtr(msg)
		return resp, nil
	}
	qb, code, msg := voterChangeQuorum(s, req.ClusterID)
	if qb == nil {
		return fail(code, msg)
	}
	if req.VoterID <= 0 {
		return fail(kerr.VoterNotFound.Code, "voter id must be >= 1")
	}
	ctx, cancel := context.WithTimeout(ctx, cluster.DefaultProposalTimeout)
	defer cancel()
	mb, err := qb.RemoveMember(ctx, uint64(req.VoterID))
	if err == nil {
		_, err = qb.WaitMember(ctx, mb.ID, cluster.MemberRemoved)
	}
	if err != nil {
		code, msg := voterErrCode(err)
		return fail(code, msg)
	}
	return resp, nil
}
