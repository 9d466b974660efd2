package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// Committed group offsets and producer ids live in __meta: they survive the
// coordinator's death, and producer ids stay unique across nodes.
func TestOffsetsAndProducerIDsSurviveCoordinatorLoss(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.startAll()
	tc.waitReady(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	coordinator := func() *cluster.Node {
		var c *cluster.Node
		waitFor(t, 10*time.Second, "coordinator", func() bool {
			for _, id := range tc.ids {
				n := tc.node(id)
				if n != nil && n.CoordinatorID() == n.NodeID() {
					c = n
					return true
				}
			}
			return false
		})
		return c
	}
	tp := cluster.TopicPartition{Topic: "t", Partition: 2}
	c := coordinator()
	for _, id := range tc.ids {
		if n := tc.node(id); n != c {
			if err := n.CommitOffsets(ctx, "g", map[cluster.TopicPartition]cluster.OffsetCommit{tp: {Offset: 1}}); !errors.Is(err, cluster.ErrNotLeader) {
				t.Fatalf("non-coordinator %d accepted a commit: %v", id, err)
			}
		}
	}
	if err := c.CommitOffsets(ctx, "g", map[cluster.TopicPartition]cluster.OffsetCommit{tp: {Offset: 42, Metadata: "m"}}); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, id := range tc.ids {
		pid, _, err := tc.node(id).InitProducerID(ctx)
		if err != nil || seen[pid] {
			t.Fatalf("producer id %d from node %d (err %v) not unique", pid, id, err)
		}
		seen[pid] = true
	}
	tc.stop(uint64(c.NodeID()))
	c2 := coordinator()
	got, err := c2.FetchOffsets(ctx, "g")
	if err != nil || got[tp].Offset != 42 || got[tp].Metadata != "m" {
		t.Fatalf("after failover: %+v %v", got, err)
	}
	if gs := c2.Groups(); len(gs) != 1 || gs[0] != "g" {
		t.Fatalf("groups %v", gs)
	}
	pid, _, err := c2.InitProducerID(ctx)
	if err != nil || seen[pid] {
		t.Fatalf("producer id %d after failover reused (err %v)", pid, err)
	}

	// Deleting offsets goes through __meta too: one partition, then the
	// whole group, seen the same way by every remaining node.
	tp3 := cluster.TopicPartition{Topic: "t", Partition: 3}
	if err := c2.CommitOffsets(ctx, "g", map[cluster.TopicPartition]cluster.OffsetCommit{tp3: {Offset: 7}}); err != nil {
		t.Fatal(err)
	}
	if err := c2.DeleteOffsets(ctx, "g", []cluster.TopicPartition{tp}); err != nil {
		t.Fatal(err)
	}
	for _, id := range tc.ids {
		n := tc.node(id)
		if n == nil || n == c {
			continue
		}
		waitFor(t, 10*time.Second, "partition offset deleted everywhere", func() bool {
			got, err := n.FetchOffsets(ctx, "g")
			_, has := got[tp]
			return err == nil && !has && got[tp3].Offset == 7
		})
	}
	if err := c2.DeleteOffsets(ctx, "g", nil); err != nil {
		t.Fatal(err)
	}
	if gs := c2.Groups(); len(gs) != 0 {
		t.Fatalf("groups after deleting g: %v", gs)
	}
}
