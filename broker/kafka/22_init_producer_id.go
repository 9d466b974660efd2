package kafka

// InitProducerID: v0-5
//
// Behavior:
// * Allocates a fresh producer id (epoch 0) through __meta for idempotent
//   producers. Producer-id state is replicated, so de-duplication survives
//   failover.
// * A transactional id is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
//   transactions are not implemented, and failing here, before any data is
//   sent, is the clearest answer a client can get.
// * v3+ ProducerID/ProducerEpoch (KIP-360 epoch bump after an
//   UNKNOWN_PRODUCER_ID) are ignored: the producer gets a new id instead of
//   a bumped epoch, which gives it the same fresh sequence space.
// * While no id can be allocated (no __meta leader, an election, this node
//   stopping) the answer is COORDINATOR_LOAD_IN_PROGRESS, as Kafka answers
//   when its producer-id block is not ready; every client retries it. Not
//   NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE: an idempotent producer
//   sends InitProducerId to any broker, and the Java client answers those
//   two codes by looking up a transaction coordinator for its null
//   transactional id (TransactionManager.InitProducerIdHandler), a
//   FindCoordinator with no key whose empty answer is a fatal producer
//   error. Timeouts stay REQUEST_TIMED_OUT (retriable).
//
// Version notes:
// * v1: ThrottleMillis
// * v2: flexible versions
// * v3: ProducerID, ProducerEpoch in the request (KIP-360)
// * v4: no change (KIP-588 error codes)
// * v5: TRANSACTION_ABORTABLE may be answered (KIP-890); never here

import (
	"context"
	"errors"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(22, 0, 5, typed(handleInitProducerID)) }

func handleInitProducerID(ctx context.Context, s *Server, _ *clientConn, req *kmsg.InitProducerIDRequest, resp *kmsg.InitProducerIDResponse) error {
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return nil
	}
	id, epoch, err := s.backend.InitProducerID(ctx)
	switch {
	case err == nil:
	case errors.Is(err, cluster.ErrNotLeader), errors.Is(err, cluster.ErrStopped), errors.Is(err, cluster.ErrNotReady):
		// No __meta leader to allocate from (see the header).
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		return nil
	default:
		resp.ErrorCode = errCode(err)
		return nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, epoch
	return nil
}
