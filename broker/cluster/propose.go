package cluster

// This file holds proposals: a payload tagged with a unique id, proposed
// to raft, and the waiter that the apply path fulfils on this node.

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"go.etcd.io/raft/v3"
)

// applyResult is what a waiting proposer receives.
type applyResult struct {
	value any
	err   error
}

// propose replicates payload and waits until it applied on this node,
// returning the state machine's result.
func (g *raftGroup) propose(ctx context.Context, payload []byte) (any, error) {
	v, err := g.proposeAsync(ctx, payload, true)
	return v, err
}

func (g *raftGroup) proposeAsync(ctx context.Context, payload []byte, wait bool) (any, error) {
	if g.removed.Load() {
		return nil, ErrUnknownTopic
	}
	id := g.node.nextProposalID()
	data := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint64(data, id)
	copy(data[8:], payload)
	ch := make(chan applyResult, 1)
	if wait {
		g.pmu.Lock()
		g.pending[id] = ch
		g.pmu.Unlock()
	}
	start := time.Now()
	g.mu.Lock()
	err := g.rn.Propose(data)
	lead := g.rn.BasicStatus().Lead
	g.mu.Unlock()
	if err != nil {
		g.pmu.Lock()
		delete(g.pending, id)
		g.pmu.Unlock()
		// Dropped: no leader known, or this leader is transferring
		// leadership or over its uncommitted-size limit (retriable), or
		// a follower that does not forward (not leader).
		if lead == raft.None || lead == g.node.cfg.NodeID {
			return nil, fmt.Errorf("propose to %s: %w", g.name, ErrNotReady)
		}
		return nil, fmt.Errorf("propose to %s: %w", g.name, ErrNotLeader)
	}
	g.wake()
	if !wait {
		return nil, nil
	}
	select {
	case r := <-ch:
		g.node.metrics.proposal.Observe(time.Since(start).Seconds())
		return r.value, r.err
	case <-ctx.Done():
		g.pmu.Lock()
		delete(g.pending, id)
		g.pmu.Unlock()
		return nil, ErrTimeout
	case <-g.stopc:
		return nil, ErrStopped
	}
}

func (g *raftGroup) failPending(err error) {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	for id, ch := range g.pending {
		delete(g.pending, id)
		ch <- applyResult{err: err}
	}
}
