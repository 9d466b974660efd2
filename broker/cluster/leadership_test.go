package cluster_test

import (
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// TestLeadershipMovesBackToReturnedNode: partition p prefers node p%3+1.
// Startup placement is immediate; a preferred node that was away gets its
// partitions back only through the balancer: not before it has been back
// for a whole check interval, one partition at a time at least half an
// interval apart, only while more than the percentage of its partitions
// are led elsewhere, and never with a negative interval.
func TestLeadershipMovesBackToReturnedNode(t *testing.T) {
	const interval = time.Second
	tests := []struct {
		name     string
		interval time.Duration
		percent  int
		// back is how many of node 2's two partitions return to it.
		back int
	}{
		{"both back one at a time", interval, 0, 2},
		{"stops at the threshold", interval, 60, 1},
		{"never with a negative interval", -1, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTestCluster(t, 3, func(cfg *cluster.Config) {
				cfg.LeaderImbalanceCheckInterval, cfg.LeaderImbalancePercentage = tc.interval, tc.percent
			})
			c.startAll()
			c.waitReady(10 * time.Second)
			c.createTopic(1, "lb", 6)
			tps := make([]cluster.TopicPartition, 6)
			for p := range tps {
				tps[p] = cluster.TopicPartition{Topic: "lb", Partition: int32(p)}
			}
			leader := func(p int) uint64 {
				if n := c.leaderOf(tps[p]); n != nil {
					return uint64(n.NodeID())
				}
				return 0
			}
			waitFor(t, 20*time.Second, "every partition on its preferred node", func() bool {
				for p := range tps {
					if leader(p) != uint64(p%3+1) {
						return false
					}
				}
				return true
			})

			c.stop(2)
			waitFor(t, 20*time.Second, "node 2's partitions led elsewhere", func() bool {
				return leader(1) > 0 && leader(4) > 0
			})
			time.Sleep(time.Second) // away: silent for longer than awayElectionTimeouts
			restart := time.Now()
			c.start(2)
			arrived := map[int]time.Time{}
			deadline := time.Now().Add(10*interval + 10*time.Second)
			for len(arrived) < 2 && time.Now().Before(deadline) {
				for _, p := range []int{1, 4} {
					if _, ok := arrived[p]; !ok && leader(p) == 2 {
						arrived[p] = time.Now()
					}
				}
				if tc.back < 2 && len(arrived) == tc.back && time.Since(restart) > 3*interval+2*time.Second {
					break // the others stay: waited long enough
				}
				time.Sleep(5 * time.Millisecond)
			}
			if len(arrived) != tc.back {
				t.Fatalf("%d of node 2's partitions came back (%v), want %d", len(arrived), arrived, tc.back)
			}
			var times []time.Time
			for p, at := range arrived {
				if at.Sub(restart) < interval {
					t.Errorf("partition %d back %v after the restart, before a whole check interval (%v)", p, at.Sub(restart), interval)
				}
				times = append(times, at)
			}
			if len(times) == 2 {
				gap := times[0].Sub(times[1]).Abs()
				// The second move waits half an interval after the
				// first arrival its node saw (sampled every 100 ms).
				if gap < interval/2-50*time.Millisecond {
					t.Errorf("moves %v apart, want at least half a check interval (%v)", gap, interval/2)
				}
				t.Logf("back after %v and %v", times[0].Sub(restart).Round(time.Millisecond), times[1].Sub(restart).Round(time.Millisecond))
			}
		})
	}
}
