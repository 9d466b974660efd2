package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// The counters a chaos run reads for its coverage section count what they
// say: refused duplicates and rejected produces on the node answering,
// follower reads on a non-leader, commits on the coordinator.
func TestCoverageCounters(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "t", 1)
	tp := cluster.TopicPartition{Topic: "t"}
	waitFor(t, 20*time.Second, "preferred leader", func() bool { l := tc.leaderOf(tp); return l != nil && l.NodeID() == 1 })
	leader := tc.node(1)
	b := makeBatch(1, 7, 0, 0)
	for range 2 { // the second is a retry of the first
		if _, err := tc.produce(tp, b, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	follower := tc.node(2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := follower.Produce(ctx, tp, makeBatch(2, -1, 0, 0), -1); err == nil {
		t.Fatal("a follower accepted a produce")
	}
	if _, err := follower.Fetch(ctx, tp, 0, 1<<20); err != nil {
		t.Fatal(err)
	}
	meta := tc.node(uint64(metaLeader(t, tc)))
	if err := meta.CommitOffsets(ctx, "g", map[cluster.TopicPartition]cluster.OffsetCommit{tp: {Offset: 1}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		node   *cluster.Node
		metric string
		want   float64
	}{
		{leader, "chronik_produce_duplicates_refused_total", 1},
		{follower, "chronik_produce_rejected_total", 1},
		{follower, "chronik_follower_reads_total", 1},
		{leader, "chronik_follower_reads_total", 0},
		{meta, "chronik_offset_commits_total", 1},
	}
	for _, tt := range tests {
		if got := counterValueOr0(t, tt.node, tt.metric); got != tt.want {
			t.Errorf("node %d %s = %v, want %v", tt.node.NodeID(), tt.metric, got, tt.want)
		}
	}
}

// metaLeader is the id of the node leading __meta.
func metaLeader(t *testing.T, tc *testCluster) int32 {
	var id int32
	waitFor(t, 10*time.Second, "__meta leader", func() bool {
		for _, nid := range tc.ids {
			n := tc.node(nid)
			for _, g := range n.Status().RaftGroups {
				if g.ID == cluster.MetaGroupID && g.Role == "StateLeader" {
					id = n.NodeID()
					return true
				}
			}
		}
		return false
	})
	return id
}

// counterValueOr0 is counterValue for series that exist only once
// counted (labelled counters).
func counterValueOr0(t *testing.T, n *cluster.Node, name string) float64 {
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
	return 0
}
