package cluster

// This file holds linearizable reads (etcd raft's ReadIndex with
// ReadOnlySafe): readers queue, one round serves all of them, and each is
// released once the local state machine applied the read index. etcd
// raft keeps the same machinery in its read_only.go.

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
)

// readWaiter is one linearizable read waiting for a ReadIndex round and for
// the state machine to catch up with it.
type readWaiter struct {
	done  chan error
	index uint64
	// stage (readQueued, readSent, readAnswered) and sentAt (the tick
	// its round went out) say where a reader that gave up stopped
	// (read_stuck.go); guarded by the group's rmu like index.
	stage  int
	sentAt int
	// gone is set when the reader stopped waiting, so re-issued rounds
	// (during a long partition) do not accumulate abandoned readers.
	gone atomic.Bool
}

type readBatch struct {
	waiters []*readWaiter
	sentAt  int // tick count when ReadIndex was issued
}

// linearizable blocks until this node's state machine reflects every write
// that completed before the call (etcd raft ReadIndex, ReadOnlySafe: the
// leader confirms its leadership with a heartbeat quorum). Concurrent
// callers share one ReadIndex round.
func (g *raftGroup) linearizable(ctx context.Context) error {
	if g.removed.Load() {
		return ErrUnknownTopic
	}
	w := &readWaiter{done: make(chan error, 1)}
	g.rmu.Lock()
	g.rqueued = append(g.rqueued, w)
	g.rmu.Unlock()
	g.wake()
	// Bound the wait so that a deposed leader answers "not leader" rather
	// than hanging for the client's whole timeout.
	limit := time.Duration(3*g.node.cfg.ElectionTicks) * g.node.cfg.TickInterval
	t := time.NewTimer(limit)
	defer t.Stop()
	defer w.gone.Store(true)
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ErrNotLeader
	case <-t.C:
		g.reportStuckRead(w)
		return ErrNotLeader
	case <-g.stopc:
		return ErrStopped
	}
	// Waiters that gave up stay in the lists until their round completes
	// or times out; done is buffered so nobody blocks on them.
}

// issueReads starts a ReadIndex round for queued readers (g.mu held) and
// re-queues rounds that got no answer within an election timeout (the
// request or its answer was lost, or leadership moved).
func (g *raftGroup) issueReads() {
	g.rmu.Lock()
	defer g.rmu.Unlock()
	for k, b := range g.rinfl {
		if g.ticks-b.sentAt > g.node.cfg.ElectionTicks {
			for _, w := range b.waiters {
				w.stage = readQueued
			}
			g.rqueued = append(g.rqueued, b.waiters...)
			delete(g.rinfl, k)
		}
	}
	live := g.rqueued[:0]
	for _, w := range g.rqueued {
		if !w.gone.Load() {
			live = append(live, w)
		}
	}
	clear(g.rqueued[len(live):])
	g.rqueued = live
	if len(g.rqueued) == 0 || len(g.rinfl) > 0 {
		return
	}
	if g.rn.BasicStatus().Lead == raft.None {
		return
	}
	g.rcounter++
	ctx := make([]byte, 8)
	binary.BigEndian.PutUint64(ctx, g.rcounter)
	for _, w := range g.rqueued {
		w.stage, w.sentAt = readSent, g.ticks
	}
	g.rinfl[g.rcounter] = &readBatch{waiters: g.rqueued, sentAt: g.ticks}
	g.rqueued = nil
	g.rn.ReadIndex(ctx)
}

func (g *raftGroup) onReadStates(rs []raft.ReadState) {
	if len(rs) == 0 {
		return
	}
	g.rmu.Lock()
	defer g.rmu.Unlock()
	for _, r := range rs {
		if len(r.RequestCtx) != 8 {
			continue
		}
		k := binary.BigEndian.Uint64(r.RequestCtx)
		b, ok := g.rinfl[k]
		if !ok {
			continue
		}
		delete(g.rinfl, k)
		for _, w := range b.waiters {
			w.index, w.stage = r.Index, readAnswered
		}
		g.rwait = append(g.rwait, b.waiters...)
	}
}

// releaseReads wakes readers whose read index has been applied.
func (g *raftGroup) releaseReads() {
	g.rmu.Lock()
	defer g.rmu.Unlock()
	if len(g.rwait) == 0 {
		if len(g.rqueued) > 0 && len(g.rinfl) == 0 {
			defer g.wake()
		}
		return
	}
	applied := g.sm.applied()
	keep := g.rwait[:0]
	for _, w := range g.rwait {
		if w.index <= applied {
			w.done <- nil
		} else {
			keep = append(keep, w)
		}
	}
	g.rwait = keep
	if len(g.rqueued) > 0 && len(g.rinfl) == 0 {
		g.wake()
	}
}
