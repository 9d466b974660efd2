package cluster_test

import (
	"slices"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// BenchmarkFailover measures, with the production timing (50 ms tick, 10
// election ticks), the time from stopping a partition's leader to the
// first acknowledged produce on the new leader. Each iteration kills the
// current leader, measures, and restarts the killed node.
func BenchmarkFailover(b *testing.B) {
	tc := newTestCluster(b, 3, func(c *cluster.Config) {
		c.TickInterval = 50 * time.Millisecond
		c.ElectionTicks = 10
	})
	tc.startAll()
	tc.waitReady(20 * time.Second)
	tc.createTopic(1, "f", 1)
	tp := cluster.TopicPartition{Topic: "f"}
	if _, err := tc.produce(tp, makeBatch(0, -1, 0, 0), 20*time.Second); err != nil {
		b.Fatal(err)
	}
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		var l *cluster.Node
		waitFor(b, 20*time.Second, "leader", func() bool { l = tc.leaderOf(tp); return l != nil })
		id := uint64(l.NodeID())
		b.StartTimer()
		start := time.Now()
		tc.stop(id)
		if _, err := tc.produce(tp, makeBatch(int64(i+1), -1, 0, 0), 20*time.Second); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
		b.StopTimer()
		tc.start(id)
		tc.waitReady(20 * time.Second)
		b.StartTimer()
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "median-ms")
	b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "max-ms")
}
