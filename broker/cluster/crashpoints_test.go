package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// Every crash point fires where it says: the armed node logs one line
// naming the point and exits with ExitCrashPoint, and after a restart it
// holds every acknowledged record (and offset commit).
func TestCrashPointsFire(t *testing.T) {
	tp := cluster.TopicPartition{Topic: "t"}
	// produceUntil produces through the partition leader until the watch
	// sees a node die, and returns the acknowledged records.
	produceUntil := func(t *testing.T, tc *testCluster, exits *exitWatch) (map[int64]int64, uint64) {
		load := startProduceLoad(tc, []cluster.TopicPartition{tp}, 4)
		id := exits.wait(t, 20*time.Second)
		tc.dead(id)
		return load.stop()[tp], id
	}
	follower := func(t *testing.T, tc *testCluster) uint64 {
		var l *cluster.Node
		waitFor(t, 10*time.Second, "a leader of t/0", func() bool { l = tc.leaderOf(tp); return l != nil })
		return uint64(l.NodeID())%3 + 1
	}
	cases := []struct {
		point     cluster.CrashPoint
		powerLoss bool
		// probability arms the point by a seeded draw, not a count.
		probability float64
		snapEvery   uint64
		// run arms the point (or has it armed) and drives the cluster
		// until a node dies; it returns the acknowledged records.
		run func(t *testing.T, tc *testCluster, exits *exitWatch, arm func(id uint64)) map[int64]int64
	}{
		{point: cluster.CrashRaftBeforeSave},
		{point: cluster.CrashWALBeforeSync, powerLoss: true},
		{point: cluster.CrashRaftAfterSave, powerLoss: true},
		{point: cluster.CrashRaftBeforeApply, probability: 0.2},
		{point: cluster.CrashRaftAfterApply, powerLoss: true},
		{point: cluster.CrashLogCompaction, snapEvery: 50},
		{point: cluster.CrashSnapshotWhileWriting, snapEvery: 50, powerLoss: true},
		{point: cluster.CrashSnapshotAfterInstall, snapEvery: 50},
		{point: cluster.CrashOffsetCommitBeforeApply},
		{point: cluster.CrashOffsetCommitAfterApply, powerLoss: true},
	}
	for _, c := range cases {
		name := string(c.point)
		if c.powerLoss {
			name += "/power-loss"
		}
		if c.probability > 0 {
			name += "/probability"
		}
		t.Run(name, func(t *testing.T) {
			exits, logs := newExitWatch(), &logCapture{}
			tc := newTestCluster(t, 3, func(cfg *cluster.Config) {
				cfg.FaultFS = true
				exits.mod(cfg)
				cfg.Logger = logs.logger(cfg.NodeID)
				if c.snapEvery > 0 {
					cfg.SnapshotEntries = c.snapEvery
				}
			})
			tc.startAll()
			tc.waitReady(20 * time.Second)
			tc.createTopic(1, "t", 1)
			if _, err := tc.produce(tp, makeBatch(-1, -1, 0, 0), 10*time.Second); err != nil {
				t.Fatal(err)
			}
			arm := func(id uint64) {
				a := cluster.CrashArm{Point: c.point, Count: 3, PowerLoss: c.powerLoss}
				if c.probability > 0 {
					a.Count, a.Probability, a.Seed = 0, c.probability, new(int64(9))
				}
				if c.powerLoss {
					a.TearSeed = new(int64(len(name)))
				}
				if _, err := tc.node(id).ArmCrashPoint(a); err != nil {
					t.Fatal(err)
				}
			}
			var acked map[int64]int64
			var victim uint64
			offsets := map[int64]bool{}
			switch c.point {
			case cluster.CrashSnapshotWhileWriting, cluster.CrashSnapshotAfterInstall:
				// A follower cut off while the leader compacts its log
				// far past the follower's last entry catches up by a
				// snapshot.
				victim = follower(t, tc)
				tc.net.Isolate(victim, tc.ids...)
				load := startProduceLoad(tc, []cluster.TopicPartition{tp}, 4)
				load.waitAcks(t, 200, 30*time.Second)
				// One snapshot is one reach: count 1.
				if _, err := tc.node(victim).ArmCrashPoint(cluster.CrashArm{Point: c.point, Count: 1, PowerLoss: c.powerLoss}); err != nil {
					t.Fatal(err)
				}
				tc.net.Heal()
				if id := exits.wait(t, 20*time.Second); id != victim {
					t.Fatalf("node %d died, armed node %d", id, victim)
				}
				tc.dead(victim)
				acked = load.stop()[tp]
			case cluster.CrashOffsetCommitBeforeApply, cluster.CrashOffsetCommitAfterApply:
				victim = follower(t, tc)
				arm(victim)
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() {
					defer close(done)
					for off := int64(1); ; off++ {
						select {
						case <-stop:
							return
						default:
						}
						for _, id := range tc.ids {
							n := tc.node(id)
							if n == nil {
								continue
							}
							ctx, cancel := context.WithTimeout(context.Background(), time.Second)
							err := n.CommitOffsets(ctx, "g", map[cluster.TopicPartition]cluster.OffsetCommit{tp: {Offset: off}})
							cancel()
							if err == nil {
								offsets[off] = true
								break
							}
						}
					}
				}()
				if id := exits.wait(t, 20*time.Second); id != victim {
					t.Fatalf("node %d died, armed node %d", id, victim)
				}
				tc.dead(victim)
				close(stop)
				<-done
			default:
				victim = follower(t, tc)
				arm(victim)
				var id uint64
				acked, id = produceUntil(t, tc, exits)
				if id != victim {
					t.Fatalf("node %d died, armed node %d", id, victim)
				}
			}
			lines := logs.lines("crash point reached")
			if len(lines) != 1 {
				t.Fatalf("%d crash point lines, want 1: %v", len(lines), lines)
			}
			l := lines[0]
			if l["point"] != string(c.point) || l["power_loss"] != c.powerLoss || l["exit_code"] != float64(cluster.ExitCrashPoint) || l["test_node"] != float64(victim) {
				t.Fatalf("crash point line %v", l)
			}
			if c.powerLoss {
				if _, ok := l["bytes_dropped"]; !ok {
					t.Fatalf("a crash with power_loss logs no bytes_dropped: %v", l)
				}
			}
			n := tc.start(victim)
			tc.waitReady(20 * time.Second)
			checkAcked(t, n, tp, acked)
			if len(offsets) > 0 {
				var last int64
				for off := range offsets {
					last = max(last, off)
				}
				var got map[cluster.TopicPartition]cluster.OffsetCommit
				waitFor(t, 10*time.Second, "offsets read back", func() bool {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					defer cancel()
					var err error
					got, err = n.FetchOffsets(ctx, "g")
					return err == nil && got[tp].Offset >= last
				})
			}
		})
	}
}

