package cluster_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// partitionAwayFrom returns a partition of topic led by its preferred
// replica (partition p prefers node p mod n + 1), which is not node avoid:
// a leader that is not the preferred one would soon hand leadership over,
// perhaps to avoid itself.
func (tc *testCluster) partitionAwayFrom(topic string, parts int32, avoid int32) (cluster.TopicPartition, *cluster.Node) {
	tc.t.Helper()
	var tp cluster.TopicPartition
	var l *cluster.Node
	waitFor(tc.t, 20*time.Second, "a partition led by its preferred replica elsewhere", func() bool {
		for p := range parts {
			preferred := p%int32(len(tc.ids)) + 1
			tp = cluster.TopicPartition{Topic: topic, Partition: p}
			if l = tc.leaderOf(tp); preferred != avoid && l != nil && l.NodeID() == preferred {
				return true
			}
		}
		return false
	})
	return tp, l
}

// wantCommitted checks what a read_committed consumer reads from tp through
// every running node.
func wantCommitted(t *testing.T, tc *testCluster, tp cluster.TopicPartition, want []int64) {
	t.Helper()
	for _, id := range tc.ids {
		n := tc.node(id)
		if n == nil {
			continue
		}
		var got []int64
		var err error
		waitFor(t, 10*time.Second, "read_committed read", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			got, _, err = committedValues(ctx, n, tp)
			return err == nil && slices.Equal(got, want)
		})
	}
}

// Committed transactions are visible to read_committed readers, aborted
// ones never, open ones not yet (the last stable offset holds them back);
// all of it is rebuilt from the store after every node restarts.
func TestTxnCommitAbortAndLastStableOffset(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "t", 2)
	p0, p1 := cluster.TopicPartition{Topic: "t", Partition: 0}, cluster.TopicPartition{Topic: "t", Partition: 1}
	c := newTxnClient(t, tc, "tx")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.add(p0, p1))
	_, err := c.send(p0, 1)
	must(err)
	_, err = c.send(p1, 2)
	must(err)
	must(c.end(true))
	must(c.add(p0))
	_, err = c.send(p0, 3)
	must(err)
	must(c.end(false))
	must(c.add(p1))
	open, err := c.send(p1, 4)
	must(err)

	check := func(when string) {
		t.Helper()
		wantCommitted(t, tc, p0, []int64{1})
		wantCommitted(t, tc, p1, []int64{2})
		n := tc.node(1)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		lso, _, _, err := n.ListOffset(ctx, p1, -1, true)
		must(err)
		hw, _, _, err := n.ListOffset(ctx, p1, -1, false)
		must(err)
		if lso != open || hw != open+1 {
			t.Fatalf("%s: p1 last stable %d, high watermark %d; want %d, %d", when, lso, hw, open, open+1)
		}
		all, _, err := readAll(ctx, n, p0)
		must(err)
		if len(all) != 4 { // 1, commit marker, 3, abort marker
			t.Fatalf("%s: read_uncommitted p0 has %d batches, want 4: %v", when, len(all), all)
		}
	}
	check("live")
	tc.stopAll()
	tc.startAll()
	tc.waitReady(20 * time.Second)
	check("after restart")
	must(c.end(true))
	wantCommitted(t, tc, p1, []int64{2, 4})
}

