package cluster_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// checkAcked verifies every acknowledged (offset -> value) is readable,
// unchanged, through node n.
func checkAcked(t *testing.T, n *cluster.Node, tp cluster.TopicPartition, acked map[int64]int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got map[int64]int64
	var err error
	waitFor(t, 10*time.Second, "linearizable read", func() bool {
		got, _, err = readAll(ctx, n, tp)
		return err == nil
	})
	for off, v := range acked {
		if g, ok := got[off]; !ok || g != v {
			t.Fatalf("node %d: acknowledged record %d at offset %d reads as %d (present %v)", n.NodeID(), v, off, g, ok)
		}
	}
}

func TestLeaderKilledWhileProducing(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "t", 1)
	tp := cluster.TopicPartition{Topic: "t"}
	var mu sync.Mutex
	acked := map[int64]int64{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for v := int64(0); ; v++ {
			select {
			case <-stop:
				return
			default:
			}
			off, err := tc.produce(tp, makeBatch(v, -1, 0, 0), 5*time.Second)
			if err == nil {
				mu.Lock()
				acked[off] = v
				mu.Unlock()
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	var old *cluster.Node
	waitFor(t, 5*time.Second, "leader", func() bool { old = tc.leaderOf(tp); return old != nil })
	oldID := uint64(old.NodeID())
	tc.stop(oldID)
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	waitFor(t, 10*time.Second, "new leader and progress", func() bool {
		l := tc.leaderOf(tp)
		mu.Lock()
		defer mu.Unlock()
		return l != nil && uint64(l.NodeID()) != oldID && len(acked) > before+20
	})
	close(stop)
	wg.Wait()
	tc.start(oldID)
	for _, id := range tc.ids {
		checkAcked(t, tc.node(id), tp, acked)
	}
}

func TestMinorityCannotCommit(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "t", 1)
	tp := cluster.TopicPartition{Topic: "t"}
	if _, err := tc.produce(tp, makeBatch(1, -1, 0, 0), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	l := tc.leaderOf(tp)
	lid := uint64(l.NodeID())
	tc.net.Isolate(lid, tc.ids...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := l.Produce(ctx, tp, makeBatch(2, -1, 0, 0), -1)
	if err == nil {
		t.Fatal("isolated leader acknowledged a write")
	}
	// The majority elects a new leader and commits.
	waitFor(t, 10*time.Second, "majority leader", func() bool {
		for _, id := range tc.ids {
			if id == lid {
				continue
			}
			ti, _ := tc.node(id).Topic("t")
			if ld := ti.Partitions[0].Leader; ld > 0 && uint64(ld) != lid {
				return true
			}
		}
		return false
	})
	tc.net.Heal()
}

// A deposed leader behind a partition must not present its old high
// watermark as current: Fetch and ListOffsets fail (or block) instead.
func TestDeposedLeaderServesNoStaleHighWatermark(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "t", 1)
	tp := cluster.TopicPartition{Topic: "t"}
	if _, err := tc.produce(tp, makeBatch(1, -1, 0, 0), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	old := tc.leaderOf(tp)
	oldID := uint64(old.NodeID())
	tc.net.Isolate(oldID, tc.ids...)
	// The majority side moves on.
	var newL *cluster.Node
	waitFor(t, 10*time.Second, "new leader", func() bool {
		for _, id := range tc.ids {
			if id == oldID {
				continue
			}
			for _, g := range tc.node(id).Status().RaftGroups {
				if g.Name == "t/0" && g.Role == "StateLeader" {
					newL = tc.node(id)
					return true
				}
			}
		}
		return false
	})
	// Leadership may still move to the preferred replica on the majority
	// side: write through whichever majority node accepts.
	_ = newL
	for i := range 5 {
		waitFor(t, 10*time.Second, "majority write", func() bool {
			for _, id := range tc.ids {
				if id == oldID {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, err := tc.node(id).Produce(ctx, tp, makeBatch(int64(10+i), -1, 0, 0), -1)
				cancel()
				if err == nil {
					return true
				}
			}
			return false
		})
	}
	for _, tcase := range []string{"fetch", "list-offsets"} {
		t.Run(tcase, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			var hw int64
			var err error
			if tcase == "fetch" {
				var r cluster.FetchResult
				r, err = old.Fetch(ctx, tp, 0, 1<<20)
				hw = r.HighWatermark
			} else {
				hw, _, _, err = old.ListOffset(ctx, tp, -1, false)
			}
			if err == nil {
				t.Fatalf("deposed leader answered with high watermark %d (current is at least 6)", hw)
			}
			if !errors.Is(err, cluster.ErrNotLeader) && !errors.Is(err, cluster.ErrTimeout) {
				t.Fatalf("unexpected error %v", err)
			}
		})
	}
	tc.net.Heal()
}

func TestAllNodesRestartedKeepAcknowledged(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "t", 2)
	acked := map[cluster.TopicPartition]map[int64]int64{}
	for p := int32(0); p < 2; p++ {
		tp := cluster.TopicPartition{Topic: "t", Partition: p}
		acked[tp] = map[int64]int64{}
		for i := range 30 {
			off, err := tc.produce(tp, makeBatch(int64(i), -1, 0, 0), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			acked[tp][off] = int64(i)
		}
	}
	tc.stopAll()
	tc.startAll()
	tc.waitReady(10 * time.Second)
	for tp, a := range acked {
		for _, id := range tc.ids {
			checkAcked(t, tc.node(id), tp, a)
		}
	}
}

func TestLaggingNodeCatchesUpBySnapshot(t *testing.T) {
	tc := newTestCluster(t, 3, func(c *cluster.Config) { c.SnapshotEntries = 100 })
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "t", 1)
	tp := cluster.TopicPartition{Topic: "t"}
	if _, err := tc.produce(tp, makeBatch(0, -1, 0, 0), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// Stop a follower of the partition and write thousands of entries.
	var down uint64
	l := tc.leaderOf(tp)
	for _, id := range tc.ids {
		if int32(id) != l.NodeID() {
			down = id
			break
		}
	}
	tc.stop(down)
	acked := map[int64]int64{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				v := int64(w*1000 + i + 1)
				off, err := tc.produce(tp, makeBatch(v, -1, 0, 0), 5*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[off] = v
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	n := tc.start(down)
	waitFor(t, 20*time.Second, "lagging node applied everything", func() bool {
		for _, g := range n.Status().RaftGroups {
			if g.Name == "t/0" {
				return g.Applied >= 2400
			}
		}
		return false
	})
	checkAcked(t, n, tp, acked)
	if got := counterValue(t, n, "chronik_raft_snapshots_applied_total"); got < 1 {
		t.Fatalf("node %d caught up without a snapshot (applied %v)", down, got)
	}
}

func counterValue(t *testing.T, n *cluster.Node, name string) float64 {
	t.Helper()
	mfs, err := n.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			sum := 0.0
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}
