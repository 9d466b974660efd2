package kafka

// InitProducerID: v0-5
//
// Behavior:
// * Allocates a fresh producer id (epoch 0) through __meta for idempotent
//   producers. Producer-id state is replicated, so de-duplication survives
//   failover.
// * With a transactional id, only the transaction coordinator (the __meta
//   leader) answers; elsewhere NOT_COORDINATOR. An empty id is
//   INVALID_REQUEST, a timeout outside (0, 15 min] INVALID_TRANSACTION_TIMEOUT.
//   The first call for an id allocates its producer id (epoch 0), every
//   later one bumps the epoch, which fences the previous instance: its
//   coordinator requests get PRODUCER_FENCED, its batches
//   INVALID_PRODUCER_EPOCH. An ongoing transaction of the id is aborted
//   first, its markers carrying a bumped epoch so the old instance's
//   in-flight batches are refused at every partition; the answer waits for
//   that abort (CONCURRENT_TRANSACTIONS if it takes longer than the
//   request's time, which every client retries).
// * v3+ ProducerID/ProducerEpoch with a transactional id (KIP-360): the
//   producer recovers its id with a bumped epoch; a retry, or a producer
//   whose transaction the coordinator timed out (KIP-588), gets the epoch
//   already minted for it; any other epoch is PRODUCER_FENCED (v3:
//   INVALID_PRODUCER_EPOCH, the code older clients understand), an unknown
//   id INVALID_PRODUCER_ID_MAPPING.
// * v3+ ProducerID/ProducerEpoch without a transactional id (KIP-360 epoch
//   bump after an UNKNOWN_PRODUCER_ID) are ignored: the idempotent producer
//   gets a new id instead of a bumped epoch, which gives it the same fresh
//   sequence space.
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
// * v4: no change (KIP-588 error codes: PRODUCER_FENCED)
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
		initTxnProducer(ctx, s, req, resp)
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

func initTxnProducer(ctx context.Context, s *Server, req *kmsg.InitProducerIDRequest, resp *kmsg.InitProducerIDResponse) *kmsg.InitProducerIDResponse {
	switch {
	case *req.TransactionalID == "":
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	case !s.isTxnCoordinator():
		resp.ErrorCode = kerr.NotCoordinator.Code
		return resp
	}
	init := cluster.TxnInit{ID: *req.TransactionalID, TimeoutMs: req.TransactionTimeoutMillis, ProducerID: -1, Epoch: -1}
	if req.Version >= 3 && req.ProducerID >= 0 {
		init.ProducerID, init.Epoch = req.ProducerID, req.ProducerEpoch
	}
	id, epoch, err := s.backend.InitTxnProducer(ctx, init)
	if err != nil {
		resp.ErrorCode = txnErrCode(err, req.Version < 4)
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = id, epoch
	return resp
}
