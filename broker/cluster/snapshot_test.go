package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// lagScenario writes before records to t/0, stops a follower, writes
// writes more records one after another through the leader, restarts the follower and waits until it
// applied the leader's index. It returns the leader, the follower and what
// each holds (offset -> value, read linearizably through that node).
func lagScenario(t *testing.T, mod func(*cluster.Config), before, writes int) (leader, lagging *cluster.Node, onLeader, onLagging map[int64]int64) {
	t.Helper()
	tc := newTestCluster(t, 3, mod)
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "t", 1)
	tp := cluster.TopicPartition{Topic: "t"}
	// The preferred replica of partition 0 is node 1: wait for it, so no
	// leadership transfer happens while the follower is down.
	waitFor(t, 20*time.Second, "preferred leader", func() bool { l := tc.leaderOf(tp); return l != nil && l.NodeID() == 1 })
	for i := 0; i <= before; i++ {
		if _, err := tc.produce(tp, makeBatch(int64(-i), -1, 0, 0), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	const down = 3
	tc.stop(down)
	for i := 1; i <= writes; i++ {
		if _, err := tc.produce(tp, makeBatch(int64(i), -1, 0, 0), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	leader = tc.node(1)
	want := appliedOf(leader, "t/0")
	lagging = tc.start(down)
	waitFor(t, 20*time.Second, "restarted follower applied the leader's index", func() bool { return appliedOf(lagging, "t/0") >= want })
	read := func(n *cluster.Node) map[int64]int64 {
		var got map[int64]int64
		waitFor(t, 10*time.Second, "linearizable read", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			var err error
			got, _, err = readAll(ctx, n, tp)
			return err == nil
		})
		return got
	}
	return leader, lagging, read(leader), read(lagging)
}

func appliedOf(n *cluster.Node, group string) uint64 {
	for _, g := range n.Status().RaftGroups {
		if g.Name == group {
			return g.Applied
		}
	}
	return 0
}

// A compaction keeps SnapshotCatchUpEntries entries: a follower that
// missed fewer catches up from the log, one that missed more gets a
// snapshot. Counters of both sides say which path ran.
func TestSnapshotCatchUpEntries(t *testing.T) {
	tests := []struct {
		name           string
		entries, keep  uint64
		before, writes int
		wantSnapshot   bool
		minCompactions float64
	}{
		// Compactions at about 151 and 201 keep the 100 entries below
		// them; the follower stopped near 100.
		{name: "lag within the kept entries", entries: 50, keep: 100, before: 100, writes: 120, wantSnapshot: false, minCompactions: 2},
		{name: "lag beyond the kept entries", entries: 50, keep: 20, before: 10, writes: 200, wantSnapshot: true, minCompactions: 2},
		{name: "no entries kept", entries: 50, keep: 0, before: 10, writes: 120, wantSnapshot: true, minCompactions: 2},
		{name: "default thresholds never compact", entries: 0, keep: 0, before: 10, writes: 120, wantSnapshot: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leader, lagging, onLeader, onLagging := lagScenario(t, func(c *cluster.Config) {
				c.SnapshotEntries, c.SnapshotCatchUpEntries = tt.entries, tt.keep
			}, tt.before, tt.writes)
			if len(onLagging) != tt.before+tt.writes+1 || fmt.Sprint(onLagging) != fmt.Sprint(onLeader) {
				t.Fatalf("restarted follower holds %d records, the leader %d; copies differ: %v", len(onLagging), len(onLeader), fmt.Sprint(onLagging) != fmt.Sprint(onLeader))
			}
			installed := counterValue(t, lagging, "chronik_raft_snapshots_applied_total")
			sent := counterValue(t, leader, "chronik_raft_snapshots_sent_total")
			if got := installed >= 1; got != tt.wantSnapshot {
				t.Fatalf("restarted follower installed %v snapshots (leader sent %v), want a snapshot: %v", installed, sent, tt.wantSnapshot)
			}
			if tt.wantSnapshot && sent < 1 {
				t.Fatalf("the follower installed a snapshot the leader did not count as sent")
			}
			if got := counterValue(t, leader, "chronik_raft_log_compactions_total"); got < tt.minCompactions {
				t.Fatalf("leader compacted %v times, want at least %v", got, tt.minCompactions)
			}
			if tt.entries == 0 {
				if got := counterValue(t, leader, "chronik_raft_log_compactions_total"); got != 0 {
					t.Fatalf("default thresholds compacted %v times in %d writes", got, tt.writes)
				}
			}
		})
	}
}

// The seeded bug Unsafe.SnapshotStaleState sends the state of the last
// compaction under the current applied index: the follower that installs
// it misses the records applied in between, and its copy of the partition
// differs from the leader's. With the default thresholds no compaction
// happens in a short run, so the bug never shows.
func TestUnsafeSnapshotStaleState(t *testing.T) {
	tests := []struct {
		name       string
		unsafe     bool
		entries    uint64
		wantDiffer bool
	}{
		{name: "off", unsafe: false, entries: 100, wantDiffer: false},
		{name: "on", unsafe: true, entries: 100, wantDiffer: true},
		{name: "on, default thresholds", unsafe: true, entries: 0, wantDiffer: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// 250 writes after two compactions (about entries 101 and
			// 201) leave about 50 applied entries after the last one.
			_, _, onLeader, onLagging := lagScenario(t, func(c *cluster.Config) {
				c.SnapshotEntries = tt.entries
				c.Unsafe.SnapshotStaleState = tt.unsafe
			}, 0, 250)
			differ := 0
			for off, v := range onLeader {
				if w, ok := onLagging[off]; !ok || w != v {
					differ++
				}
			}
			t.Logf("leader holds %d records, restarted follower %d, %d offsets differ", len(onLeader), len(onLagging), differ)
			if (differ > 0) != tt.wantDiffer {
				t.Fatalf("copies differ at %d offsets, want them to differ: %v", differ, tt.wantDiffer)
			}
		})
	}
}
