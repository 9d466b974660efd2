package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/chronik-chaos/chronik/broker/storage"
	"github.com/chronik-chaos/chronik/broker/transport"
)

// MetaGroupID is the Raft group id of __meta. Partition groups get ids from
// 2 upwards, assigned when their topic's creation applies.
const MetaGroupID uint64 = 1

// Limits of the buffer for messages addressed to groups this node has not
// created yet (their topic's creation has not applied here yet).
const (
	maxBufferedGroups = 1024
	maxBufferedPerGrp = 256
)

// DefaultSnapshotEntries is Config.SnapshotEntries when zero.
const DefaultSnapshotEntries = 10000

// Node is one broker's replicated core: the __meta group, one group per
// topic-partition, the pebble store and the peer transport. It implements
// broker/kafka's Backend.
type Node struct {
	cfg    Config
	log    *slog.Logger
	db     *storage.DB
	tr     Transport
	voters []uint64

	meta *metaSM
	// metaRaft is the __meta Raft group, whose state machine is meta.
	metaRaft *raftGroup
	propID   atomic.Uint64

	mu sync.RWMutex
	// raftGroups holds every local Raft group by id, __meta included.
	raftGroups map[uint64]*raftGroup
	// buffered holds messages for Raft groups not created here yet.
	buffered map[uint64][]*pb.Message
	started  bool
	stopped  bool

	registered atomic.Bool
	fatal      chan error
	fatalOnce  sync.Once
	cancel     context.CancelFunc
	bg         sync.WaitGroup
	// removals tracks goroutines deleting removed groups' data; Stop
	// waits for them before closing the store.
	removals sync.WaitGroup
	stopOnce sync.Once

	metrics *nodeMetrics
	// crash holds the crash points and the halt of a node that died at
	// one or lost power (crashpoints.go, powerloss.go).
	crash *crashState
	// balance moves leadership back to returned preferred replicas.
	balance leaderBalance

	// Membership (membership.go, removed_node.go): the published member
	// view, this node's own removal, and wake-ups for waiters.
	members     atomic.Pointer[memberView]
	removedSelf atomic.Bool
	memberWake  memberWaiters
	notices     noticeLimiter
	// txns finishes transactions while this node leads __meta.
	txns *txnCoordinator
}

// New opens the node's store and loads its groups. It does not start any
// Raft group; Start does, after the transport listens.
func New(cfg Config) (*Node, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("node", cfg.NodeID)
	db, err := storage.OpenWith(cfg.DataDir, log, storage.Options{FaultFS: cfg.FaultFS, SkipWALSync: cfg.Unsafe.NoFsync})
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:        cfg,
		log:        log,
		db:         db,
		raftGroups: make(map[uint64]*raftGroup),
		buffered:   make(map[uint64][]*pb.Message),
		fatal:      make(chan error, 1),
	}
	n.crash = newCrashState(n)
	n.txns = newTxnCoordinator(n)
	n.voters = append(n.voters, cfg.NodeID)
	for id := range cfg.Peers {
		n.voters = append(n.voters, id)
	}
	slices.Sort(n.voters)
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	// Proposal ids are unique across nodes and restarts: the node id in the
	// top byte, a random boot value below, so an entry proposed before a
	// restart can never wake a waiter of the new incarnation.
	n.propID.Store(cfg.NodeID<<56 | binary.BigEndian.Uint64(seed[:])>>8&(1<<56-1)&^(1<<20-1))
	n.metrics = newNodeMetrics(n)
	if cfg.Transport != nil {
		n.tr = cfg.Transport
	} else {
		n.tr = transport.NewTCP(transport.TCPConfig{NodeID: cfg.NodeID, ListenAddr: cfg.RaftAddr, Peers: cfg.Peers, Logger: log})
	}
	if u, ok := n.tr.(UnreachableNotifier); ok {
		u.OnUnreachable(n.reportUnreachable)
	}
	n.meta, err = loadMetaSM(n)
	if err != nil {
		db.Close()
		return nil, err
	}
	// A node started with --join never bootstraps __meta: it waits, with
	// an empty configuration, for the leader's snapshot (membership.go).
	metaBoot := confOf(n.voters, nil)
	if cfg.Join {
		metaBoot = nil
	}
	n.metaRaft, err = newRaftGroup(n, MetaGroupID, "__meta", n.meta, TopicPartition{}, metaBoot)
	if err != nil {
		db.Close()
		return nil, err
	}
	n.raftGroups[MetaGroupID] = n.metaRaft
	if err := n.loadMembership(); err != nil {
		db.Close()
		return nil, err
	}
	if err := n.reconcileGroups(); err != nil {
		db.Close()
		return nil, err
	}
	n.logUnsafe()
	return n, nil
}

