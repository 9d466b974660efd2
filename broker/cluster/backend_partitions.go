package cluster

// This file implements the partition data path of broker/kafka's Backend
// on *Node: Produce through the partition's Raft group and the
// linearizable reads Fetch and ListOffsets.

import (
	"context"
	"fmt"
	"github.com/chronik-chaos/chronik/broker/recordbatch"
	"time"
)

// partitionGroup resolves a topic-partition to its local group.
func (n *Node) partitionReplica(tp TopicPartition) (*raftGroup, *partitionSM, error) {
	if n.removedSelf.Load() {
		return nil, nil, ErrRemoved
	}
	tm, ok := n.meta.topic(tp.Topic)
	if !ok || tp.Partition < 0 || int(tp.Partition) >= len(tm.RaftGroups) {
		return nil, nil, ErrUnknownTopic
	}
	g := n.raftGroup(tm.RaftGroups[tp.Partition])
	if g == nil {
		return nil, nil, ErrNotReady
	}
	return g, g.sm.(*partitionSM), nil
}

// Produce appends one batch through the partition's Raft group. Only the
// leader accepts it; acks=-1 and 1 wait for commit and apply; acks=0
// returns once proposed.
func (n *Node) Produce(ctx context.Context, tp TopicPartition, b Batch, acks int16) (ProduceResult, error) {
	res, err := n.produce(ctx, tp, b, acks)
	n.metrics.produced(err)
	return res, err
}

func (n *Node) produce(ctx context.Context, tp TopicPartition, b Batch, acks int16) (ProduceResult, error) {
	g, _, err := n.partitionReplica(tp)
	if err != nil {
		return ProduceResult{}, err
	}
	if !g.isLeader() {
		if g.pubLead.Load() == 0 {
			return ProduceResult{}, ErrNotReady
		}
		return ProduceResult{}, ErrNotLeader
	}
	if len(b.Raw) < recordbatch.HeaderLen || b.Records <= 0 {
		return ProduceResult{}, fmt.Errorf("produce to %s/%d: malformed batch", tp.Topic, tp.Partition)
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	var data []byte // the command behind room for the proposal id
	if b.Transactional {
		txn, err := n.txnPayload(ctx, tp, b)
		if err != nil {
			return ProduceResult{}, err
		}
		data = append(make([]byte, proposalIDLen, proposalIDLen+len(txn)), txn...)
	} else {
		data = encodeProduceProposal(b)
	}
	payload := data[proposalIDLen:]
	if acks == 0 {
		_, err := g.proposeData(ctx, data, false)
		return ProduceResult{BaseOffset: -1, LogAppendTime: -1}, err
	}
	if g.spec != nil && n.cfg.Unsafe.AckBeforeCommit {
		return g.proposeEarlyAck(ctx, payload)
	}
	v, err := g.proposeData(ctx, data, true)
	if err != nil {
		return ProduceResult{}, err
	}
	o, _ := v.(produceOutcome)
	return o.res, o.err
}

// readGroup makes a read of g linearizable (or, with the seeded stale-read
// bug, merely checks that this node believes it leads).
func (n *Node) readBarrier(ctx context.Context, g *raftGroup) error {
	switch {
	case n.cfg.Unsafe.StaleReads:
		// Seeded bug: any replica answers from its local state, so a
		// deposed or partitioned node serves an old high watermark.
		return nil
	case n.cfg.Unsafe.FollowerLocalReads && !g.isLeader():
		// Seeded bug: a follower trusts its own copy, however far
		// behind the leader it is.
		return nil
	case n.cfg.Unsafe.UncommittedReads:
		// Seeded bug: the leader trusts its own log and skips the
		// quorum round (it reads above the commit index anyway).
		if !g.isLeader() {
			return ErrNotLeader
		}
		return nil
	}
	return g.linearizable(ctx)
}

// countFollowerRead counts a read this node served for a partition it does
// not lead (from its own copy, once it applied the leader's read index).
func (n *Node) countFollowerRead(g *raftGroup) {
	if !g.isLeader() {
		n.metrics.followerReads.Inc()
	}
}

// Fetch reads batches from offset (linearizable via ReadIndex).
func (n *Node) Fetch(ctx context.Context, tp TopicPartition, offset int64, maxBytes int32) (FetchResult, error) {
	g, sm, err := n.partitionReplica(tp)
	if err != nil {
		return FetchResult{}, err
	}
	if err := n.readBarrier(ctx, g); err != nil {
		return FetchResult{}, err
	}
	n.countFollowerRead(g)
	if g.spec != nil && n.cfg.Unsafe.UncommittedReads && g.isLeader() {
		return g.spec.read(sm, offset, maxBytes)
	}
	return sm.read(offset, maxBytes, -1)
}

// WaitForData blocks until the local high watermark (with readCommitted
// the last stable offset) exceeds offset, ctx ends or maxWait passes. It
// only waits: the Fetch that follows re-checks linearizably.
func (n *Node) WaitForData(ctx context.Context, tp TopicPartition, offset int64, maxWait time.Duration, readCommitted bool) {
	_, sm, err := n.partitionReplica(tp)
	if err != nil {
		return
	}
	end := sm.highWatermark
	if readCommitted {
		end = sm.lastStable
	}
	waitUntil(ctx, maxWait, sm.hwChanged, func() bool { return end() > offset })
}

// ListOffset answers ListOffsets for one partition (linearizable). With
// readCommitted the latest offset is the last stable offset, and a time
// lookup finds nothing at or above it (as Kafka's READ_COMMITTED
// isolation).
func (n *Node) ListOffset(ctx context.Context, tp TopicPartition, timestamp int64, readCommitted bool) (int64, int64, int32, error) {
	g, sm, err := n.partitionReplica(tp)
	if err != nil {
		return 0, 0, 0, err
	}
	if err := n.readBarrier(ctx, g); err != nil {
		return 0, 0, 0, err
	}
	n.countFollowerRead(g)
	epoch := int32(g.pubTerm.Load())
	switch {
	case timestamp == -1 && readCommitted:
		return sm.lastStable(), -1, epoch, nil
	case timestamp == -1:
		return sm.highWatermark(), -1, epoch, nil
	case timestamp == -2:
		return sm.logStart(), -1, epoch, nil
	}
	off, ts := sm.offsetForTime(timestamp)
	if readCommitted && off >= sm.lastStable() {
		return -1, -1, epoch, nil
	}
	return off, ts, epoch, nil
}
