package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// Each seeded bug (Config.Unsafe) changes observable behaviour; every case runs
// the same scenario with the flag off and on.
func TestUnsafeFlagsChangeBehaviour(t *testing.T) {
	tp := cluster.TopicPartition{Topic: "t"}
	// isolatedLeader returns a 3-node cluster with one record committed
	// and the partition leader cut off.
	isolatedLeader := func(t *testing.T, mod func(*cluster.Config)) (*testCluster, *cluster.Node) {
		tc := newTestCluster(t, 3, mod)
		tc.startAll()
		tc.waitReady(10 * time.Second)
		tc.createTopic(1, "t", 1)
		if _, err := tc.produce(tp, makeBatch(1, -1, 0, 0), 20*time.Second); err != nil {
			t.Fatal(err)
		}
		// Wait for the preferred replica (node 1 for partition 0) to lead,
		// so no leadership transfer drops our proposals.
		var l *cluster.Node
		waitFor(t, 20*time.Second, "preferred leader", func() bool { l = tc.leaderOf(tp); return l != nil && l.NodeID() == 1 })
		tc.net.Isolate(uint64(l.NodeID()), tc.ids...)
		return tc, l
	}
	cases := []struct {
		name string
		set  func(*cluster.Unsafe)
		// run returns true when the correct behaviour was observed.
		run func(t *testing.T, unsafe bool, set func(*cluster.Unsafe)) bool
	}{
		{"ack-before-commit", func(u *cluster.Unsafe) { u.AckBeforeCommit = true }, func(t *testing.T, unsafe bool, set func(*cluster.Unsafe)) bool {
			_, l := isolatedLeader(t, modUnsafe(unsafe, set, nil))
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_, err := l.Produce(ctx, tp, makeBatch(2, -1, 0, 0), -1)
			return err != nil // an isolated leader cannot commit
		}},
		{"stale-reads", func(u *cluster.Unsafe) { u.StaleReads = true }, func(t *testing.T, unsafe bool, set func(*cluster.Unsafe)) bool {
			tc, old := isolatedLeader(t, modUnsafe(unsafe, set, nil))
			// The majority writes a second record.
			waitFor(t, 10*time.Second, "majority write", func() bool {
				for _, id := range tc.ids {
					if int32(id) == old.NodeID() {
						continue
					}
					ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
					_, err := tc.node(id).Produce(ctx, tp, makeBatch(2, -1, 0, 0), -1)
					cancel()
					if err == nil {
						return true
					}
				}
				return false
			})
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			r, err := old.Fetch(ctx, tp, 0, 1<<20)
			return err != nil || r.HighWatermark == 2
		}},
		{"follower-local-reads", func(u *cluster.Unsafe) { u.FollowerLocalReads = true }, func(t *testing.T, unsafe bool, set func(*cluster.Unsafe)) bool {
			tc, l := isolatedLeader(t, modUnsafe(unsafe, set, nil))
			// Heal the leader and cut a follower off instead: the leader
			// keeps leading and commits a second record without it.
			tc.net.Heal()
			follower := tc.node(2)
			tc.net.Isolate(2, tc.ids...)
			waitFor(t, 10*time.Second, "write without the follower", func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				defer cancel()
				_, err := l.Produce(ctx, tp, makeBatch(2, -1, 0, 0), -1)
				return err == nil
			})
			// A linearizable follower read cannot complete (or sees the
			// second record); a local one answers from the old copy.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			r, err := follower.Fetch(ctx, tp, 0, 1<<20)
			return err != nil || r.HighWatermark >= 2
		}},
		{"offset-ack-before-commit", func(u *cluster.Unsafe) { u.OffsetAckBeforeCommit = true }, func(t *testing.T, unsafe bool, set func(*cluster.Unsafe)) bool {
			// A long election timeout keeps the cut-off coordinator in
			// office while it answers.
			tc := newTestCluster(t, 3, modUnsafe(unsafe, set, func(c *cluster.Config) { c.ElectionTicks = 100 }))
			tc.startAll()
			tc.waitReady(20 * time.Second)
			var c *cluster.Node
			waitFor(t, 20*time.Second, "coordinator", func() bool {
				for _, id := range tc.ids {
					if n := tc.node(id); n.CoordinatorID() == n.NodeID() {
						c = n
						return true
					}
				}
				return false
			})
			tc.net.Isolate(uint64(c.NodeID()), tc.ids...)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err := c.CommitOffsets(ctx, "g", map[cluster.TopicPartition]cluster.OffsetCommit{tp: {Offset: 7}})
			return err != nil // a coordinator without its quorum cannot commit
		}},
		{"uncommitted-reads", func(u *cluster.Unsafe) { u.UncommittedReads = true }, func(t *testing.T, unsafe bool, set func(*cluster.Unsafe)) bool {
			// A long election timeout keeps the cut-off leader in office
			// while we look.
			_, l := isolatedLeader(t, modUnsafe(unsafe, set, func(c *cluster.Config) { c.ElectionTicks = 100 }))
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			_, err := l.Produce(ctx, tp, makeBatch(2, -1, 0, 0), -1)
			cancel()
			if err == nil {
				t.Fatal("isolated leader committed")
			}
			ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			r, err := l.Fetch(ctx, tp, 0, 1<<20)
			return err != nil || r.HighWatermark == 1
		}},
		{"no-dedup", func(u *cluster.Unsafe) { u.NoDedup = true }, func(t *testing.T, unsafe bool, set func(*cluster.Unsafe)) bool {
			tc := newTestCluster(t, 1, modUnsafe(unsafe, set, nil))
			tc.start(1)
			tc.waitReady(5 * time.Second)
			tc.createTopic(1, "t", 1)
			b := makeBatch(1, 7, 0, 0)
			off1, err := tc.produce(tp, b, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			off2, err := tc.produce(tp, b, 5*time.Second) // tolerates duplicate-as-success
			if err != nil {
				t.Fatal(err)
			}
			return off1 == off2
		}},
		{"dedup-last-batch", func(u *cluster.Unsafe) { u.DedupLastBatch = true }, func(t *testing.T, unsafe bool, set func(*cluster.Unsafe)) bool {
			// Three batches of one producer, then a retry of the first,
			// as a producer with several requests in flight sends when
			// their responses were lost: Kafka remembers five batches,
			// so the retry is a duplicate answered with its first offset.
			tc := newTestCluster(t, 1, modUnsafe(unsafe, set, nil))
			tc.start(1)
			tc.waitReady(5 * time.Second)
			tc.createTopic(1, "t", 1)
			var first int64
			for seq := int32(0); seq < 3; seq++ {
				off, err := tc.produce(tp, makeBatch(int64(seq), 7, 0, seq), 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if seq == 0 {
					first = off
				}
			}
			again, err := tc.produce(tp, makeBatch(0, 7, 0, 0), 5*time.Second) // tolerates duplicate-as-success
			if err != nil {
				t.Fatal(err)
			}
			return again == first
		}},
		{"registration-attempts", func(u *cluster.Unsafe) { u.RegistrationAttempts = 3 }, func(t *testing.T, unsafe bool, set func(*cluster.Unsafe)) bool {
			tc := newTestCluster(t, 3, modUnsafe(unsafe, set, nil))
			n := tc.start(1) // alone: no quorum
			select {
			case err := <-n.Fatal():
				t.Logf("fatal: %v", err)
				return false
			case <-time.After(3 * time.Second):
				return true
			}
		}},
		{"forget-hardstate", func(u *cluster.Unsafe) { u.ForgetHardState = true }, func(t *testing.T, unsafe bool, set func(*cluster.Unsafe)) bool {
			tc := newTestCluster(t, 3, modUnsafe(unsafe, set, nil))
			tc.startAll()
			tc.waitReady(10 * time.Second)
			var target uint64
			var vote uint64
			for _, id := range tc.ids {
				for _, g := range tc.node(id).Status().RaftGroups {
					if g.ID == cluster.MetaGroupID && g.Vote != 0 {
						target, vote = id, g.Vote
					}
				}
			}
			if target == 0 {
				t.Fatal("no node voted in __meta")
			}
			tc.stopAll()
			// Alone, the node cannot even pre-vote, so its term stays.
			n := tc.start(target)
			for _, g := range n.Status().RaftGroups {
				if g.ID == cluster.MetaGroupID {
					return g.Vote == vote
				}
			}
			t.Fatal("no __meta group")
			return false
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Run("off", func(t *testing.T) {
				if !c.run(t, false, c.set) {
					t.Fatal("the correct broker misbehaved")
				}
			})
			t.Run("on", func(t *testing.T) {
				if c.run(t, true, c.set) {
					t.Fatal("the seeded bug had no effect")
				}
			})
		})
	}
	_ = errors.Is
}

func modUnsafe(on bool, set func(*cluster.Unsafe), more func(*cluster.Config)) func(*cluster.Config) {
	return func(c *cluster.Config) {
		if on {
			set(&c.Unsafe)
		}
		if more != nil {
			more(c)
		}
	}
}