func (c *Config) validate() error {
	if c.NodeID == 0 {
		return errors.New("node id must be >= 1")
	}
	if c.DataDir == "" {
		return errors.New("data dir is required")
	}
	if c.Standalone && len(c.Peers) > 0 {
		return errors.New("standalone mode takes no peers: use raft-cluster for a multi-node configuration")
	}
	if _, ok := c.Peers[c.NodeID]; ok {
		return fmt.Errorf("peer list names this node (%d) itself", c.NodeID)
	}
	if c.Join && (c.Standalone || len(c.Peers) == 0) {
		return errors.New("join needs raft-cluster with the existing members in the peer list")
	}
	if c.TickInterval <= 0 {
		c.TickInterval = 50 * time.Millisecond
	}
	if c.ElectionTicks <= 0 {
		c.ElectionTicks = 10
	}
	if c.HeartbeatTicks <= 0 {
		c.HeartbeatTicks = 1
	}
	if c.HeartbeatTicks >= c.ElectionTicks {
		return fmt.Errorf("heartbeat ticks (%d) must be below election ticks (%d)", c.HeartbeatTicks, c.ElectionTicks)
	}
	if err := c.validateLeaderBalance(); err != nil {
		return err
	}
	if c.SnapshotEntries == 0 {
		c.SnapshotEntries = DefaultSnapshotEntries
	}
	if c.DefaultPartitions <= 0 {
		c.DefaultPartitions = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Transport == nil && len(c.Peers) > 0 && c.RaftAddr == "" {
		return errors.New("raft address is required with peers")
	}
	return nil
}

func (n *Node) logUnsafe() {
	for _, u := range n.unsafeNames() {
		n.log.Warn("UNSAFE SEEDED BUG ENABLED: this broker is deliberately incorrect", "flag", u)
	}
	if n.cfg.FaultFS {
		n.log.Warn("fault-injection file system on: POST /admin/power-loss drops every write no fsync covered", "data_dir", n.cfg.DataDir)
	}
}

func (n *Node) unsafeNames() []string {
	u := n.cfg.Unsafe
	var out []string
	if u.AckBeforeCommit {
		out = append(out, "ack-before-commit")
	}
	if u.StaleReads {
		out = append(out, "stale-reads")
	}
	if u.UncommittedReads {
		out = append(out, "uncommitted-reads")
	}
	if u.NoDedup {
		out = append(out, "no-dedup")
	}
	if u.DedupLastBatch {
		out = append(out, "dedup-last-batch")
	}
	if u.RegistrationAttempts > 0 {
		out = append(out, fmt.Sprintf("registration-attempts=%d", u.RegistrationAttempts))
	}
	if u.ForgetHardState {
		out = append(out, "forget-hardstate")
	}
	if u.NoFsync {
		out = append(out, "no-fsync")
	}
	if u.ApplyBeforeSave {
		out = append(out, "apply-before-save")
	}
	if u.DirectConfChange {
		out = append(out, "direct-conf-change")
	}
	if u.PromoteEarly {
		out = append(out, "promote-early")
	}
	if u.LSOIsHW {
		out = append(out, "lso-is-hw")
	}
	if u.CommitBeforeMarkers {
		out = append(out, "commit-before-markers")
	}
	if u.NoTxnVerification {
		out = append(out, "no-txn-verification")
	}
	if u.SnapshotStaleState {
		out = append(out, "snapshot-stale-state")
	}
	if u.FollowerLocalReads {
		out = append(out, "follower-local-reads")
	}
	if u.OffsetAckBeforeCommit {
		out = append(out, "offset-ack-before-commit")
	}
	return out
}

// Start opens the peer listener, then starts every Raft group (a group may
// only tick once this node can hear votes), the registration loop and the
// chronik-default auto-creation.
func (n *Node) Start(ctx context.Context) error {
	if err := n.tr.Start(ctx, n.handle); err != nil {
		return fmt.Errorf("start peer transport: %w", err)
	}
	n.mu.Lock()
	n.started = true
	if !n.removedSelf.Load() {
		for _, g := range n.raftGroups {
			g.start()
		}
	}
	n.mu.Unlock()
	bgctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.bg.Add(4)
	go func() { defer n.bg.Done(); n.registerLoop(bgctx) }()
	go func() { defer n.bg.Done(); n.defaultTopicLoop(bgctx) }()
	go func() { defer n.bg.Done(); n.balanceLeaders(bgctx) }()
	go func() { defer n.bg.Done(); n.txns.run(bgctx) }()
	n.log.Info("node started", "voters", n.voters, "standalone", n.cfg.Standalone, "join", n.cfg.Join)
	return nil
}

// Stop stops every group, the transport and closes the store. It is safe
// to call more than once.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		if n.crash.halted.Load() {
			// Dead at a crash point or by power loss: its store is
			// halted and closing it would block forever.
			return
		}
		n.crash.disarmAll()
		if n.cancel != nil {
			n.cancel()
		}
		n.bg.Wait()
		n.mu.Lock()
		n.stopped = true
		gs := make([]*raftGroup, 0, len(n.raftGroups))
		for _, g := range n.raftGroups {
			gs = append(gs, g)
		}
		n.mu.Unlock()
		n.tr.Stop()
		for _, g := range gs {
			g.stop(ErrStopped)
		}
		n.removals.Wait()
		if err := n.db.Close(); err != nil {
			n.log.Error("close store", "err", err)
		}
		n.log.Info("node stopped")
	})
}

