package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/admin"
	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/kafka"
)

// *Node is what the membership endpoints and the KRaft quorum APIs need.
var (
	_ admin.Members       = (*cluster.Node)(nil)
	_ kafka.QuorumBackend = (*cluster.Node)(nil)
)

// startJoin starts node id empty with Join (raft-cluster --join): it
// becomes part of tc (peers, stopAll) but waits to be added.
func (tc *testCluster) startJoin(id uint64) *cluster.Node {
	tc.t.Helper()
	tc.mu.Lock()
	if !slices.Contains(tc.ids, id) {
		tc.ids = append(tc.ids, id)
	}
	tc.mu.Unlock()
	cfg := tc.config(id)
	cfg.Join = true
	cfg.Standalone = false
	n, err := cluster.New(cfg)
	if err != nil {
		tc.t.Fatalf("new joining node %d: %v", id, err)
	}
	if err := n.Start(context.Background()); err != nil {
		tc.t.Fatalf("start joining node %d: %v", id, err)
	}
	tc.mu.Lock()
	tc.nodes[id] = n
	tc.mu.Unlock()
	return n
}

// wipe deletes node id's store (it must be stopped).
func (tc *testCluster) wipe(id uint64) {
	tc.t.Helper()
	if err := os.RemoveAll(filepath.Join(tc.dir, fmt.Sprintf("n%d", id))); err != nil {
		tc.t.Fatal(err)
	}
}

func (tc *testCluster) running() []*cluster.Node {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	out := make([]*cluster.Node, 0, len(tc.nodes))
	for _, n := range tc.nodes {
		out = append(out, n)
	}
	return out
}

// metaLeader returns a running node that leads __meta, or nil.
func (tc *testCluster) metaLeader() *cluster.Node {
	for _, n := range tc.running() {
		if n.ControllerID() == n.NodeID() {
			for _, g := range n.Status().RaftGroups {
				if g.ID == cluster.MetaGroupID && g.Role == "StateLeader" {
					return n
				}
			}
		}
	}
	return nil
}

// retriable reports errors after which a membership request may be sent
// again (to the next leader).
func retriable(err error) bool {
	return errors.Is(err, cluster.ErrNotLeader) || errors.Is(err, cluster.ErrNotReady) ||
		errors.Is(err, cluster.ErrTimeout) || errors.Is(err, cluster.ErrStopped) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, cluster.ErrWouldLoseQuorum)
}

