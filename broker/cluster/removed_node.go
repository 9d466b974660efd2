package cluster

// This file holds what a node does about removed members: it refuses
// their messages and tells them so, and, once it learns that it was
// removed itself, it stops serving for good.
//
// Refusal by the others: a removed node that comes back (partitioned
// during its removal, restarted from old data, or wiped and restarted
// under its old id) may hold stale configurations that still count it, and
// raft answers votes and appends from anybody; etcd refuses messages of
// removed members at its transport for the same reason. Every message from
// a member that __meta records as removed is dropped here, and the sender
// gets a notice (at most one per second) on the control channel.
//
// Refusal by itself: the node marks itself removed when its __meta applies
// its removal, when registration is refused because of it, or when a peer
// sends the notice. The mark is persisted, so the node also refuses itself
// after a restart: it logs why, answers /readyz 503, reports
// member_state "removed" in /status, stops every Raft group, and answers
// Kafka requests with NOT_LEADER_OR_FOLLOWER / NOT_COORDINATOR (ErrRemoved),
// which clients handle by asking another broker.

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/chronik-chaos/chronik/broker/storage"
)

// controlGroup is the pseudo Raft group id of node-level control messages
// on the peer transport: no Raft group has id 0.
const controlGroup uint64 = 0

// removedNotice is the Context of the control message telling a peer that
// it was removed from the cluster.
var removedNotice = []byte("chronik: you were removed from the cluster")

// removedKey marks a node that learned it was removed (outside every
// group's key range, so no group deletion touches it).
var removedKey = storage.StateKey(0, []byte("removed")...)

// screen filters inbound messages: control messages are handled here, a
// removed sender's messages are dropped (with a notice back), and a node
// that was removed itself takes nothing. It returns what is left.
func (n *Node) screen(from uint64, msgs []GroupMessage) []GroupMessage {
	out := msgs[:0:0]
	for _, gm := range msgs {
		if gm.Group == controlGroup {
			n.onControl(from, gm.Msg)
			continue
		}
		out = append(out, gm)
	}
	if len(out) == 0 {
		return nil
	}
	if n.removedSelf.Load() {
		return nil
	}
	if n.members.Load().removed(from) {
		n.metrics.refused.Add(float64(len(out)))
		if n.notices.allow(from) {
			n.log.Warn("refusing messages from a removed member", "peer", from)
			n.sendRemovedNotice(from)
		}
		return nil
	}
	return out
}

func (n *Node) sendRemovedNotice(to uint64) {
	n.tr.Send(to, []GroupMessage{{Group: controlGroup, Msg: &pb.Message{
		Type: pb.MessageType_MsgUnreachable.Enum(), From: new(n.cfg.NodeID), To: new(to), Context: removedNotice,
	}}})
}

// notifyRemoved tells every removed member, at most once per second each,
// that it was removed. A removed node is in no group's configuration any
// more, so nothing else may ever reach it, and it would go on believing
// it is a member (it runs on __meta's ticks, on every node).
func (n *Node) notifyRemoved() {
	if n.removedSelf.Load() {
		return
	}
	for _, mb := range n.members.Load().list {
		if mb.State == MemberRemoved && mb.ID != n.cfg.NodeID && n.notices.allow(mb.ID) {
			n.sendRemovedNotice(mb.ID)
		}
	}
}

func (n *Node) onControl(from uint64, m *pb.Message) {
	if bytes.Equal(m.GetContext(), removedNotice) {
		n.markRemoved(fmt.Sprintf("peer %d reports that this node was removed from the cluster", from))
	}
}

// markRemoved makes this node refuse itself from now on (see the file
// comment). It may run on a group goroutine, so the groups stop aside.
func (n *Node) markRemoved(reason string) {
	if !n.removedSelf.CompareAndSwap(false, true) {
		return
	}
	if err := n.db.Set(removedKey, []byte(reason), pebble.Sync); err != nil {
		n.log.Error("persist removal mark", "err", err)
	}
	n.log.Error("THIS NODE WAS REMOVED FROM THE CLUSTER: it no longer serves; node ids are never reused, so wipe its data directory and add it under a new id (POST /admin/members)", "reason", reason)
	n.memberWake.broadcast()
	n.mu.RLock()
	gs := make([]*raftGroup, 0, len(n.raftGroups))
	for _, g := range n.raftGroups {
		gs = append(gs, g)
	}
	n.mu.RUnlock()
	n.removals.Add(1)
	go func() {
		defer n.removals.Done()
		for _, g := range gs {
			g.stop(ErrRemoved)
		}
	}()
}

// loadRemovedMark restores the mark at start.
func (n *Node) loadRemovedMark() error {
	v, ok, err := n.db.GetCopy(removedKey)
	if err != nil {
		return fmt.Errorf("load removal mark: %w", err)
	}
	if ok {
		n.removedSelf.Store(true)
		n.log.Error("THIS NODE WAS REMOVED FROM THE CLUSTER and refuses to serve; wipe its data directory and add it under a new id", "reason", string(v))
	}
	return nil
}

// noticeLimiter allows one notice per peer per second.
type noticeLimiter struct {
	mu   sync.Mutex
	last map[uint64]time.Time
}

func (l *noticeLimiter) allow(peer uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[uint64]time.Time{}
	}
	if t, ok := l.last[peer]; ok && time.Since(t) < time.Second {
		return false
	}
	l.last[peer] = time.Now()
	return true
}
