package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/chronik-chaos/chronik/broker/storage"
)

// stateMachine is what a Raft group applies its committed entries to. All
// methods run on the group goroutine except the read accessors each
// implementation documents.
type stateMachine interface {
	// applied is the last applied index as persisted.
	applied() uint64
	// lock/unlock bracket one Ready's applies and the pebble commit, so
	// readers never see in-memory state ahead of what pebble holds.
	lock()
	unlock()
	// apply applies one committed normal entry's payload (already stripped
	// of the proposal id) at index, staging writes in b. The returned value
	// goes to the proposer, if it waits on this node.
	apply(b *pebble.Batch, index, term uint64, payload []byte) any
	// setApplied stages the applied index in b.
	setApplied(b *pebble.Batch, index uint64) error
	// snapshot encodes the whole state and returns the applied index it
	// reflects (any goroutine).
	snapshot() ([]byte, uint64, error)
	// restore replaces the state by a snapshot's, staging writes in b.
	restore(b *pebble.Batch, index uint64, data []byte) error
	// committed runs after the pebble batch of apply/restore committed.
	committed()
}

// applyResult is what a waiting proposer receives.
type applyResult struct {
	value any
	err   error
}

// readWaiter is one linearizable read waiting for a ReadIndex round and for
// the state machine to catch up with it.
type readWaiter struct {
	done  chan error
	index uint64
	// gone is set when the reader stopped waiting, so re-issued rounds
	// (during a long partition) do not accumulate abandoned readers.
	gone atomic.Bool
}

type readBatch struct {
	waiters []*readWaiter
	sentAt  int // tick count when ReadIndex was issued
}

// group runs one Raft group: a RawNode, its durable log and its state
// machine, driven by one goroutine (see doc.go for the loop order).
type group struct {
	node *Node
	id   uint64
	name string
	log  *slog.Logger
	rlog *storage.RaftLog
	sm   stateMachine
	cs   *pb.ConfState

	mu sync.Mutex // guards rn and the fields below it
	rn *raft.RawNode
	// ticks counts Tick calls (for read retries and transfer rate limits).
	ticks        int
	lastTransfer int
	lead         uint64
	term         uint64

	recvc  chan *pb.Message
	wakec  chan struct{}
	stopc  chan struct{}
	doneWG sync.WaitGroup
	once   sync.Once

	pmu     sync.Mutex
	pending map[uint64]chan applyResult

	rmu      sync.Mutex
	rqueued  []*readWaiter
	rinfl    map[uint64]*readBatch
	rwait    []*readWaiter
	rcounter uint64

	// Published after each Ready for lock-free readers.
	pubLead    atomic.Uint64
	pubTerm    atomic.Uint64 // max term seen: leader epochs never go back
	pubRole    atomic.Int32
	pubCommit  atomic.Uint64
	pubApplied atomic.Uint64
	removed    atomic.Bool

	// spec is the leader's view of appended but not yet applied produce
	// entries (only maintained with the unsafe ack/uncommitted flags).
	spec *specView

	// partition is the topic-partition of a partition group.
	partition TopicPartition
	// campaignAtStart skips the first election timeout (see start).
	campaignAtStart bool
}

// raftStorage wraps the durable log so that Snapshot returns the state
// machine's data at the current applied index. raft calls it on the group
// goroutine only, where state and applied index agree.
type raftStorage struct {
	*storage.RaftLog
	g *group
}

