package kafka

// EndTxn: v0-3
//
// Behavior:
// * Transaction coordinator only (the __meta leader), else NOT_COORDINATOR.
// * Commit or abort: the decision is one __meta entry (PrepareCommit or
//   PrepareAbort; a commit makes the transaction's TxnOffsetCommit offsets
//   the group's in that same entry). The coordinator then writes a commit
//   or abort marker through the Raft group of every partition of the
//   transaction and completes it. The answer comes only once every marker
//   is replicated: after a success, read_committed consumers see the
//   records (or never will). If that takes longer than 5 s the answer is
//   CONCURRENT_TRANSACTIONS, as Kafka answers an EndTxn while the
//   transaction prepares: the decision is durable, the coordinator keeps
//   writing the markers (a coordinator failover finishes them), and the
//   client's retry of the same decision waits for them again.
// * A retry of an EndTxn that already completed the same way answers
//   success; the opposite decision, or no ongoing transaction, is
//   INVALID_TXN_STATE. Producer checks as AddPartitionsToTxn:
//   INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED (v0-1:
//   INVALID_PRODUCER_EPOCH).
// * The epoch is not bumped (that is KIP-890 part 2, EndTxn v5, which needs
//   the transaction.version feature this broker does not advertise).
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

func init() { regKey(26, 0, 3, handleEndTxn) }

func handleEndTxn(ctx context.Context, s *Server, _ *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	if !s.isTxnCoordinator() {
		resp.ErrorCode = kerr.NotCoordinator.Code
		return resp, nil
	}
	p := cluster.TxnProducer{ID: req.TransactionalID, ProducerID: req.ProducerID, Epoch: req.ProducerEpoch}
	resp.ErrorCode = txnErrCode(s.backend.EndTxn(ctx, p, req.Commit), req.Version < 2)
	return resp, nil
}
