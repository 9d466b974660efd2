package cluster_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// BenchmarkProduce measures acks=all produce through Raft (fsync included)
// with concurrent producers, on one node and on three nodes over memnet.
// Concurrency shows group commit: one Ready carries many proposals, and
// pebble merges the groups' synced commits.
func BenchmarkProduce(b *testing.B) {
	for _, bc := range []struct {
		nodes      int
		sequential bool
	}{{1, false}, {3, false}, {1, true}, {3, true}} {
		nodes, sequential := bc.nodes, bc.sequential
		name := map[int]string{1: "standalone", 3: "3-nodes-memnet"}[nodes]
		if sequential {
			name += "/latency"
		} else {
			name += "/16-concurrent"
		}
		b.Run(name, func(b *testing.B) {
			tc := newTestCluster(b, nodes, nil)
			tc.startAll()
			tc.waitReady(10 * time.Second)
			tc.createTopic(1, "bench", 1)
			tp := cluster.TopicPartition{Topic: "bench"}
			if _, err := tc.produce(tp, makeBatch(0, -1, 0, 0), 10*time.Second); err != nil {
				b.Fatal(err)
			}
			// Let leadership settle on the preferred replica (node 1 for
			// partition 0) so no transfer happens during the run.
			var l *cluster.Node
			waitFor(b, 20*time.Second, "preferred leader", func() bool { l = tc.leaderOf(tp); return l != nil && l.NodeID() == 1 })
			batch := makeBatch(1, -1, 0, 0)
			if sequential {
				// One producer, one request at a time: latency.
				lat := make([]time.Duration, 0, b.N)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					start := time.Now()
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_, err := l.Produce(ctx, tp, batch, -1)
					cancel()
					if err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
				return
			}
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