// Snapshot implements raft.Storage with the live state machine's data.
func (s raftStorage) Snapshot() (*pb.Snapshot, error) {
	g := s.g
	// data and idx come from one read-locked view of the state machine,
	// so they agree even if an apply batch runs concurrently.
	data, idx, err := g.sm.snapshot()
	if err != nil {
		g.log.Error("snapshot state machine", "err", err)
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	meta := s.RaftLog.SnapshotMetadata()
	if idx <= meta.GetIndex() {
		return &pb.Snapshot{Data: data, Metadata: meta}, nil
	}
	term, err := s.RaftLog.Term(idx)
	if err != nil {
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	return &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{
		Index: new(idx), Term: new(term), ConfState: proto.Clone(g.cs).(*pb.ConfState),
	}}, nil
}

func newGroup(n *Node, id uint64, name string, sm stateMachine, tp TopicPartition) (*group, error) {
	rlog, err := storage.OpenRaftLog(n.db, id)
	if err != nil {
		return nil, err
	}
	isNew := rlog.IsNew()
	if isNew {
		if err := rlog.Bootstrap(n.voters); err != nil {
			return nil, fmt.Errorf("bootstrap group %d: %w", id, err)
		}
	}
	g := &group{
		node: n, id: id, name: name, rlog: rlog, sm: sm, partition: tp,
		log:     n.log.With("group", name, "gid", id),
		recvc:   make(chan *pb.Message, 4096),
		wakec:   make(chan struct{}, 1),
		stopc:   make(chan struct{}),
		pending: make(map[uint64]chan applyResult),
		rinfl:   make(map[uint64]*readBatch),
	}
	_, cs, _ := rlog.InitialState()
	g.cs = cs
	if n.cfg.Unsafe.ForgetHardState {
		// Seeded bug: only the commit index survives a restart; term and
		// vote restart from the last log term, so this node may vote twice
		// in one term.
		hs := rlog.HardState()
		last, _ := rlog.LastIndex()
		if lt, err := rlog.Term(last); err == nil && !raft.IsEmptyHardState(hs) {
			g.log.Warn("unsafe: forgetting persisted term and vote", "term", hs.GetTerm(), "vote", hs.GetVote(), "reset_term", lt)
			rlog.SetLoadedHardState(&pb.HardState{Term: new(lt), Vote: new(uint64(0)), Commit: new(hs.GetCommit())})
		}
	}
	if n.cfg.Unsafe.AckBeforeCommit || n.cfg.Unsafe.UncommittedReads {
		g.spec = &specView{}
	}
	rc := &raft.Config{
		ID:                        n.cfg.NodeID,
		ElectionTick:              n.cfg.ElectionTicks,
		HeartbeatTick:             n.cfg.HeartbeatTicks,
		Storage:                   raftStorage{RaftLog: rlog, g: g},
		Applied:                   sm.applied(),
		MaxSizePerMsg:             1 << 20,
		MaxInflightMsgs:           256,
		MaxUncommittedEntriesSize: 64 << 20,
		CheckQuorum:               true,
		PreVote:                   true,
		ReadOnlyOption:            raft.ReadOnlySafe,
		Logger:                    raftLogger{log: g.log},
	}
	rn, err := raft.NewRawNode(rc)
	if err != nil {
		return nil, fmt.Errorf("start raft group %d: %w", id, err)
	}
	g.rn = rn
	g.campaignAtStart = len(n.voters) == 1 || (isNew && g.preferredLeader() == n.cfg.NodeID)
	g.pubApplied.Store(sm.applied())
	// Leader epochs (terms) reported before a restart are never undercut.
	g.pubTerm.Store(rlog.HardState().GetTerm())
	return g, nil
}

func (g *group) start() {
	g.doneWG.Add(1)
	go g.run()
	if g.campaignAtStart {
		// Skip the first election timeout: a single voter (standalone)
		// has nobody to wait for, and a new partition's preferred replica
		// would win anyway; clients see a leader as soon as the topic
		// exists instead of LEADER_NOT_AVAILABLE for up to a second.
		g.mu.Lock()
		err := g.rn.Campaign()
		g.mu.Unlock()
		if err != nil {
			g.log.Debug("campaign at start", "err", err)
		}
		g.wake()
	}
}

// stop ends the goroutine and fails every waiter with err.
func (g *group) stop(err error) {
	g.once.Do(func() { close(g.stopc) })
	g.doneWG.Wait()
	g.failPending(err)
	g.rmu.Lock()
	all := g.rqueued
	for _, b := range g.rinfl {
		all = append(all, b.waiters...)
	}
	all = append(all, g.rwait...)
	g.rqueued, g.rinfl, g.rwait = nil, map[uint64]*readBatch{}, nil
	g.rmu.Unlock()
	for _, w := range all {
		w.done <- err
	}
}

func (g *group) wake() {
	select {
	case g.wakec <- struct{}{}:
	default:
	}
}

// deliver queues an inbound message without blocking (raft retransmits
// what is dropped when the queue is full).
func (g *group) deliver(m *pb.Message) {
	select {
	case g.recvc <- m:
	default:
	}
}

func (g *group) run() {
	defer g.doneWG.Done()
	t := time.NewTicker(g.node.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-g.stopc:
			return
		case <-t.C:
			g.mu.Lock()
			g.rn.Tick()
			g.ticks++
			g.onTick()
			g.mu.Unlock()
		case m := <-g.recvc:
			g.mu.Lock()
			g.step(m)
			for i := 0; i < 256; i++ {
				select {
				case m := <-g.recvc:
					g.step(m)
					continue
				default:
				}
				break
			}
			g.mu.Unlock()
		case <-g.wakec:
		}
		if err := g.handleReady(); err != nil {
			g.log.Error("raft group failed; stopping node", "err", err)
			g.node.fail(fmt.Errorf("group %s: %w", g.name, err))
			return
		}
	}
}

func (g *group) step(m *pb.Message) {
	if err := g.rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
		g.log.Debug("step message", "type", m.GetType().String(), "from", m.GetFrom(), "err", err)
	}
}

