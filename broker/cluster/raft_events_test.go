package cluster_test

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// eventLog records the Raft events every node logs, with the attributes
// the harness's raft-safety checker reads.
type eventLog struct {
	mu     sync.Mutex
	events []raftEvent
}

type raftEvent struct {
	msg, node, group string
	term, vote       uint64
	hasVote          bool
}

// handler returns a slog.Handler for one node; attrs accumulates With.
func (l *eventLog) handler(attrs []slog.Attr) slog.Handler { return &eventHandler{l: l, attrs: attrs} }

type eventHandler struct {
	l     *eventLog
	attrs []slog.Attr
}

func (h *eventHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *eventHandler) WithGroup(string) slog.Handler            { return h }
func (h *eventHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return h.l.handler(append(append([]slog.Attr(nil), h.attrs...), as...))
}

func (h *eventHandler) Handle(_ context.Context, r slog.Record) error {
	switch r.Message {
	case cluster.EventStateLoaded, cluster.EventStatePersisted, cluster.EventBecameLeader:
	default:
		return nil
	}
	kv := map[string]string{}
	add := func(a slog.Attr) bool {
		if _, dup := kv[a.Key]; !dup {
			kv[a.Key] = a.Value.String()
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	e := raftEvent{msg: r.Message, node: kv["node"], group: kv["group"]}
	var err error
	if e.term, err = strconv.ParseUint(kv["term"], 10, 64); err != nil {
		return err
	}
	if v, ok := kv["vote"]; ok {
		if e.vote, err = strconv.ParseUint(v, 10, 64); err != nil {
			return err
		}
		e.hasVote = true
	}
	h.l.mu.Lock()
	h.l.events = append(h.l.events, e)
	h.l.mu.Unlock()
	return nil
}

func (l *eventLog) snapshot() []raftEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]raftEvent(nil), l.events...)
}

// TestRaftEvents pins the facts the harness's raft-safety checker reads
// from node logs: every group logs the state it starts from, every new
// term or vote once it is persisted, every election won, each with its
// attributes, and a restart loads at least the term and vote persisted
// before it. Produces log nothing: the events stay few.
func TestRaftEvents(t *testing.T) {
	var el eventLog
	tc := newTestCluster(t, 3, func(c *cluster.Config) { c.Logger = slog.New(el.handler(nil)) })
	tc.startAll()
	tc.waitReady(10 * time.Second)
	tc.createTopic(1, "t", 1)
	tp := cluster.TopicPartition{Topic: "t", Partition: 0}
	if _, err := tc.produce(tp, makeBatch(0, -1, 0, 0), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	before := len(el.snapshot())
	for i := 1; i <= 50; i++ {
		if _, err := tc.produce(tp, makeBatch(int64(i), -1, 0, 0), 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(el.snapshot()) - before; n > 6 {
		t.Errorf("50 produces logged %d Raft events, want only those of elections (a few at most)", n)
	}
	leader := tc.leaderOf(tp)
	if leader == nil {
		t.Fatal("no leader of t/0")
	}
	var restarted uint64
	for _, id := range tc.ids {
		if tc.node(id) == leader {
			restarted = id
		}
	}
	tc.stop(restarted)
	tc.start(restarted)
	tc.waitReady(10 * time.Second)

	type ng struct{ node, group string }
	loads := map[ng]int{}
	lastPersisted := map[ng]raftEvent{}
	leaders := map[ng]int{}
	for _, e := range el.snapshot() {
		k := ng{e.node, e.group}
		if e.node == "" || e.group == "" {
			t.Fatalf("event %+v lacks the node or group attribute", e)
		}
		switch e.msg {
		case cluster.EventStateLoaded:
			loads[k]++
			if p, ok := lastPersisted[k]; ok && (e.term < p.term || e.term == p.term && e.vote != p.vote) {
				t.Errorf("node %s loaded %s at term %d vote %d after persisting term %d vote %d", e.node, e.group, e.term, e.vote, p.term, p.vote)
			}
			if !e.hasVote {
				t.Errorf("%+v has no vote", e)
			}
		case cluster.EventStatePersisted:
			if !e.hasVote || e.term == 0 {
				t.Errorf("%+v: want a term and a vote", e)
			}
			lastPersisted[k] = e
		case cluster.EventBecameLeader:
			leaders[k]++
			if p, ok := lastPersisted[k]; !ok || p.term != e.term {
				t.Errorf("node %s became leader of %s in term %d without persisting that term first (last %+v)", e.node, e.group, e.term, p)
			}
		}
	}
	self := strconv.FormatUint(restarted, 10)
	for _, id := range tc.ids {
		node := strconv.FormatUint(id, 10)
		want := 1
		if node == self {
			want = 2
		}
		for _, g := range []string{"__meta", "t/0"} {
			if n := loads[ng{node, g}]; n != want {
				t.Errorf("node %s logged %d loads of %s, want %d", node, n, g, want)
			}
		}
	}
	if leaders[ng{self, "t/0"}] == 0 {
		t.Errorf("node %s led t/0 but logged no election", self)
	}
}
