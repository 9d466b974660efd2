package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

func TestDeleteAndRecreateTopic(t *testing.T) {
	tc := newTestCluster(t, 3, nil)
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "d", 2)
	tp := cluster.TopicPartition{Topic: "d", Partition: 1}
	for i := range 3 {
		if _, err := tc.produce(tp, makeBatch(int64(i), 5, 0, int32(i)), 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := tc.node(3).DeleteTopics(ctx, []string{"d", "missing"})
	if errs[0] != nil || !errors.Is(errs[1], cluster.ErrUnknownTopic) {
		t.Fatalf("delete: %v", errs)
	}
	for _, id := range tc.ids {
		n := tc.node(id)
		waitFor(t, 5*time.Second, fmt.Sprintf("node %d dropped the topic", id), func() bool {
			if _, ok := n.Topic("d"); ok {
				return false
			}
			for _, g := range n.Status().RaftGroups {
				if g.Name == "d/0" || g.Name == "d/1" {
					return false
				}
			}
			return true
		})
		if _, err := n.Fetch(ctx, tp, 0, 1<<20); !errors.Is(err, cluster.ErrUnknownTopic) {
			t.Fatalf("node %d fetch of a deleted topic: %v", id, err)
		}
	}
	// The name is free again and the new topic starts from offset 0.
	tc.createTopic(2, "d", 2)
	off, err := tc.produce(tp, makeBatch(9, 6, 0, 0), 10*time.Second)
	if err != nil || off != 0 {
		t.Fatalf("recreated topic: offset %d err %v", off, err)
	}
}