// memberOp runs op on the current __meta leader until it succeeds or
// fails for good, within d. A request whose answer was lost may have been
// applied: firstErrOK lets the retry accept the "already done" answer.
func (tc *testCluster) memberOp(d time.Duration, what string, op func(context.Context, *cluster.Node) error) error {
	tc.t.Helper()
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		l := tc.metaLeader()
		if l == nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := op(ctx, l)
		cancel()
		if err == nil || !retriable(err) {
			return err
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: gave up after %v: %w", what, d, last)
}

// addMember adds id (already started with startJoin) and waits until it is
// a voter everywhere in the records.
func (tc *testCluster) addMember(id uint64, replaces uint64, d time.Duration) {
	tc.t.Helper()
	spec := cluster.MemberSpec{ID: id, RaftAddr: fmt.Sprintf("mem-%d:1", id), Replaces: replaces}
	err := tc.memberOp(d, fmt.Sprintf("add member %d", id), func(ctx context.Context, l *cluster.Node) error {
		_, err := l.AddMember(ctx, spec)
		if errors.Is(err, cluster.ErrMemberExists) {
			if mb, ok := l.Member(id); ok && mb.State != cluster.MemberRemoved {
				return nil // an earlier attempt applied
			}
		}
		return err
	})
	if err != nil {
		tc.t.Fatalf("add member %d: %v", id, err)
	}
	tc.waitMemberState(id, cluster.MemberVoter, d)
}

// removeMember removes id and waits until the records say removed.
func (tc *testCluster) removeMember(id uint64, d time.Duration) {
	tc.t.Helper()
	err := tc.memberOp(d, fmt.Sprintf("remove member %d", id), func(ctx context.Context, l *cluster.Node) error {
		_, err := l.RemoveMember(ctx, id)
		if errors.Is(err, cluster.ErrUnknownMember) {
			if mb, ok := l.Member(id); ok && mb.State == cluster.MemberRemoved {
				return nil
			}
		}
		return err
	})
	if err != nil {
		tc.t.Fatalf("remove member %d: %v", id, err)
	}
	tc.waitMemberState(id, cluster.MemberRemoved, d)
}

// waitMemberState waits until the __meta leader's records show id in
// state want.
func (tc *testCluster) waitMemberState(id uint64, want cluster.MemberState, d time.Duration) {
	tc.t.Helper()
	waitFor(tc.t, d, fmt.Sprintf("member %d %s", id, want), func() bool {
		l := tc.metaLeader()
		if l == nil {
			return false
		}
		mb, ok := l.Member(id)
		return ok && mb.State == want
	})
}

// waitVoters waits until every node in on reports voters (and nothing
// else, no joint configuration) for every Raft group it has, and has as
// many groups as the first.
func (tc *testCluster) waitVoters(on []uint64, voters []uint64, d time.Duration) {
	tc.t.Helper()
	slices.Sort(voters)
	var why string
	ok := func() bool {
		groups := -1
		for _, id := range on {
			n := tc.node(id)
			if n == nil {
				why = fmt.Sprintf("node %d not running", id)
				return false
			}
			st := n.Status()
			if groups >= 0 && len(st.RaftGroups) != groups {
				why = fmt.Sprintf("node %d has %d groups, want %d", id, len(st.RaftGroups), groups)
				return false
			}
			groups = len(st.RaftGroups)
			for _, g := range st.RaftGroups {
				if !slices.Equal(g.Voters, voters) || len(g.VotersOutgoing) > 0 || len(g.Learners) > 0 {
					why = fmt.Sprintf("node %d group %s: voters %v outgoing %v learners %v", id, g.Name, g.Voters, g.VotersOutgoing, g.Learners)
					return false
				}
			}
		}
		return true
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tc.t.Fatalf("voters %v on %v not reached in %v: %s", voters, on, d, why)
}

// loadGen produces unique values round-robin to the partitions of topic
// from one goroutine per partition, remembering what was acknowledged.
type loadGen struct {
	tc    *testCluster
	topic string
	parts int32
	next  atomic.Int64
	stop  chan struct{}
	wg    sync.WaitGroup

	mu    sync.Mutex
	acked map[cluster.TopicPartition]map[int64]int64 // offset -> value
	fails int
}

func startLoad(tc *testCluster, topic string, parts int32) *loadGen {
	lg := &loadGen{tc: tc, topic: topic, parts: parts, stop: make(chan struct{}), acked: map[cluster.TopicPartition]map[int64]int64{}}
	for p := range parts {
		tp := cluster.TopicPartition{Topic: topic, Partition: p}
		lg.acked[tp] = map[int64]int64{}
		lg.wg.Add(1)
		go func() {
			defer lg.wg.Done()
			for i := 0; i < 1_000_000; i++ {
				select {
				case <-lg.stop:
					return
				default:
				}
				v := lg.next.Add(1)
				off, err := lg.produceOnce(tp, makeBatch(v, -1, 0, 0))
				lg.mu.Lock()
				if err == nil {
					lg.acked[tp][off] = v
				} else {
					lg.fails++
				}
				lg.mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	return lg
}

// produceOnce sends to the partition's current leader once (a failure is
// an unknown outcome; the value is never re-sent).
func (lg *loadGen) produceOnce(tp cluster.TopicPartition, b cluster.Batch) (int64, error) {
	l := lg.tc.leaderOf(tp)
	if l == nil {
		time.Sleep(10 * time.Millisecond)
		return -1, cluster.ErrNotReady
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res, err := l.Produce(ctx, tp, b, -1)
	if err != nil {
		return -1, err
	}
	return res.BaseOffset, nil
}

// halt stops the load and returns how many writes were acknowledged.
func (lg *loadGen) halt() int {
	close(lg.stop)
	lg.wg.Wait()
	lg.mu.Lock()
	defer lg.mu.Unlock()
	n := 0
	for _, m := range lg.acked {
		n += len(m)
	}
	return n
}

// verify reads every partition through each node of via and checks that
// every acknowledged value is at its acknowledged offset.
func (lg *loadGen) verify(t *testing.T, via ...uint64) {
	t.Helper()
	lg.mu.Lock()
	defer lg.mu.Unlock()
	for _, id := range via {
		n := lg.tc.node(id)
		if n == nil {
			t.Fatalf("verify through node %d: not running", id)
		}
		for tp, acked := range lg.acked {
			var got map[int64]int64
			var err error
			for range 100 {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				got, _, err = readAll(ctx, n, tp)
				cancel()
				if err == nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("read %v through node %d: %v", tp, id, err)
			}
			lost := 0
			for off, v := range acked {
				if got[off] != v {
					if lost < 5 {
						t.Errorf("node %d %v: acknowledged value %d at offset %d, read %d", id, tp, v, off, got[off])
					}
					lost++
				}
			}
			if lost > 0 {
				t.Errorf("node %d %v: %d of %d acknowledged writes lost", id, tp, lost, len(acked))
			}
		}
	}
}
