package cluster

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"github.com/chronik-chaos/chronik/broker/recordbatch"
	pb "go.etcd.io/raft/v3/raftpb"
)

// specView is the leader's view of produce entries appended to its own log
// but not yet applied. It exists only for two seeded bugs (Config.Unsafe):
// AckBeforeCommit answers acks=all from it, and UncommittedReads lets Fetch
// read from it. Offsets are guessed by counting forward from the applied
// high watermark, exactly the mistake a broker makes when it trusts its
// local log: the tail may be replaced by another leader's entries.
type specView struct {
	mu    sync.Mutex
	ents  []specEntry
	early map[uint64]chan applyResult
}

type specEntry struct {
	index      uint64
	base, last int64
	raw        []byte
}

// appended records entries the group just persisted (group goroutine).
func (s *specView) appended(g *raftGroup, ents []*pb.Entry) {
	sm, ok := g.sm.(*partitionSM)
	if !ok || len(ents) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	first := ents[0].GetIndex()
	keep := s.ents[:0]
	for _, e := range s.ents {
		if e.index < first {
			keep = append(keep, e)
		}
	}
	s.ents = keep
	if g.lead != g.node.cfg.NodeID {
		return
	}
	next := sm.highWatermark()
	if n := len(s.ents); n > 0 {
		next = s.ents[n-1].last + 1
	}
	for _, e := range ents {
		if e.GetType() != pb.EntryType_EntryNormal || len(e.GetData()) < 8 {
			continue
		}
		c, ok := decodeProduce(e.GetData()[8:])
		if !ok {
			continue
		}
		raw := append([]byte(nil), c.raw...)
		binary.BigEndian.PutUint64(raw[recordbatch.BaseOffset:], uint64(next))
		lod := int64(int32(binary.BigEndian.Uint32(raw[recordbatch.LastOffsetDelta:])))
		s.ents = append(s.ents, specEntry{index: e.GetIndex(), base: next, last: next + lod, raw: raw})
		id := binary.BigEndian.Uint64(e.GetData()[:8])
		if ch, ok := s.early[id]; ok {
			delete(s.early, id)
			ch <- applyResult{value: produceOutcome{res: ProduceResult{BaseOffset: next, LogAppendTime: -1}}}
		}
		next += lod + 1
	}
}

func (s *specView) appliedTo(idx uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := s.ents[:0]
	for _, e := range s.ents {
		if e.index > idx {
			keep = append(keep, e)
		}
	}
	s.ents = keep
}

func (s *specView) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ents = nil
}

// read serves Fetch from committed data plus the speculative tail.
func (s *specView) read(sm *partitionSM, offset int64, maxBytes int32) (FetchResult, error) {
	s.mu.Lock()
	ents := append([]specEntry(nil), s.ents...)
	s.mu.Unlock()
	committed := sm.highWatermark()
	hw := committed
	for _, e := range ents {
		if e.base >= committed {
			hw = e.last + 1
		}
	}
	res := FetchResult{HighWatermark: hw, LastStable: hw, LogStartOffset: sm.logStart()}
	if offset > hw || offset < res.LogStartOffset {
		return res, ErrOffsetOutOfRange
	}
	if offset < committed {
		r, err := sm.read(offset, maxBytes, committed)
		if err != nil {
			return res, err
		}
		res.Batches = r.Batches
	}
	for _, e := range ents {
		if e.base >= committed && e.last >= offset {
			res.Batches = append(res.Batches, e.raw)
		}
	}
	return res, nil
}

// proposeEarlyAck proposes a produce and answers as soon as the leader has
// appended it locally (seeded bug AckBeforeCommit).
func (g *raftGroup) proposeEarlyAck(ctx context.Context, payload []byte) (ProduceResult, error) {
	id := g.node.nextProposalID()
	data := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint64(data, id)
	copy(data[8:], payload)
	ch := make(chan applyResult, 1)
	g.spec.mu.Lock()
	if g.spec.early == nil {
		g.spec.early = map[uint64]chan applyResult{}
	}
	g.spec.early[id] = ch
	g.spec.mu.Unlock()
	defer func() {
		g.spec.mu.Lock()
		delete(g.spec.early, id)
		g.spec.mu.Unlock()
	}()
	start := time.Now()
	g.mu.Lock()
	err := g.rn.Propose(data)
	g.mu.Unlock()
	if err != nil {
		return ProduceResult{}, ErrNotLeader
	}
	g.wake()
	select {
	case r := <-ch:
		g.node.metrics.proposal.Observe(time.Since(start).Seconds())
		o, _ := r.value.(produceOutcome)
		return o.res, o.err
	case <-ctx.Done():
		return ProduceResult{}, ErrTimeout
	case <-g.stopc:
		return ProduceResult{}, ErrStopped
	}
}