// onTick runs housekeeping with g.mu held: re-issue lost ReadIndex rounds and
// transfer leadership to the preferred replica.
func (g *group) onTick() {
	g.issueReads()
	g.maybeTransfer()
}

// handleReady drains Ready in the order etcd raft requires: persist, send,
// apply, Advance (see doc.go). g.mu is NOT held while persisting and
// applying: proposers keep appending to raft meanwhile (raft allows Step
// and Propose between Ready and Advance), so the next Ready carries every
// proposal that arrived during this fsync. Holding the lock across the
// fsync made each Ready carry one or two proposals.
func (g *group) handleReady() error {
	for i := 0; i < 64; i++ {
		g.mu.Lock()
		g.issueReads()
		if !g.rn.HasReady() {
			g.mu.Unlock()
			return nil
		}
		rd := g.rn.Ready()
		g.mu.Unlock()
		// A leader's appends and heartbeats may go out before its own
		// write (Raft thesis 10.2.1): the leader counts itself toward the
		// commit quorum only after Advance, i.e. after the fsync, so the
		// disk writes of leader and followers overlap. Every other message
		// (votes, append responses) promises durable state and waits.
		early, late := splitEarly(rd.Messages)
		snapTo := g.send(early)
		if err := g.persist(rd); err != nil {
			return err
		}
		snapTo = append(snapTo, g.send(late)...)
		if g.spec != nil {
			g.spec.appended(g, rd.Entries)
		}
		if err := g.apply(rd.CommittedEntries); err != nil {
			return err
		}
		g.onReadStates(rd.ReadStates)
		g.mu.Lock()
		for _, to := range snapTo {
			// The transport is fire-and-forget: report the snapshot as
			// sent. If it was lost, the follower rejects the next append
			// and the leader sends a new snapshot.
			g.rn.ReportSnapshot(to, raft.SnapshotFinish)
		}
		g.observe(rd)
		g.rn.Advance(rd)
		g.mu.Unlock()
		g.releaseReads()
		if err := g.maybeCompact(); err != nil {
			return err
		}
	}
	// Bounded so ticks and inbound messages are not starved; come back
	// for the rest at once.
	g.wake()
	return nil
}

func (g *group) persist(rd raft.Ready) error {
	var snapMeta *pb.SnapshotMetadata
	var extra func(*pebble.Batch) error
	if rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot) {
		snap := rd.Snapshot
		snapMeta = snap.GetMetadata()
		g.sm.lock()
		defer func() { g.sm.unlock(); g.sm.committed() }()
		extra = func(b *pebble.Batch) error {
			return g.sm.restore(b, snap.GetMetadata().GetIndex(), snap.GetData())
		}
		g.node.metrics.snapshots.Inc()
		g.log.Info("applying snapshot", "index", snapMeta.GetIndex(), "term", snapMeta.GetTerm(), "bytes", len(snap.GetData()))
	}
	hs := rd.HardState
	if len(rd.Entries) == 0 && snapMeta == nil && raft.IsEmptyHardState(hs) {
		return nil
	}
	if err := g.rlog.Save(hs, rd.Entries, snapMeta, extra, rd.MustSync || snapMeta != nil); err != nil {
		return fmt.Errorf("persist ready: %w", err)
	}
	if snapMeta != nil {
		g.pubApplied.Store(snapMeta.GetIndex())
	}
	return nil
}

// splitEarly separates the leader-to-follower messages that need not wait
// for the local fsync.
func splitEarly(msgs []*pb.Message) (early, late []*pb.Message) {
	for _, m := range msgs {
		switch m.GetType() {
		case pb.MessageType_MsgApp, pb.MessageType_MsgHeartbeat:
			early = append(early, m)
		default:
			late = append(late, m)
		}
	}
	return early, late
}

// send hands messages to the transport, one call per peer, and returns
// the peers a snapshot went to.
func (g *group) send(msgs []*pb.Message) (snapTo []uint64) {
	if len(msgs) == 0 {
		return nil
	}
	byPeer := make(map[uint64][]GroupMessage, 2)
	for _, m := range msgs {
		byPeer[m.GetTo()] = append(byPeer[m.GetTo()], GroupMessage{Group: g.id, Msg: m})
		if m.GetType() == pb.MessageType_MsgSnap {
			snapTo = append(snapTo, m.GetTo())
		}
	}
	for to, gm := range byPeer {
		g.node.tr.Send(to, gm)
	}
	return snapTo
}

