package kafka

// This file holds what the KRaft quorum APIs (55_describe_quorum.go,
// 80_add_raft_voter.go, 81_remove_raft_voter.go) need from the backend.
// It is an optional interface: a backend without a Raft metadata quorum
// (the protocol tests' fake) answers those APIs with an error.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
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

// voterErrCode maps a membership error to the KIP-853 error codes.
func voterErrCode(err error) (int16, string) {
	msg := err.Error()
	switch {
	case err == nil:
		return 0, ""
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

// voterChangeQuorum returns the quorum a KIP-853 voter change
// (AddRaftVoter, RemoveRaftVoter) acts on, or nil with the code and message
// to answer: this broker has no Raft quorum, or the request names another
// cluster.
func voterChangeQuorum(s *Server, clusterID *string) (QuorumBackend, int16, string) {
	qb, ok := s.backend.(QuorumBackend)
	if !ok {
		return nil, kerr.UnsupportedVersion.Code, "this broker has no Raft metadata quorum"
	}
	if clusterID != nil && *clusterID != s.backend.ClusterID() {
		return nil, kerr.InconsistentClusterID.Code, fmt.Sprintf("cluster id %q, this is %q", *clusterID, s.backend.ClusterID())
	}
	return qb, 0, ""
}
