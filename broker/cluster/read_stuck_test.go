package cluster_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/transport"
)

// filterTransport drops the outbound raft messages a predicate picks (the
// memnet links drop whole links, not one message type).
type filterTransport struct {
	cluster.Transport
	mu   sync.Mutex
	drop func(to uint64, m *pb.Message) bool
}

func (f *filterTransport) Send(to uint64, msgs []transport.GroupMessage) {
	f.mu.Lock()
	drop := f.drop
	f.mu.Unlock()
	if drop != nil {
		kept := make([]transport.GroupMessage, 0, len(msgs))
		for _, gm := range msgs {
			if !drop(to, gm.Msg) {
				kept = append(kept, gm)
			}
		}
		if len(kept) == 0 {
			return
		}
		msgs = kept
	}
	f.Transport.Send(to, msgs)
}

func (f *filterTransport) setDrop(d func(to uint64, m *pb.Message) bool) {
	f.mu.Lock()
	f.drop = d
	f.mu.Unlock()
}

// recordedLogs keeps the WARN records of every logger made from it.
type recordedLogs struct {
	mu   sync.Mutex
	recs []string // message, then " why=..." when present
}

func (r *recordedLogs) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (r *recordedLogs) Handle(_ context.Context, rec slog.Record) error {
	s := rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "why" {
			s += " why=" + a.Value.String()
		}
		return true
	})
	r.mu.Lock()
	r.recs = append(r.recs, s)
	r.mu.Unlock()
	return nil
}
func (r *recordedLogs) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recordedLogs) WithGroup(string) slog.Handler      { return r }

func (r *recordedLogs) find(sub string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.recs {
		if strings.Contains(s, sub) {
			return s, true
		}
	}
	return "", false
}

// A follower's read right after a leader change, in a group with nothing
// to write, while its ReadIndex requests (or the leader's answers) are
// lost: the reader gives up with "not leader" and logs where it stopped,
// and once the messages flow again the next read is served without any
// write to the group (the lost round is re-sent on ticks alone).
func TestFollowerReadAfterLeaderChangeWithLostReadIndex(t *testing.T) {
	var mu sync.Mutex
	fts := map[uint64]*filterTransport{}
	logs := map[uint64]*recordedLogs{}
	tc := newTestCluster(t, 3, func(c *cluster.Config) {
		mu.Lock()
		defer mu.Unlock()
		ft := &filterTransport{Transport: c.Transport}
		fts[c.NodeID] = ft
		c.Transport = ft
		logs[c.NodeID] = &recordedLogs{}
		c.Logger = slog.New(logs[c.NodeID])
		c.LeaderImbalanceCheckInterval = -1 // no move-back during the test
	})
	transportOf := func(id uint64) *filterTransport { mu.Lock(); defer mu.Unlock(); return fts[id] }
	logsOf := func(id uint64) *recordedLogs { mu.Lock(); defer mu.Unlock(); return logs[id] }
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "ri", 1)
	tp := cluster.TopicPartition{Topic: "ri"}
	if _, err := tc.produce(tp, makeBatch(7, -1, 0, 0), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a leader", func() bool { return tc.leaderOf(tp) != nil })
	old := uint64(tc.leaderOf(tp).NodeID())

	// Leader change: the leader goes away, the two others elect one, and
	// the old leader comes back as a follower. Nothing is written after.
	tc.stop(old)
	waitFor(t, 10*time.Second, "a new leader", func() bool { l := tc.leaderOf(tp); return l != nil && uint64(l.NodeID()) != old })
	lead := uint64(tc.leaderOf(tp).NodeID())
	var fol uint64
	for _, id := range tc.ids {
		if id != old && id != lead {
			fol = id
		}
	}
	tc.start(old)

	read := func() (map[int64]int64, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		got, _, err := readAll(ctx, tc.node(fol), tp)
		return got, err
	}
	// Dropped on every node: leadership may move back to the returning
	// preferred replica meanwhile.
	lost := []struct {
		name string
		drop func(to uint64, m *pb.Message) bool
	}{
		{"requests", func(_ uint64, m *pb.Message) bool { return m.GetType() == pb.MessageType_MsgReadIndex }},
		{"answers", func(to uint64, m *pb.Message) bool {
			return to == fol && m.GetType() == pb.MessageType_MsgReadIndexResp
		}},
	}
	setDrop := func(d func(to uint64, m *pb.Message) bool) {
		for _, id := range tc.ids {
			transportOf(id).setDrop(d)
		}
	}
	for _, l := range lost {
		t.Run(l.name, func(t *testing.T) {
			setDrop(l.drop)
			_, err := read()
			setDrop(nil)
			if !errors.Is(err, cluster.ErrNotLeader) {
				t.Fatalf("read on follower %d with the ReadIndex %s lost: err %v, want %v", fol, l.name, err, cluster.ErrNotLeader)
			}
			// The give-up line names the round that got no answer (logged
			// at most every 5 s per group: the first subtest's line may
			// stand for both).
			if s, ok := logsOf(fol).find("linearizable read gave up"); !ok || !strings.Contains(s, "unanswered") {
				t.Fatalf("follower %d logged %q (found %v), want a give-up line naming the unanswered round", fol, s, ok)
			}
			var got map[int64]int64
			for range 5 {
				if got, err = read(); err == nil {
					break
				}
			}
			if err != nil || got[0] != 7 {
				t.Fatalf("read on follower %d after the ReadIndex %s flow again: %v (records %v)", fol, l.name, err, got)
			}
		})
	}
}