// apply applies committed entries in one pebble batch, persisting the
// applied index with the data so a restart resumes exactly after it.
func (g *group) apply(ents []*pb.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	type delivery struct {
		id  uint64
		res any
	}
	var out []delivery
	b := g.node.db.NewBatch()
	defer b.Close()
	g.sm.lock()
	last := g.sm.applied()
	for _, e := range ents {
		if e.GetIndex() <= last {
			continue
		}
		last = e.GetIndex()
		if e.GetType() != pb.EntryType_EntryNormal || len(e.GetData()) < 8 {
			// Conf changes never happen (groups bootstrap from a
			// snapshot) and never reach a state machine; empty entries
			// are the leaders' no-ops.
			continue
		}
		id := binary.BigEndian.Uint64(e.GetData()[:8])
		res := g.sm.apply(b, e.GetIndex(), e.GetTerm(), e.GetData()[8:])
		out = append(out, delivery{id: id, res: res})
	}
	if err := g.sm.setApplied(b, last); err != nil {
		g.sm.unlock()
		return err
	}
	// No fsync: the entries are durable in the Raft log, and a restart
	// re-applies everything after the persisted applied index.
	if err := b.Commit(pebble.NoSync); err != nil {
		g.sm.unlock()
		return fmt.Errorf("commit applied state at %d: %w", last, err)
	}
	g.sm.unlock()
	// After the unlock: __meta's hook creates groups and reads its state.
	g.sm.committed()
	g.pubApplied.Store(last)
	if g.spec != nil {
		g.spec.appliedTo(last)
	}
	g.node.metrics.applied(g, last)
	g.pmu.Lock()
	for _, d := range out {
		if ch, ok := g.pending[d.id]; ok {
			delete(g.pending, d.id)
			ch <- applyResult{value: d.res}
		}
	}
	g.pmu.Unlock()
	return nil
}

// observe publishes role, leader and term, and fails pending proposals on
// a leadership change (their outcome is unknown: they may still commit).
func (g *group) observe(rd raft.Ready) {
	st := g.rn.BasicStatus()
	lead, term := st.Lead, st.HardState.GetTerm()
	if lead != g.lead || term != g.term {
		if g.lead == g.node.cfg.NodeID && lead != g.lead {
			g.failPending(ErrTimeout)
			if g.spec != nil {
				g.spec.reset()
			}
		}
		if lead == g.node.cfg.NodeID && g.lead != lead {
			g.node.metrics.elections.Inc()
			g.log.Info("became leader", "term", term)
		}
		g.lead, g.term = lead, term
	}
	g.pubLead.Store(lead)
	if term > g.pubTerm.Load() {
		g.pubTerm.Store(term)
	}
	g.pubRole.Store(int32(st.RaftState))
	g.pubCommit.Store(st.HardState.GetCommit())
	g.node.metrics.observe(g, st)
}

func (g *group) failPending(err error) {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	for id, ch := range g.pending {
		delete(g.pending, id)
		ch <- applyResult{err: err}
	}
}

// maybeCompact compacts the log once SnapshotEntries entries were applied
// after the last compaction point. The state machine's data of every
// compacted entry is durable because Compact's synced commit also syncs
// the earlier unsynced apply batches (pebble's WAL is sequential).
func (g *group) maybeCompact() error {
	applied := g.sm.applied()
	meta := g.rlog.SnapshotMetadata()
	if applied < meta.GetIndex()+g.node.cfg.SnapshotEntries {
		return nil
	}
	if err := g.rlog.Compact(applied, g.cs); err != nil {
		return err
	}
	g.log.Debug("compacted raft log", "index", applied)
	return nil
}

// isLeader reports whether this node leads the group (as last observed).
func (g *group) isLeader() bool {
	return g.pubLead.Load() == g.node.cfg.NodeID && g.pubRole.Load() == int32(raft.StateLeader)
}

// propose replicates payload and waits until it applied on this node,
// returning the state machine's result.
func (g *group) propose(ctx context.Context, payload []byte) (any, error) {
	v, err := g.proposeAsync(ctx, payload, true)
	return v, err
}

func (g *group) proposeAsync(ctx context.Context, payload []byte, wait bool) (any, error) {
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

// Reads ------------------------------------------------------------------

// linearizable blocks until this node's state machine reflects every write
// that completed before the call (etcd raft ReadIndex, ReadOnlySafe: the
// leader confirms its leadership with a heartbeat quorum). Concurrent
// callers share one ReadIndex round.
func (g *group) linearizable(ctx context.Context) error {
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
func (g *group) issueReads() {
	g.rmu.Lock()
	defer g.rmu.Unlock()
	for k, b := range g.rinfl {
		if g.ticks-b.sentAt > g.node.cfg.ElectionTicks {
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
	g.rinfl[g.rcounter] = &readBatch{waiters: g.rqueued, sentAt: g.ticks}
	g.rqueued = nil
	g.rn.ReadIndex(ctx)
}

func (g *group) onReadStates(rs []raft.ReadState) {
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
			w.index = r.Index
		}
		g.rwait = append(g.rwait, b.waiters...)
	}
}

// releaseReads wakes readers whose read index has been applied.
func (g *group) releaseReads() {
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
