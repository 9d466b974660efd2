package cluster

// This file holds a Raft group's lifecycle: creation from its stored log,
// start, the goroutine's event loop, and stop. The loop's work is split
// along doc.go's steps: ready.go (persist, send, apply, Advance),
// propose.go (proposals and their waiters), read_only.go (ReadIndex reads)
// and raft_storage.go (the raft.Storage adapter).

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

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

// raftGroup runs one Raft group (__meta or one topic-partition): a RawNode,
// its durable log and its state machine, driven by one goroutine (see
// doc.go for the loop order). It is never a Kafka consumer group; those
// live only as committed offsets in the __meta state machine.
type raftGroup struct {
	node *Node
	id   uint64
	name string
	log  *slog.Logger
	rlog *storage.RaftLog
	sm   stateMachine
	// conf is the group's configuration history since the last compaction
	// (confchange.go); confVersion counts applied configuration changes.
	conf        confHistory
	confVersion atomic.Uint64

	mu sync.Mutex // guards rn and the fields below it
	rn *raft.RawNode
	// ticks counts Tick calls (for read retries and transfer rate limits).
	ticks        int
	lastTransfer int
	// reconf is the membership reconciler's state (member_reconcile.go).
	reconf reconfState
	lead   uint64
	term   uint64

	// events is used by the group's goroutine only (see raft_events.go).
	events raftEvents

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
	// pubTicks and lastTick (unix ns) follow ticks, and stuckLogged is
	// when a reader that gave up last logged why (read_stuck.go).
	pubTicks    atomic.Int64
	lastTick    atomic.Int64
	stuckLogged atomic.Int64

	// spec is the leader's view of appended but not yet applied produce
	// entries (only maintained with the unsafe ack/uncommitted flags).
	spec *specView
	// stale is the partition state of the last compaction, set only with
	// the seeded bug Unsafe.SnapshotStaleState (snapshot_stale.go).
	stale *staleSnapshot

	// partition is the topic-partition of a partition group.
	partition TopicPartition
	// campaignAtStart skips the first election timeout (see start).
	campaignAtStart bool
}

// newRaftGroup opens the log of group id and builds its RawNode; the group
// does not tick until start. A new group is bootstrapped with the
// configuration boot; with boot nil (the __meta group of a node started
// with --join) it starts empty, without any voter, and waits for a leader
// to send it a snapshot: it must never form a group of its own.
func newRaftGroup(n *Node, id uint64, name string, sm stateMachine, tp TopicPartition, boot *pb.ConfState) (*raftGroup, error) {
	rlog, err := storage.OpenRaftLog(n.db, id)
	if err != nil {
		return nil, fmt.Errorf("open raft group %s: %w", name, err)
	}
	isNew := rlog.IsNew()
	if isNew && sm.applied() == 0 && boot != nil {
		if err := bootstrapConf(rlog, boot); err != nil {
			return nil, fmt.Errorf("bootstrap group %d: %w", id, err)
		}
	}
	if err := checkApplied(name, id, rlog, sm.applied()); err != nil {
		return nil, err
	}
	conf, err := loadConf(n.db, id, rlog)
	if err != nil {
		return nil, err
	}
	g := &raftGroup{
		node: n, id: id, name: name, rlog: rlog, sm: sm, partition: tp,
		log:     n.log.With("group", name, "gid", id),
		recvc:   make(chan *pb.Message, 4096),
		wakec:   make(chan struct{}, 1),
		stopc:   make(chan struct{}),
		pending: make(map[uint64]chan applyResult),
		rinfl:   make(map[uint64]*readBatch),
	}
	g.conf.reset(conf)
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
	if _, ok := sm.(*partitionSM); ok && n.cfg.Unsafe.SnapshotStaleState {
		g.stale = &staleSnapshot{}
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
		// A leader removed from the group steps down at once (the
		// reconciler transfers leadership first; this covers the rest).
		StepDownOnRemoval: true,
		ReadOnlyOption:    raft.ReadOnlySafe,
		Logger:            raftLogger{log: g.log},
	}
	rn, err := raft.NewRawNode(rc)
	if err != nil {
		return nil, fmt.Errorf("start raft group %d: %w", id, err)
	}
	g.rn = rn
	voters := conf.cs.GetVoters()
	g.campaignAtStart = (len(voters) == 1 && voters[0] == n.cfg.NodeID) || (isNew && boot != nil && g.preferredLeader() == n.cfg.NodeID)
	g.pubApplied.Store(sm.applied())
	// Leader epochs (terms) reported before a restart are never undercut.
	g.pubTerm.Store(rlog.HardState().GetTerm())
	g.events.loaded(g.log, rlog.HardState())
	return g, nil
}

func (g *raftGroup) start() {
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
func (g *raftGroup) stop(err error) {
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

func (g *raftGroup) wake() {
	select {
	case g.wakec <- struct{}{}:
	default:
	}
}

// deliver queues an inbound message without blocking (raft retransmits
// what is dropped when the queue is full).
func (g *raftGroup) deliver(m *pb.Message) {
	select {
	case g.recvc <- m:
	default:
	}
}

func (g *raftGroup) run() {
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
			g.pubTicks.Store(int64(g.ticks))
			g.lastTick.Store(time.Now().UnixNano())
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

func (g *raftGroup) step(m *pb.Message) {
	if err := g.rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
		g.log.Debug("step message", "type", m.GetType().String(), "from", m.GetFrom(), "err", err)
	}
}

// onTick runs housekeeping with g.mu held: re-issue lost ReadIndex rounds,
// transfer leadership to the preferred replica, and follow membership
// changes (member_reconcile.go).
func (g *raftGroup) onTick() {
	g.issueReads()
	g.maybeTransfer()
	g.maybeReconfigure()
	if g.id == MetaGroupID {
		g.node.notifyRemoved()
	}
}

// isLeader reports whether this node leads the group (as last observed).
func (g *raftGroup) isLeader() bool {
	return g.pubLead.Load() == g.node.cfg.NodeID && g.pubRole.Load() == int32(raft.StateLeader)
}

// checkApplied refuses a state machine that is ahead of its log or behind
// its compaction point. The applied index is written after the hard state
// that committed it, and a compaction only follows an applied index, in WAL
// order; so applied <= commit and applied >= the compaction point hold
// after any crash, and a violation means the store lost writes it had made
// durable. raft would panic on the first and re-apply nothing on the second.
// A new group (compaction point 1 from Bootstrap) has applied nothing yet.
func checkApplied(name string, id uint64, rlog *storage.RaftLog, applied uint64) error {
	commit, snap := rlog.HardState().GetCommit(), rlog.SnapshotMetadata().GetIndex()
	switch {
	case applied > commit:
		return fmt.Errorf("raft group %s (id %d): state machine applied index %d is beyond the commit index %d: %w", name, id, applied, commit, storage.ErrCorrupt)
	case applied < snap && !(applied == 0 && snap == 1):
		return fmt.Errorf("raft group %s (id %d): state machine applied index %d is below the log's compaction point %d: %w", name, id, applied, snap, storage.ErrCorrupt)
	}
	return nil
}
