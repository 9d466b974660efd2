package kafka

// AddOffsetsToTxn: v0-3
//
// Behavior:
// * Transaction coordinator only (the __meta leader), else NOT_COORDINATOR.
// * Adds the consumer group to the producer's transaction through __meta
//   (beginning a transaction if none is ongoing), so that TxnOffsetCommit
//   may commit the group's offsets in it. Kafka adds the group's
//   __consumer_offsets partition; here group offsets live in __meta, next
//   to the transaction, and need no marker.
// * Producer checks as AddPartitionsToTxn: INVALID_PRODUCER_ID_MAPPING,
//   PRODUCER_FENCED (v0-1: INVALID_PRODUCER_EPOCH), CONCURRENT_TRANSACTIONS
//   while the previous transaction's markers are still written. An empty
//   group is INVALID_GROUP_ID.
//
// Version notes:
// * v1: ThrottleMillis behaviour (KIP-219)
// * v2: PRODUCER_FENCED (KIP-588)
// * v3: flexible versions

import (
	"context"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(25, 0, 3, handleAddOffsetsToTxn) }

func handleAddOffsetsToTxn(ctx context.Context, s *Server, _ *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	switch {
	case !s.isTxnCoordinator():
		resp.ErrorCode = kerr.NotCoordinator.Code
	case req.Group == "":
		resp.ErrorCode = kerr.InvalidGroupID.Code
	default:
		p := cluster.TxnProducer{ID: req.TransactionalID, ProducerID: req.ProducerID, Epoch: req.ProducerEpoch}
		resp.ErrorCode = txnErrCode(s.backend.AddTxnOffsets(ctx, p, req.Group), req.Version < 2)
	}
	return resp, nil
}
