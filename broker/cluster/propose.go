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
	data := make([]byte, proposalIDLen+len(payload))
	copy(data[proposalIDLen:], payload)
	return g.proposeData(ctx, data, wait)
}

// proposalIDLen is the room at the front of a proposal's data for its id.
const proposalIDLen = 8

// proposeData is proposeAsync for data whose first proposalIDLen bytes
// are free for the id: the payload after them is proposed as it is, not
// copied again (the produce path builds its command this way, saving a
// copy of every batch).
func (g *raftGroup) proposeData(ctx context.Context, data []byte, wait bool) (any, error) {
	if g.removed.Load() {
		return nil, ErrUnknownTopic
	}
	id := g.node.nextProposalID()
	binary.BigEndian.PutUint64(data, id)
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
