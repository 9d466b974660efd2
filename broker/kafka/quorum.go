package kafka

// This file holds what the KRaft quorum APIs (55_describe_quorum.go,
// 80_add_raft_voter.go, 81_remove_raft_voter.go) need from the backend,
// and the steps the two voter changes share (voterChange). It is an
// optional interface: a backend without a Raft metadata quorum (the
// protocol tests' fake) answers those APIs with an error.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// QuorumBackend is implemented by *cluster.Node: __meta's quorum and the
// membership operations of members_api.go.
type QuorumBackend interface {
	MetaQuorum() (cluster.Quorum, error)
	Member(id uint64) (cluster.Member, bool)
	AddMember(ctx context.Context, spec cluster.MemberSpec) (cluster.Member, error)
	RemoveMember(ctx context.Context, id uint64) (cluster.Member, error)
	WaitMember(ctx context.Context, id uint64, want cluster.MemberState) (cluster.Member, error)
}

// metadataTopic is the name KRaft gives its metadata log; __meta plays
// that part here, and its own name is accepted too.
const kraftMetadataTopic = "__cluster_metadata"

// voterErrCode maps a membership error to the KIP-853 error codes (nil:
// no error).
func voterErrCode(err error) (int16, string) {
	if err == nil {
		return 0, ""
	}
	msg := err.Error()
	switch {
	case errors.Is(err, cluster.ErrMemberExists):
		return kerr.DuplicateVoter.Code, msg
	case errors.Is(err, cluster.ErrUnknownMember):
		return kerr.VoterNotFound.Code, msg
	case errors.Is(err, cluster.ErrInvalidMember), errors.Is(err, cluster.ErrWouldLoseQuorum):
		return kerr.InvalidRequest.Code, msg
	case errors.Is(err, cluster.ErrChangeInProgress):
		// Kafka answers a request that overlaps an uncommitted voter
		// change with REQUEST_TIMED_OUT: retry later.
		return kerr.RequestTimedOut.Code, msg
	case errors.Is(err, cluster.ErrNotLeader), errors.Is(err, cluster.ErrNotReady), errors.Is(err, cluster.ErrStopped):
		return kerr.NotLeaderForPartition.Code, msg
	case errors.Is(err, cluster.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, cluster.ErrChangeAborted):
		return kerr.RequestTimedOut.Code, msg
	}
	return kerr.UnknownServerError.Code, msg
}

// splitHostPort splits an address into what KRaft listeners carry.
func splitHostPort(addr string) (string, uint16, bool) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, false
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, false
	}
	return h, uint16(port), true
}

// voterChange is one KIP-853 voter change (AddRaftVoter, RemoveRaftVoter):
// the checks both make, the proposal, and the member state the answer
// waits for.
type voterChange struct {
	clusterID *string // the request's; nil: any
	voterID   int32
	badID     int16 // the code for a voter id that cannot be a member id
	timeout   time.Duration
	propose   func(ctx context.Context, qb QuorumBackend) (cluster.Member, error)
	// await is the state the answer waits for, at most timeout; empty:
	// answer once the change is committed in __meta.
	await cluster.MemberState
}

// run makes the change and returns the code and message to answer: this
// broker has no Raft quorum, the request names another cluster, its voter
// id is not a member id, or the change's own outcome (voterErrCode).
func (vc voterChange) run(ctx context.Context, s *Server) (int16, string) {
	qb, ok := s.backend.(QuorumBackend)
	if !ok {
		return kerr.UnsupportedVersion.Code, "this broker has no Raft metadata quorum"
	}
	if vc.clusterID != nil && *vc.clusterID != s.backend.ClusterID() {
		return kerr.InconsistentClusterID.Code, fmt.Sprintf("cluster id %q, this is %q", *vc.clusterID, s.backend.ClusterID())
	}
	if vc.voterID <= 0 {
		return vc.badID, "voter id must be >= 1"
	}
	ctx, cancel := context.WithTimeout(ctx, vc.timeout)
	defer cancel()
	mb, err := vc.propose(ctx, qb)
	if err == nil && vc.await != "" {
		_, err = qb.WaitMember(ctx, mb.ID, vc.await)
	}
	return voterErrCode(err)
}

// voterAnswer turns a voter change's code and message into the response's
// ErrorCode and ErrorMessage: no message on success.
func voterAnswer(code int16, msg string) (int16, *string) {
	if code == 0 {
		return 0, nil
	}
	return code, kmsg.StringPtr(msg)
}