// A second producer instance with the same transactional id fences the
// first: its open transaction is aborted, its batches get
// INVALID_PRODUCER_EPOCH and its coordinator requests PRODUCER_FENCED.
func TestTxnZombieFenced(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "t", 1)
	tp := cluster.TopicPartition{Topic: "t"}
	zombie := newTxnClient(t, tc, "tx")
	if err := zombie.add(tp); err != nil {
		t.Fatal(err)
	}
	if _, err := zombie.send(tp, 1); err != nil {
		t.Fatal(err)
	}
	fresh := newTxnClient(t, tc, "tx")
	if fresh.pid != zombie.pid || fresh.epoch <= zombie.epoch {
		t.Fatalf("new instance got %d/%d after %d/%d", fresh.pid, fresh.epoch, zombie.pid, zombie.epoch)
	}
	if _, err := zombie.send(tp, 2); !errors.Is(err, cluster.ErrInvalidProducerEpoch) {
		t.Fatalf("zombie batch: %v, want invalid producer epoch", err)
	}
	if err := zombie.end(true); !errors.Is(err, cluster.ErrProducerFenced) {
		t.Fatalf("zombie EndTxn: %v, want fenced", err)
	}
	if err := zombie.add(tp); !errors.Is(err, cluster.ErrProducerFenced) {
		t.Fatalf("zombie AddPartitionsToTxn: %v, want fenced", err)
	}
	if err := fresh.add(tp); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.send(tp, 3); err != nil {
		t.Fatal(err)
	}
	if err := fresh.end(true); err != nil {
		t.Fatal(err)
	}
	wantCommitted(t, tc, tp, []int64{3})
}

// The coordinator aborts a transaction past its timeout with a bumped
// epoch; the producer may recover with its old epoch (KIP-588), a late
// commit is fenced.
func TestTxnTimeoutAborts(t *testing.T) {
	tc := newTestCluster(t, 1, nil)
	tc.start(1)
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "t", 1)
	tp := cluster.TopicPartition{Topic: "t"}
	c := newTxnClient(t, tc, "tx")
	n := tc.node(1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// A short timeout: re-initialise with it.
	pid, epoch, err := n.InitTxnProducer(ctx, cluster.TxnInit{ID: "tx", TimeoutMs: 200, ProducerID: c.pid, Epoch: c.epoch})
	if err != nil {
		t.Fatal(err)
	}
	c.pid, c.epoch = pid, epoch
	clear(c.seq)
	if err := c.add(tp); err != nil {
		t.Fatal(err)
	}
	if _, err := c.send(tp, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "timeout abort", func() bool {
		d, err := n.DescribeTxns(ctx, []string{"tx"})
		return err == nil && d["tx"].State == cluster.TxnCompleteAbort && d["tx"].Epoch == epoch+1
	})
	if err := c.end(true); !errors.Is(err, cluster.ErrProducerFenced) {
		t.Fatalf("commit after the timeout: %v, want fenced", err)
	}
	wantCommitted(t, tc, tp, nil)
	pid2, epoch2, err := n.InitTxnProducer(ctx, cluster.TxnInit{ID: "tx", TimeoutMs: 60000, ProducerID: pid, Epoch: epoch})
	if err != nil || pid2 != pid || epoch2 != epoch+1 {
		t.Fatalf("recovery after the timeout: %d/%d %v, want %d/%d", pid2, epoch2, err, pid, epoch+1)
	}
}

// Offsets committed in a transaction become the group's only with its
// commit; an abort drops them. Until the decision they are pending
// (OffsetFetch's RequireStable).
func TestTxnOffsetsVisibleOnlyWithCommit(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "in", 1)
	tp := cluster.TopicPartition{Topic: "in"}
	c := newTxnClient(t, tc, "tx")
	commitIn := func(off int64, commit bool) {
		t.Helper()
		err := c.retry("offsets", func(ctx context.Context, n *cluster.Node) error {
			if err := n.AddTxnOffsets(ctx, c.producer(), "g"); err != nil {
				return err
			}
			return n.CommitTxnOffsets(ctx, c.producer(), "g", map[cluster.TopicPartition]cluster.OffsetCommit{tp: {Offset: off}})
		})
		if err != nil {
			t.Fatal(err)
		}
		n := tc.coordinator()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		got, err := n.FetchOffsets(ctx, "g")
		if err != nil || got[tp].Offset == off {
			t.Fatalf("offset %d visible before the decision: %+v %v", off, got, err)
		}
		if !n.PendingTxnOffsets("g")[tp] {
			t.Fatal("transactional offset not pending")
		}
		if err := c.end(commit); err != nil {
			t.Fatal(err)
		}
		if n.PendingTxnOffsets("g")[tp] {
			t.Fatal("offset still pending after the decision")
		}
	}
	commitIn(5, true)
	commitIn(9, false)
	for _, id := range tc.ids {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		got, err := tc.node(id).FetchOffsets(ctx, "g")
		cancel()
		if err != nil || got[tp].Offset != 5 {
			t.Fatalf("node %d: group offsets %+v %v, want 5", id, got, err)
		}
	}
}