// Arming checks its request; the listing shows what is armed; disarming
// clears it, and a disarmed point never fires.
func TestCrashPointArming(t *testing.T) {
	tc := newTestCluster(t, 1, nil) // no fault fs
	n := tc.start(1)
	tc.waitReady(10 * time.Second)
	bad := []struct {
		name string
		arm  cluster.CrashArm
		want error
	}{
		{"unknown point", cluster.CrashArm{Point: "raft-before-lunch", Count: 1}, cluster.ErrUnknownCrashPoint},
		{"neither count nor probability", cluster.CrashArm{Point: cluster.CrashRaftBeforeSave}, cluster.ErrBadCrashArm},
		{"both", cluster.CrashArm{Point: cluster.CrashRaftBeforeSave, Count: 1, Probability: 0.5}, cluster.ErrBadCrashArm},
		{"probability above 1", cluster.CrashArm{Point: cluster.CrashRaftBeforeSave, Probability: 1.5}, cluster.ErrBadCrashArm},
		{"negative count", cluster.CrashArm{Point: cluster.CrashRaftBeforeSave, Count: -1}, cluster.ErrBadCrashArm},
		{"tear seed without power loss", cluster.CrashArm{Point: cluster.CrashRaftBeforeSave, Count: 1, TearSeed: new(int64(1))}, cluster.ErrBadCrashArm},
		{"power loss without fault fs", cluster.CrashArm{Point: cluster.CrashRaftBeforeSave, Count: 1, PowerLoss: true}, cluster.ErrNoFaultFS},
		{"wal-before-sync without fault fs", cluster.CrashArm{Point: cluster.CrashWALBeforeSync, Count: 1}, cluster.ErrNoFaultFS},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if _, err := n.ArmCrashPoint(c.arm); !errors.Is(err, c.want) {
				t.Fatalf("arm %+v: %v, want %v", c.arm, err, c.want)
			}
		})
	}
	if _, err := n.PowerLoss(nil); !errors.Is(err, cluster.ErrNoFaultFS) {
		t.Fatalf("power loss without fault fs: %v", err)
	}
	st, err := n.ArmCrashPoint(cluster.CrashArm{Point: cluster.CrashRaftAfterApply, Count: 1 << 40})
	if err != nil || st.Armed == nil || st.Armed.Count != 1<<40 {
		t.Fatalf("arm: %+v, %v", st, err)
	}
	tc.createTopic(1, "t", 1)
	var listed cluster.CrashPointState
	for _, s := range n.CrashPointStates() {
		if s.Name == cluster.CrashRaftAfterApply {
			listed = s
		}
	}
	if listed.Armed == nil || listed.Reached == 0 {
		t.Fatalf("listing after topic creation: %+v", listed)
	}
	if len(n.CrashPointStates()) != len(cluster.CrashPoints()) {
		t.Fatalf("listing has %d points, table %d", len(n.CrashPointStates()), len(cluster.CrashPoints()))
	}
	if err := n.DisarmCrashPoint(""); err != nil {
		t.Fatal(err)
	}
	for _, s := range n.CrashPointStates() {
		if s.Armed != nil {
			t.Fatalf("%s still armed after disarming all", s.Name)
		}
	}
	if err := n.DisarmCrashPoint("nope"); !errors.Is(err, cluster.ErrUnknownCrashPoint) {
		t.Fatalf("disarm unknown: %v", err)
	}
}
