package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// BenchmarkProduceFaultFS is BenchmarkProduce's concurrent acks=all
// produce on the plain disk and on the fault-injection file system
// (--fault-fs) in the same run: the cost of recording what was synced.
func BenchmarkProduceFaultFS(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		for _, faultFS := range []bool{false, true} {
			name := map[int]string{1: "standalone", 3: "3-nodes-memnet"}[nodes] + map[bool]string{false: "/plain", true: "/fault-fs"}[faultFS]
			b.Run(name, func(b *testing.B) {
				tc := newTestCluster(b, nodes, func(c *cluster.Config) { c.FaultFS = faultFS })
				tc.startAll()
				tc.waitReady(10 * time.Second)
				tc.createTopic(1, "bench", 1)
				tp := cluster.TopicPartition{Topic: "bench"}
				if _, err := tc.produce(tp, makeBatch(0, -1, 0, 0), 10*time.Second); err != nil {
					b.Fatal(err)
				}
				var l *cluster.Node
				waitFor(b, 20*time.Second, "preferred leader", func() bool { l = tc.leaderOf(tp); return l != nil && l.NodeID() == 1 })
				batch := makeBatch(1, -1, 0, 0)
				b.ReportAllocs()
				b.SetParallelism(8)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
						_, err := l.Produce(ctx, tp, batch, -1)
						cancel()
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
