package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// txnErrorCode sends one transaction-coordinator request and returns the
// error code of its answer (the first partition's for per-partition
// answers).
func txnErrorCode(t *testing.T, rc *rawConn, req kmsg.Request) int16 {
	t.Helper()
	switch resp := rc.roundTrip(req).(type) {
	case *kmsg.InitProducerIDResponse:
		return resp.ErrorCode
	case *kmsg.AddPartitionsToTxnResponse:
		return resp.Topics[0].Partitions[0].ErrorCode
	case *kmsg.AddOffsetsToTxnResponse:
		return resp.ErrorCode
	case *kmsg.EndTxnResponse:
		return resp.ErrorCode
	case *kmsg.TxnOffsetCommitResponse:
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	t.Fatalf("unexpected request %T", req)
	return 0
}

func txnRequests(version int16, topic string) []kmsg.Request {
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = strPtr("tx"), 10000
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID = "tx"
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{0}
	add.Topics = append(add.Topics, rt)
	offs := kmsg.NewPtrAddOffsetsToTxnRequest()
	offs.TransactionalID, offs.Group = "tx", "g"
	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.Commit = "tx", true
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group = "tx", "g"
	ct := kmsg.NewTxnOffsetCommitRequestTopic()
	ct.Topic = topic
	cp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	out := []kmsg.Request{init, add, offs, end, commit}
	for _, r := range out {
		r.SetVersion(version)
	}
	return out
}

// Each coordinator answer becomes Kafka's code; a fenced producer gets
// PRODUCER_FENCED only from the versions that know it (KIP-588: v2 of
// AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit; v4 of
// InitProducerId), INVALID_PRODUCER_EPOCH before.
func TestTxnErrorCodes(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	if errs := fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: "t", Partitions: 1}}, false); errs[0] != nil {
		t.Fatal(errs[0])
	}
	rc := dialRaw(t, addr)
	tests := []struct {
		name    string
		err     error
		version int16
		want    int16
		initV3  int16 // InitProducerId at version 3 (the others use version)
	}{
		{"fenced, old versions", cluster.ErrProducerFenced, 1, kerr.InvalidProducerEpoch.Code, kerr.InvalidProducerEpoch.Code},
		{"fenced", cluster.ErrProducerFenced, 3, kerr.ProducerFenced.Code, kerr.InvalidProducerEpoch.Code},
		{"not the coordinator", cluster.ErrNotLeader, 3, kerr.NotCoordinator.Code, kerr.NotCoordinator.Code},
		{"no coordinator", cluster.ErrNotReady, 3, kerr.CoordinatorNotAvailable.Code, kerr.CoordinatorNotAvailable.Code},
		{"markers still written", cluster.ErrConcurrentTransactions, 3, kerr.ConcurrentTransactions.Code, kerr.ConcurrentTransactions.Code},
		{"wrong state", cluster.ErrInvalidTxnState, 3, kerr.InvalidTxnState.Code, kerr.InvalidTxnState.Code},
		{"unknown id", cluster.ErrInvalidProducerIDMapping, 3, kerr.InvalidProducerIDMapping.Code, kerr.InvalidProducerIDMapping.Code},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setTxnErr(t, tt.err)
			for _, req := range txnRequests(tt.version, "t") {
				want := tt.want
				if req.Key() == 22 {
					req.SetVersion(3)
					want = tt.initV3
				}
				if got := txnErrorCode(t, rc, req); got != want {
					t.Errorf("%s v%d: code %d, want %d", kmsg.NameForKey(req.Key()), req.GetVersion(), got, want)
				}
			}
		})
	}
	t.Run("unknown partition", func(t *testing.T) {
		setTxnErr(t, nil)
		add := txnRequests(3, "nope")[1].(*kmsg.AddPartitionsToTxnRequest)
		rt := kmsg.NewAddPartitionsToTxnRequestTopic()
		rt.Topic, rt.Partitions = "t", []int32{0}
		add.Topics = append(add.Topics, rt)
		resp := rc.roundTrip(add).(*kmsg.AddPartitionsToTxnResponse)
		if c := resp.Topics[0].Partitions[0].ErrorCode; c != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("unknown topic: code %d", c)
		}
		if c := resp.Topics[1].Partitions[0].ErrorCode; c != kerr.OperationNotAttempted.Code {
			t.Errorf("known topic beside it: code %d, want OPERATION_NOT_ATTEMPTED", c)
		}
	})
	t.Run("empty transactional id", func(t *testing.T) {
		init := txnRequests(4, "t")[0].(*kmsg.InitProducerIDRequest)
		init.TransactionalID = strPtr("")
		if c := txnErrorCode(t, rc, init); c != kerr.InvalidRequest.Code {
			t.Errorf("code %d, want INVALID_REQUEST", c)
		}
	})
	t.Run("not the coordinator node", func(t *testing.T) {
		fb.mu.Lock()
		fb.coord = 2
		fb.mu.Unlock()
		t.Cleanup(func() { fb.mu.Lock(); fb.coord = 1; fb.mu.Unlock() })
		setTxnErr(t, nil) // the node must not even ask its backend
		for _, req := range txnRequests(3, "t") {
			if got := txnErrorCode(t, rc, req); got != kerr.NotCoordinator.Code {
				t.Errorf("%s: code %d, want NOT_COORDINATOR", kmsg.NameForKey(req.Key()), got)
			}
		}
	})
}
