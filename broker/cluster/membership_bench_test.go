package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// prodTiming is the production Raft timing (50 ms tick, 10 election
// ticks): membership changes pace themselves by ticks.
func prodTiming(c *cluster.Config) {
	c.TickInterval = 50 * time.Millisecond
	c.ElectionTicks = 10
}

// BenchmarkAddMember measures the time to add a node to a 3-node cluster
// whose topic has the given number of partitions, each holding 1000
// records (snapshots and logs to ship), from POST to "voter in every
// group" in the records. Each iteration adds a fresh node, then removes it
// again (untimed).
func BenchmarkAddMember(b *testing.B) {
	for _, parts := range []int32{1, 8, 32} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			tc := newTestCluster(b, 3, func(c *cluster.Config) { prodTiming(c); c.SnapshotEntries = 500 })
			tc.startAll()
			tc.waitReady(20 * time.Second)
			tc.createTopic(1, "add", parts)
			fill(b, tc, "add", parts, 1000)
			next := uint64(10)
			var took []time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				id := next
				next++
				b.StopTimer()
				tc.startJoin(id)
				b.StartTimer()
				start := time.Now()
				tc.addMember(id, 0, 60*time.Second)
				took = append(took, time.Since(start))
				b.StopTimer()
				tc.removeMember(id, 60*time.Second)
				tc.stopWhenRemoved(id)
				b.StartTimer()
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "median-ms")
			b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "max-ms")
		})
	}
}

// fill writes n records to every partition of topic.
func fill(b *testing.B, tc *testCluster, topic string, parts int32, n int) {
	var wg sync.WaitGroup
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tp := cluster.TopicPartition{Topic: topic, Partition: p}
			for i := range n {
				if _, err := tc.produce(tp, makeBatch(int64(i), -1, 0, 0), 20*time.Second); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkReplaceUnderLoad replaces node 3 of a 3-node cluster by a fresh
// node in one atomic step (replaces) while 8 producers (two per partition,
// acks=all) write as fast as they can, and reports the throughput before
// and during the replace and the longest time without any acknowledged
// write during it.
func BenchmarkReplaceUnderLoad(b *testing.B) {
	tc := newTestCluster(b, 3, func(c *cluster.Config) { prodTiming(c); c.SnapshotEntries = 2000 })
	tc.startAll()
	tc.waitReady(20 * time.Second)
	const parts = 4
	tc.createTopic(1, "replace", parts)
	var acks atomic.Int64
	var mu sync.Mutex
	var ackTimes []time.Time
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := range int32(parts) {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tp := cluster.TopicPartition{Topic: "replace", Partition: p}
				for i := int64(0); ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					l := tc.leaderOf(tp)
					if l == nil {
						time.Sleep(5 * time.Millisecond)
						continue
					}
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					_, err := l.Produce(ctx, tp, makeBatch(i, -1, 0, 0), -1)
					cancel()
					if err == nil {
						acks.Add(1)
						mu.Lock()
						ackTimes = append(ackTimes, time.Now())
						mu.Unlock()
					}
				}
			}()
		}
	}
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(time.Second) // warm up
	old := uint64(3)
	next := uint64(10)
	var sumSteady, sumDuring float64
	var sumEl, maxGap time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		a0 := acks.Load()
		time.Sleep(2 * time.Second)
		steady := float64(acks.Load()-a0) / 2
		id := next
		next++
		tc.startJoin(id)
		b.StartTimer()
		start := time.Now()
		a1 := acks.Load()
		tc.addMember(id, old, 60*time.Second)
		tc.waitMemberState(old, cluster.MemberRemoved, 60*time.Second)
		el := time.Since(start)
		during := float64(acks.Load()-a1) / el.Seconds()
		b.StopTimer()
		mu.Lock()
		gap, last := time.Duration(0), start
		for _, at := range ackTimes {
			if at.Before(start) {
				continue
			}
			if at.After(start.Add(el)) {
				break
			}
			gap, last = max(gap, at.Sub(last)), at
		}
		gap = max(gap, start.Add(el).Sub(last))
		ackTimes = ackTimes[:0]
		mu.Unlock()
		tc.stopWhenRemoved(old)
		old = id
		sumSteady, sumDuring, sumEl, maxGap = sumSteady+steady, sumDuring+during, sumEl+el, max(maxGap, gap)
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(sumSteady/n, "steady-rec/s")
	b.ReportMetric(sumDuring/n, "during-replace-rec/s")
	b.ReportMetric(float64(sumEl.Milliseconds())/n, "replace-ms")
	b.ReportMetric(float64(maxGap.Milliseconds()), "longest-gap-ms")
}