// Fatal delivers an error when the node gave up (a seeded registration bug,
// or a storage failure); main exits on it.
func (n *Node) Fatal() <-chan error { return n.fatal }

func (n *Node) fail(err error) {
	n.fatalOnce.Do(func() { n.fatal <- err })
}

func (n *Node) nextProposalID() uint64 { return n.propID.Add(1) }

// handle receives peer messages (transport goroutines): it never blocks.
// The common case (every group known) takes only the read lock.
func (n *Node) handle(from uint64, msgs []GroupMessage) {
	if msgs = n.screen(from, msgs); len(msgs) == 0 {
		return
	}
	n.mu.RLock()
	if n.stopped {
		n.mu.RUnlock()
		return
	}
	var unknown []GroupMessage
	for _, gm := range msgs {
		if g, ok := n.raftGroups[gm.Group]; ok {
			g.deliver(gm.Msg)
		} else {
			unknown = append(unknown, gm)
		}
	}
	n.mu.RUnlock()
	if len(unknown) == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, gm := range unknown {
		if g, ok := n.raftGroups[gm.Group]; ok { // created meanwhile
			g.deliver(gm.Msg)
			continue
		}
		// A group this node has not created yet: its topic's creation is
		// committed but not yet applied here. Keep a bounded number so
		// the election or append is not lost; raft retransmits anyway.
		q, known := n.buffered[gm.Group]
		if !known {
			if len(n.buffered) >= maxBufferedGroups {
				continue
			}
			n.log.Info("buffering messages for a group not created yet", "gid", gm.Group, "from", from)
		}
		if len(q) < maxBufferedPerGrp {
			q = append(q, gm.Msg)
		}
		n.buffered[gm.Group] = q
	}
}

func (n *Node) reportUnreachable(peer uint64) {
	n.mu.RLock()
	gs := make([]*raftGroup, 0, len(n.raftGroups))
	for _, g := range n.raftGroups {
		gs = append(gs, g)
	}
	n.mu.RUnlock()
	for _, g := range gs {
		g.mu.Lock()
		g.rn.ReportUnreachable(peer)
		g.mu.Unlock()
	}
}

// adopt registers a new group (n.mu held) and hands it the messages that
// arrived before it existed.
func (n *Node) adopt(gid uint64, g *raftGroup) {
	n.raftGroups[gid] = g
	for _, m := range n.buffered[gid] {
		g.deliver(m)
	}
	delete(n.buffered, gid)
}

// raftGroup returns the local Raft group with id, or nil.
func (n *Node) raftGroup(id uint64) *raftGroup {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.raftGroups[id]
}

// reconcileGroups creates the local group of every partition __meta knows
// and removes groups of deleted topics. It runs after each __meta apply and
// snapshot restore, so every node creates the groups of every topic of a
// CreateTopics (not only the first).
func (n *Node) reconcileGroups() error {
	want := n.meta.partitionRaftGroups()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return nil
	}
	for gid, tp := range want {
		if _, ok := n.raftGroups[gid]; ok {
			continue
		}
		sm, err := loadPartitionSM(n, gid, tp)
		if err != nil {
			return err
		}
		g, err := newRaftGroup(n, gid, fmt.Sprintf("%s/%d", tp.Topic, tp.Partition), sm, tp, n.meta.bootConf(tp.Topic, n.voters))
		if err != nil {
			return err
		}
		n.adopt(gid, g)
		if n.started && !n.removedSelf.Load() {
			g.start()
		}
	}
	for gid, g := range n.raftGroups {
		if gid == MetaGroupID {
			continue
		}
		if _, ok := want[gid]; ok {
			continue
		}
		delete(n.raftGroups, gid)
		g.removed.Store(true)
		// Stopping waits for the group goroutine, which may be the one
		// running this apply hook for another group: do it aside.
		n.removals.Add(1)
		go func() {
			defer n.removals.Done()
			g.stop(ErrUnknownTopic)
			if err := n.db.DeleteGroup(gid); err != nil {
				n.log.Error("delete group data", "gid", gid, "err", err)
			}
			n.log.Info("removed partition group of a deleted topic", "gid", gid, "group", g.name)
		}()
	}
	return nil
}
