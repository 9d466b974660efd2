package kafka

// ListTransactions: v0-1
//
// Behavior:
// * Every transactional id lives in __meta and is coordinated by its
//   leader, so the __meta leader lists them all (read linearizably) and
//   every other node answers an empty list: an admin client asking every
//   broker and merging the answers (as Kafka's does) sees each id once.
// * Filters: StateFilters (Kafka's state names; unknown names are listed
//   back in UnknownStateFilters and match nothing), ProducerIDFilters, and
//   (v1, KIP-994) DurationFilterMillis: only transactions ongoing for at
//   least that long. Empty filters match everything.
//
// Version notes:
// * v0: KIP-664
// * v1: DurationFilterMillis (KIP-994)
// (v2, TransactionalIDPattern, is not served.)

import (
	"context"
	"slices"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(66, 0, 1, handleListTransactions) }

var txnStateNames = []string{cluster.TxnEmpty, cluster.TxnOngoing, cluster.TxnPrepareCommit, cluster.TxnPrepareAbort, cluster.TxnCompleteCommit, cluster.TxnCompleteAbort}

func handleListTransactions(ctx context.Context, s *Server, _ *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	states := map[string]bool{}
	for _, f := range req.StateFilters {
		if slices.Contains(txnStateNames, f) {
			states[f] = true
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, f)
		}
	}
	if len(resp.UnknownStateFilters) > 0 && len(states) == 0 {
		return resp, nil // only unknown states: nothing matches
	}
	if !s.isTxnCoordinator() {
		return resp, nil
	}
	all, err := s.backend.ListTxns(ctx)
	if err != nil {
		resp.ErrorCode = txnErrCode(err, false)
		return resp, nil
	}
	now := time.Now().UnixMilli()
	for _, d := range all {
		switch {
		case len(states) > 0 && !states[d.State]:
			continue
		case len(req.ProducerIDFilters) > 0 && !slices.Contains(req.ProducerIDFilters, d.ProducerID):
			continue
		case req.Version >= 1 && req.DurationFilterMillis >= 0 && (d.StartMs < 0 || now-d.StartMs < req.DurationFilterMillis):
			continue
		}
		ts := kmsg.NewListTransactionsResponseTransactionState()
		ts.TransactionalID, ts.ProducerID, ts.TransactionState = d.ID, d.ProducerID, d.State
		resp.TransactionStates = append(resp.TransactionStates, ts)
	}
	return resp, nil
}
