package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

func TestStandaloneProduceFetchRestart(t *testing.T) {
	tc := newTestCluster(t, 1, nil)
	n := tc.start(1)
	tc.waitReady(5 * time.Second)
	waitFor(t, 5*time.Second, "chronik-default", func() bool { _, ok := n.Topic(cluster.DefaultTopic); return ok })
	tc.createTopic(1, "t", 2)
	tp := cluster.TopicPartition{Topic: "t", Partition: 1}
	ctx := context.Background()
	for i := range 20 {
		off, err := tc.produce(tp, makeBatch(int64(i), -1, 0, 0), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if off != int64(i) {
			t.Fatalf("record %d got offset %d", i, off)
		}
	}
	got, hw, err := readAll(ctx, n, tp)
	if err != nil || hw != 20 || len(got) != 20 {
		t.Fatalf("read: %v hw %d n %d", err, hw, len(got))
	}
	tc.stop(1)
	n = tc.start(1)
	tc.waitReady(5 * time.Second)
	got, hw, err = readAll(ctx, n, tp)
	if err != nil || hw != 20 || len(got) != 20 || got[7] != 7 {
		t.Fatalf("after restart: %v hw %d n %d", err, hw, len(got))
	}
	if off, _, _, err := n.ListOffset(ctx, tp, -1, false); err != nil || off != 20 {
		t.Fatalf("list offset latest %d %v", off, err)
	}
}
