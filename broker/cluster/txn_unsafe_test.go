package cluster_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// Each seeded transaction bug changes what a read_committed reader sees;
// every case runs the same scenario with the flag off and on, like
// TestUnsafeFlagsChangeBehaviour.
func TestUnsafeTxnFlagsChangeBehaviour(t *testing.T) {
	cases := []struct {
		name string
		set  func(*cluster.Unsafe)
		// run returns true when the correct behaviour was observed.
		run func(t *testing.T, mod func(*cluster.Config)) bool
	}{
		{"lso-is-hw", func(u *cluster.Unsafe) { u.LSOIsHW = true }, func(t *testing.T, mod func(*cluster.Config)) bool {
			// An open transaction's record must stay invisible to
			// read_committed (it may still abort).
			tc := newTestCluster(t, 1, mod)
			tc.start(1)
			tc.waitReady(10 * time.Second)
			tc.createTopic(1, "t", 1)
			tp := cluster.TopicPartition{Topic: "t"}
			if _, err := tc.produce(tp, makeBatch(1, -1, 0, 0), 5*time.Second); err != nil {
				t.Fatal(err)
			}
			c := newTxnClient(t, tc, "tx")
			if err := c.add(tp); err != nil {
				t.Fatal(err)
			}
			if _, err := c.send(tp, 2); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, _, err := committedValues(ctx, tc.node(1), tp)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("read_committed with a transaction open: %v", got)
			return slices.Equal(got, []int64{1})
		}},
		{"commit-before-markers", func(u *cluster.Unsafe) { u.CommitBeforeMarkers = true }, func(t *testing.T, mod func(*cluster.Config)) bool {
			// The coordinator cannot reach a partition's leader while
			// committing: the commit must not be acknowledged until
			// the marker is there, and the committed record must
			// become readable, whatever the producer does next.
			tc := newTestCluster(t, 3, mod)
			tc.startAll()
			tc.waitReady(10 * time.Second)
			tc.createTopic(1, "t", 3)
			c := newTxnClient(t, tc, "tx")
			coord := tc.coordinator()
			tp, leader := tc.partitionAwayFrom("t", 3, coord.NodeID())
			if err := c.add(tp); err != nil {
				t.Fatal(err)
			}
			if _, err := c.send(tp, 1); err != nil {
				t.Fatal(err)
			}
			tc.net.Cut(uint64(coord.NodeID()), uint64(leader.NodeID()))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := coord.EndTxn(ctx, c.producer(), true)
			cancel()
			t.Logf("EndTxn with a marker unwritable: %v", err)
			// Heal only once the coordinator has stopped driving the
			// markers (the transaction left its prepare state): a
			// driver still retrying when the link comes back would
			// write the marker and hide the seeded bug by luck.
			settle := time.Now().Add(5 * time.Second)
			for time.Now().Before(settle) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				d, derr := coord.DescribeTxns(ctx, []string{"tx"})
				cancel()
				if derr == nil && !strings.HasPrefix(d["tx"].State, "Prepare") {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			tc.net.Heal()
			// The producer goes on: its next transaction on the
			// partition aborts.
			if err := c.add(tp); err != nil {
				t.Fatal(err)
			}
			if _, err := c.send(tp, 2); err != nil {
				t.Fatal(err)
			}
			if err := c.end(false); err != nil {
				t.Fatal(err)
			}
			var got []int64
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				got, _, err = committedValues(ctx, tc.node(uint64(coord.NodeID())), tp)
				cancel()
				if err == nil && slices.Equal(got, []int64{1}) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Logf("read_committed after the next transaction aborted: %v", got)
			return slices.Equal(got, []int64{1})
		}},
		{"no-txn-verification", func(u *cluster.Unsafe) { u.NoTxnVerification = true }, func(t *testing.T, mod func(*cluster.Config)) bool {
			// A batch of a transaction that already committed arrives
			// late (its sequence number is the next one): it must be
			// refused, not appended into the producer's next
			// transaction.
			tc := newTestCluster(t, 1, mod)
			tc.start(1)
			tc.waitReady(10 * time.Second)
			tc.createTopic(1, "t", 1)
			tp := cluster.TopicPartition{Topic: "t"}
			c := newTxnClient(t, tc, "tx")
			if err := c.add(tp); err != nil {
				t.Fatal(err)
			}
			if _, err := c.send(tp, 1); err != nil {
				t.Fatal(err)
			}
			if err := c.end(true); err != nil {
				t.Fatal(err)
			}
			_, err := c.send(tp, 2) // the late batch
			t.Logf("late batch: %v", err)
			lateRefused := errors.Is(err, cluster.ErrInvalidTxnState)
			if err := c.add(tp); err != nil {
				t.Fatal(err)
			}
			if _, err := c.send(tp, 3); err != nil {
				t.Fatal(err)
			}
			if err := c.end(true); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, _, err := committedValues(ctx, tc.node(1), tp)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("read_committed: %v", got)
			return lateRefused && slices.Equal(got, []int64{1, 3})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Run("off", func(t *testing.T) {
				if !c.run(t, nil) {
					t.Fatal("the correct broker misbehaved")
				}
			})
			t.Run("on", func(t *testing.T) {
				if c.run(t, modUnsafe(true, c.set, nil)) {
					t.Fatal("the seeded bug had no effect")
				}
			})
		})
	}
}
