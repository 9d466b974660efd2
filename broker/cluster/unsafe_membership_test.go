package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// TestUnsafePromoteEarly: with one of three voters down, a node is added
// that has not started (or is still receiving its snapshot). As a learner
// it does not count, so the two live voters keep committing; promoted
// early (Unsafe.PromoteEarly) it counts in a four-voter quorum that the two
// cannot reach, and every write stalls until the new node caught up.
func TestUnsafePromoteEarly(t *testing.T) {
	tp := cluster.TopicPartition{Topic: "early"}
	for _, unsafe := range []bool{false, true} {
		name := map[bool]string{false: "correct", true: "unsafe"}[unsafe]
		t.Run(name, func(t *testing.T) {
			tc := newTestCluster(t, 3, modUnsafe(unsafe, func(u *cluster.Unsafe) { u.PromoteEarly = true }, nil))
			tc.startAll()
			tc.waitReady(10 * time.Second)
			tc.createTopic(1, "early", 1)
			if _, err := tc.produce(tp, makeBatch(1, -1, 0, 0), 10*time.Second); err != nil {
				t.Fatal(err)
			}
			tc.stop(2)
			waitFor(t, 10*time.Second, "leaders without node 2", func() bool { return tc.leaderOf(tp) != nil && tc.metaLeader() != nil })
			err := tc.memberOp(10*time.Second, "add member 4", func(ctx context.Context, l *cluster.Node) error {
				_, err := l.AddMember(ctx, cluster.MemberSpec{ID: 4, RaftAddr: "mem-4:1"})
				return err
			})
			if err != nil {
				t.Fatalf("add member 4 (not started): %v", err)
			}
			time.Sleep(500 * time.Millisecond) // the reconcilers act
			_, err = tc.produce(tp, makeBatch(2, -1, 0, 0), 3*time.Second)
			stalled := err != nil
			if stalled != unsafe {
				t.Fatalf("writes stalled = %v (err %v), want %v", stalled, err, unsafe)
			}
			if unsafe {
				// The new node catching up ends the stall: the bug costs
				// availability, which is all it can cost under Raft.
				tc.startJoin(4)
				if _, err := tc.produce(tp, makeBatch(3, -1, 0, 0), 20*time.Second); err != nil {
					t.Fatalf("writes did not resume once node 4 caught up: %v", err)
				}
			}
		})
	}
}
