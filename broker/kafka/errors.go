package kafka

import (
	"context"
	"errors"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
)

// errCode maps a Backend error to the Kafka error code of a partition-level
// answer. Unknown errors are UNKNOWN_SERVER_ERROR: the client must then treat
// the outcome as unknown, which is the only safe reading.
func errCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, cluster.ErrNotLeader):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, cluster.ErrUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, cluster.ErrTopicExists):
		return kerr.TopicAlreadyExists.Code
	case errors.Is(err, cluster.ErrInvalidPartitions):
		return kerr.InvalidPartitions.Code
	case errors.Is(err, cluster.ErrInvalidTopic):
		return kerr.InvalidTopicException.Code
	case errors.Is(err, cluster.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, cluster.ErrDuplicateSequence):
		return kerr.DuplicateSequenceNumber.Code
	case errors.Is(err, cluster.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, cluster.ErrInvalidProducerEpoch):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, cluster.ErrUnknownProducerID):
		return kerr.UnknownProducerID.Code
	case errors.Is(err, cluster.ErrNotReady):
		return kerr.LeaderNotAvailable.Code
	case errors.Is(err, cluster.ErrInvalidTxnState):
		// A transactional batch outside its producer's ongoing
		// transaction (KIP-890 verification), as Kafka answers it.
		return kerr.InvalidTxnState.Code
	case errors.Is(err, cluster.ErrTxnUnverified):
		// Kafka's translation of an unreachable coordinator during
		// verification: retriable, and no metadata refresh.
		return kerr.NotEnoughReplicas.Code
	case errors.Is(err, cluster.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	case errors.Is(err, cluster.ErrStopped):
		// The node is going away; NOT_LEADER makes the client refresh its
		// metadata and find the next leader.
		return kerr.NotLeaderForPartition.Code
	default:
		return kerr.UnknownServerError.Code
	}
}

// groupErrCode maps a Backend error of a coordinator call (offset commit,
// fetch and deletion; txnErrCode's fallback) to its Kafka code: leadership
// problems are coordinator problems there.
func groupErrCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, cluster.ErrNotLeader), errors.Is(err, cluster.ErrStopped):
		return kerr.NotCoordinator.Code
	case errors.Is(err, cluster.ErrNotReady):
		return kerr.CoordinatorNotAvailable.Code
	default:
		return errCode(err)
	}
}