// A coordinator that decided a commit but could not write a marker dies;
// the next __meta leader writes it from the replicated PrepareCommit.
func TestTxnCoordinatorFailoverFinishesPrepared(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "t", 3)
	c := newTxnClient(t, tc, "tx")
	coord := tc.coordinator()
	tp, leader := tc.partitionAwayFrom("t", 3, coord.NodeID())
	if err := c.add(tp); err != nil {
		t.Fatal(err)
	}
	if _, err := c.send(tp, 7); err != nil {
		t.Fatal(err)
	}
	// The coordinator cannot reach the partition's leader, which keeps
	// leading with the third node.
	tc.net.Cut(uint64(coord.NodeID()), uint64(leader.NodeID()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	err := coord.EndTxn(ctx, c.producer(), true)
	cancel()
	if !errors.Is(err, cluster.ErrConcurrentTransactions) {
		t.Fatalf("EndTxn without its marker: %v, want CONCURRENT_TRANSACTIONS (still preparing)", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	d, err := coord.DescribeTxns(ctx, []string{"tx"})
	cancel()
	if err != nil || d["tx"].State != cluster.TxnPrepareCommit {
		t.Fatalf("after the timeout: %+v %v, want PrepareCommit", d, err)
	}
	tc.stop(uint64(coord.NodeID()))
	tc.net.Heal()
	wantCommitted(t, tc, tp, []int64{7})
	next := tc.coordinator()
	waitFor(t, 10*time.Second, "completed", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		d, err := next.DescribeTxns(ctx, []string{"tx"})
		return err == nil && d["tx"].State == cluster.TxnCompleteCommit
	})
}

// A replica that was down while transactions ran catches up from a
// snapshot and derives the same open transactions and aborted index.
func TestTxnStateThroughSnapshot(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *cluster.Config) { c.SnapshotEntries = 8 })
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "t", 1)
	tp := cluster.TopicPartition{Topic: "t"}
	var lagger uint64
	waitFor(t, 10*time.Second, "a follower", func() bool {
		l := tc.leaderOf(tp)
		c := tc.coordinator()
		for _, id := range tc.ids {
			if l != nil && int32(id) != l.NodeID() && int32(id) != c.NodeID() {
				lagger = id
				return true
			}
		}
		return false
	})
	tc.stop(lagger)
	c := newTxnClient(t, tc, "tx")
	var want []int64
	for i := range int64(12) {
		if err := c.add(tp); err != nil {
			t.Fatal(err)
		}
		if _, err := c.send(tp, i); err != nil {
			t.Fatal(err)
		}
		if err := c.end(i%3 != 0); err != nil {
			t.Fatal(err)
		}
		if i%3 != 0 {
			want = append(want, i)
		}
	}
	if err := c.add(tp); err != nil {
		t.Fatal(err)
	}
	open, err := c.send(tp, 99)
	if err != nil {
		t.Fatal(err)
	}
	tc.start(lagger)
	tc.waitReady(20 * time.Second)
	wantCommitted(t, tc, tp, want)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lso, _, _, err := tc.node(lagger).ListOffset(ctx, tp, -1, true)
	if err != nil || lso != open {
		t.Fatalf("restored replica's last stable offset %d (%v), want %d", lso, err, open)
	}
}
