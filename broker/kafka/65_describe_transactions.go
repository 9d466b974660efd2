package kafka

// DescribeTransactions: v0
//
// Behavior:
// * Answered by the transaction coordinator (the __meta leader) from
//   __meta, read linearizably; every id gets NOT_COORDINATOR elsewhere (the
//   admin client looks the coordinator up per id).
// * Per transactional id: state (Kafka's names: Empty, Ongoing,
//   PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort), producer
//   id and epoch, timeout, the start time of the ongoing transaction (-1
//   when none) and its partitions. An unknown id is
//   TRANSACTIONAL_ID_NOT_FOUND.
// * No ACLs: nothing is TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
//
// Version notes:
// * v0: KIP-664

import (
	"context"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(65, 0, 0, handleDescribeTransactions) }

func handleDescribeTransactions(ctx context.Context, s *Server, _ *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	code := kerr.NotCoordinator.Code
	var descs map[string]cluster.TxnDescription
	if s.isTxnCoordinator() {
		var err error
		descs, err = s.backend.DescribeTxns(ctx, req.TransactionalIDs)
		code = txnErrCode(err, false)
	}
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.ProducerEpoch, st.StartTimestamp = id, -1, -1, -1
		d, ok := descs[id]
		switch {
		case code != 0:
			st.ErrorCode = code
		case !ok:
			st.ErrorCode = kerr.TransactionalIDNotFound.Code
		default:
			st.State, st.TimeoutMillis, st.StartTimestamp = d.State, d.TimeoutMs, d.StartMs
			st.ProducerID, st.ProducerEpoch = d.ProducerID, d.Epoch
			for _, tp := range d.Partitions {
				if n := len(st.Topics); n > 0 && st.Topics[n-1].Topic == tp.Topic {
					st.Topics[n-1].Partitions = append(st.Topics[n-1].Partitions, tp.Partition)
					continue
				}
				t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
				t.Topic, t.Partitions = tp.Topic, []int32{tp.Partition}
				st.Topics = append(st.Topics, t)
			}
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp, nil
}
