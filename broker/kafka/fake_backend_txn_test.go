package kafka

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// The fake has no transactions (it writes no markers, so its last stable
// offset is its high watermark): every coordinator call answers the error
// setTxnErr installed, by default as if no transaction coordinator were
// elected. The transactions themselves are tested against broker/cluster's
// nodes; here only the protocol layer's mapping.

type errBox struct{ err error }

var fakeTxnErr atomic.Pointer[errBox]

func txnErr() error {
	if b := fakeTxnErr.Load(); b != nil {
		return b.err
	}
	return cluster.ErrNotReady
}

// setTxnErr makes every fake coordinator call fail with err until the test
// ends.
func setTxnErr(t *testing.T, err error) {
	fakeTxnErr.Store(&errBox{err})
	t.Cleanup(func() { fakeTxnErr.Store(nil) })
}

func (f *fakeBackend) InitTxnProducer(context.Context, cluster.TxnInit) (int64, int16, error) {
	return -1, -1, txnErr()
}

func (f *fakeBackend) AddTxnPartitions(context.Context, cluster.TxnProducer, []cluster.TopicPartition) error {
	return txnErr()
}

func (f *fakeBackend) AddTxnOffsets(context.Context, cluster.TxnProducer, string) error {
	return txnErr()
}

func (f *fakeBackend) CommitTxnOffsets(context.Context, cluster.TxnProducer, string, map[cluster.TopicPartition]cluster.OffsetCommit) error {
	return txnErr()
}

func (f *fakeBackend) EndTxn(context.Context, cluster.TxnProducer, bool) error { return txnErr() }

func (f *fakeBackend) DescribeTxns(context.Context, []string) (map[string]cluster.TxnDescription, error) {
	return nil, txnErr()
}

func (f *fakeBackend) ListTxns(context.Context) ([]cluster.TxnDescription, error) {
	return nil, txnErr()
}

func (f *fakeBackend) PendingTxnOffsets(string) map[cluster.TopicPartition]bool { return nil }
