package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

func newClient(t *testing.T, kc *kafkaCluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(clientOpts(kc, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// franz-go's transactional producer against the broker: committed
// transactions are read by read_committed consumers, aborted and open ones
// are not (read_uncommitted ones read everything); the admin APIs and the
// read_committed end offset describe the open transaction.
func TestTxnKgoReadCommittedAndAdmin(t *testing.T) {
	kc := newKafkaCluster(t, 3, nil)
	kc.startAll()
	kc.waitReady(20 * time.Second)
	kc.createTopic(1, "t", 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prod := newClient(t, kc, kgo.TransactionalID("p"), kgo.DefaultProduceTopic("t"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	want := map[string]bool{}
	all := map[string]bool{}
	for i := range 10 {
		if err := prod.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for p := range int32(3) {
			v := fmt.Sprintf("%d-%d", i, p)
			if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(v), Partition: p}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			all[v] = true
			if i%2 == 0 {
				want[v] = true
			}
		}
		if err := prod.EndTransaction(ctx, kgo.TransactionEndTry(i%2 == 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := prod.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("open"), Partition: 0}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	all["open"] = true

	same := func(got map[string]int, want map[string]bool) error {
		for v := range want {
			if got[v] != 1 {
				return fmt.Errorf("value %s read %d times", v, got[v])
			}
		}
		for v := range got {
			if !want[v] {
				return fmt.Errorf("value %s read, not expected", v)
			}
		}
		return nil
	}
	if err := same(readTopic(t, kc, "t", kgo.ReadCommitted(), time.Second, 20*time.Second), want); err != nil {
		t.Fatalf("read_committed: %v", err)
	}
	if err := same(readTopic(t, kc, "t", kgo.ReadUncommitted(), time.Second, 20*time.Second), all); err != nil {
		t.Fatalf("read_uncommitted: %v", err)
	}

	adm := kadm.NewClient(newClient(t, kc))
	desc, err := adm.DescribeTransactions(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	d := desc["p"]
	if d.Err != nil || d.State != cluster.TxnOngoing || d.StartTimestamp <= 0 || len(d.Topics["t"]) != 1 {
		t.Fatalf("described %+v", d)
	}
	listed, err := adm.ListTransactions(ctx, nil, []string{cluster.TxnOngoing})
	if err != nil || listed["p"].State != cluster.TxnOngoing || listed["p"].ProducerID != d.ProducerID {
		t.Fatalf("listed %+v %v", listed, err)
	}
	if listed, err := adm.ListTransactions(ctx, nil, []string{cluster.TxnCompleteCommit}); err != nil || len(listed) != 0 {
		t.Fatalf("listed by another state: %+v %v", listed, err)
	}
	stable, err := adm.ListCommittedOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	end, err := adm.ListEndOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := stable.Lookup("t", 0)
	e, _ := end.Lookup("t", 0)
	if s.Offset != e.Offset-1 {
		t.Fatalf("t/0: read_committed end %d, high watermark %d: want the open record between", s.Offset, e.Offset)
	}

	if err := prod.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	want["open"] = true
	if err := same(readTopic(t, kc, "t", kgo.ReadCommitted(), time.Second, 20*time.Second), want); err != nil {
		t.Fatalf("read_committed after the last commit: %v", err)
	}
}

// Two franz-go producers with one transactional id: the second fences
// the first. The zombie's open transaction is aborted, its next batch gets
// INVALID_PRODUCER_EPOCH and its attempt to recover PRODUCER_FENCED.
func TestTxnKgoZombieFenced(t *testing.T) {
	kc := newKafkaCluster(t, 3, nil)
	kc.startAll()
	kc.waitReady(20 * time.Second)
	kc.createTopic(1, "t", 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := []kgo.Opt{kgo.TransactionalID("z"), kgo.DefaultProduceTopic("t")}
	zombie := newClient(t, kc, opts...)
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(ctx, kgo.StringRecord("zombie-1")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fresh := newClient(t, kc, opts...)
	if err := fresh.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := fresh.ProduceSync(ctx, kgo.StringRecord("fresh")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	err := zombie.ProduceSync(ctx, kgo.StringRecord("zombie-2")).FirstErr()
	if !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("zombie produce: %v, want INVALID_PRODUCER_EPOCH", err)
	}
	// franz-go treats the epoch error as a possible timeout abort
	// (KIP-588): the abort succeeds locally and the next transaction
	// re-initialises with the old epoch, which the coordinator fences.
	if err := zombie.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	if err := zombie.BeginTransaction(); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("zombie re-initialisation: %v, want PRODUCER_FENCED", err)
	}
	if err := fresh.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	got := readTopic(t, kc, "t", kgo.ReadCommitted(), time.Second, 20*time.Second)
	if len(got) != 1 || got["fresh"] != 1 {
		t.Fatalf("read_committed: %v, want only the new instance's record", got)
	}
}
