package cluster

// This file holds the crash points: named places in the broker where an
// armed crash kills the process at once, like gofail's panic points in
// etcd (raftBeforeSave, raftAfterSave, ...). The chaos harness arms them
// through the admin API (POST /admin/crash-points) and verifies the node's
// own log line naming the point, then its exit.

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"sync"
	"sync/atomic"
)

// Exit codes of a node that died on purpose; chronik-server exits with
// them (its exit 3, a refused corrupt store, is another thing: a start that
// did not happen).
const (
	// ExitPowerLoss: POST /admin/power-loss dropped the unsynced state and
	// the process exited as a power cut would stop it.
	ExitPowerLoss = 4
	// ExitCrashPoint: an armed crash point was reached (with or without
	// power_loss).
	ExitCrashPoint = 5
)

// CrashPoint names a crash point. Names are kebab-case and stable: the
// chaos harness and its stored histories use them.
type CrashPoint string

// The crash points, in the order a Ready reaches them (see doc.go's "The
// Ready loop" and crashPointTable).
const (
	CrashRaftBeforeSave          CrashPoint = "raft-before-save"
	CrashWALBeforeSync           CrashPoint = "wal-before-sync"
	CrashRaftAfterSave           CrashPoint = "raft-after-save"
	CrashRaftBeforeApply         CrashPoint = "raft-before-apply"
	CrashRaftAfterApply          CrashPoint = "raft-after-apply"
	CrashSnapshotWhileWriting    CrashPoint = "snapshot-while-writing"
	CrashSnapshotAfterInstall    CrashPoint = "snapshot-after-install"
	CrashLogCompaction           CrashPoint = "log-compaction"
	CrashOffsetCommitBeforeApply CrashPoint = "offset-commit-before-apply"
	CrashOffsetCommitAfterApply  CrashPoint = "offset-commit-after-apply"
)

// CrashPointInfo describes one crash point.
type CrashPointInfo struct {
	Name  CrashPoint `json:"name"`
	Where string     `json:"where"`
}

// crashPointTable is the one table of every crash point.
var crashPointTable = []CrashPointInfo{
	{CrashRaftBeforeSave, "a Ready with something to persist: the leader's appends and heartbeats are sent, its hard state, entries and snapshot are not yet saved"},
	{CrashWALBeforeSync, "pebble wrote WAL records to the file and is about to fsync it (any group's commit: written, in the page cache, not durable); needs --fault-fs. With power_loss: a power cut during the fsync"},
	{CrashRaftAfterSave, "the Ready's save (one pebble batch, fsynced unless only the commit index changed) returned; votes and append acknowledgements not yet sent"},
	{CrashRaftBeforeApply, "the Ready's remaining messages were handed to the transport; its committed entries not yet applied"},
	{CrashRaftAfterApply, "the committed entries' apply batch (not fsynced) committed to pebble and waiting proposers were answered"},
	{CrashSnapshotWhileWriting, "a received snapshot's state is staged in the save batch with the log's new compaction point; nothing of it written yet"},
	{CrashSnapshotAfterInstall, "a received snapshot's batch is durable and the state machine replaced; the Ready's messages not yet sent"},
	{CrashLogCompaction, "a log compaction was decided (SnapshotEntries applied since the last one); its synced batch, which also syncs the unsynced apply batches before it, not yet committed"},
	{CrashOffsetCommitBeforeApply, "a committed consumer-group offset commit is about to apply in __meta"},
	{CrashOffsetCommitAfterApply, "the apply batch holding an offset commit committed to pebble (not fsynced) and the committer was answered"},
}

// CrashPoints returns the table of every crash point.
func CrashPoints() []CrashPointInfo { return slices.Clone(crashPointTable) }

// CrashArm arms one crash point: the body of POST /admin/crash-points.
// Exactly one of Count and Probability is set.
type CrashArm struct {
	Point CrashPoint `json:"point"`
	// Count: the process dies the Count-th time the point is reached
	// after arming (1: the first time).
	Count int64 `json:"count,omitempty"`
	// Probability: the process dies each time the point is reached with
	// this probability, drawn from Seed (default 1).
	Probability float64 `json:"probability,omitempty"`
	Seed        *int64  `json:"seed,omitempty"`
	// PowerLoss also drops every write no fsync covered at the crash, as
	// POST /admin/power-loss does (needs --fault-fs); TearSeed as there.
	PowerLoss bool   `json:"power_loss,omitempty"`
	TearSeed  *int64 `json:"tear_seed,omitempty"`
}

// CrashPointState is one crash point as GET /admin/crash-points lists it.
type CrashPointState struct {
	CrashPointInfo
	// Armed is how the point is armed, nil when it is not.
	Armed *CrashArm `json:"armed,omitempty"`
	// Reached counts the times the point was reached since it was armed.
	Reached int64 `json:"reached"`
}

// Errors of arming.
var (
	ErrUnknownCrashPoint = errors.New("cluster: unknown crash point")
	ErrBadCrashArm       = errors.New("cluster: bad crash point arming")
)

// crashState is a node's crash points and its death: the armed points,
// the points deferred to the end of an apply batch, and the halt that
// ends the node (crash point or power loss).
type crashState struct {
	n *Node
	// armed counts armed points: reach costs one atomic load while it is
	// zero, which is always outside chaos runs.
	armed atomic.Int32
	mu    sync.Mutex
	arms  map[CrashPoint]*crashArm
	// after holds, per Raft group, points reached when the group's
	// current apply batch has committed.
	after map[uint64][]CrashPoint

	halted  atomic.Bool
	dieOnce sync.Once
}

type crashArm struct {
	CrashArm
	reached int64
	rng     *rand.Rand
}

func newCrashState(n *Node) *crashState {
	c := &crashState{n: n, arms: map[CrashPoint]*crashArm{}, after: map[uint64][]CrashPoint{}}
	if f := n.db.Fault; f != nil {
		f.SetBeforeWALSync(func() { c.reach(CrashWALBeforeSync) })
	}
	return c
}

func knownCrashPoint(p CrashPoint) bool {
	return slices.ContainsFunc(crashPointTable, func(i CrashPointInfo) bool { return i.Name == p })
}

// ArmCrashPoint arms a crash point, replacing an earlier arming of it.
func (n *Node) ArmCrashPoint(a CrashArm) (CrashPointState, error) {
	if !knownCrashPoint(a.Point) {
		return CrashPointState{}, fmt.Errorf("%w %q", ErrUnknownCrashPoint, a.Point)
	}
	switch {
	case a.Count < 0, a.Count > 0 && a.Probability != 0:
		return CrashPointState{}, fmt.Errorf("%w: give count >= 1 or a probability, not both", ErrBadCrashArm)
	case a.Count == 0 && !(a.Probability > 0 && a.Probability <= 1):
		return CrashPointState{}, fmt.Errorf("%w: give count >= 1 or a probability in (0, 1]", ErrBadCrashArm)
	case a.PowerLoss && n.db.Fault == nil:
		return CrashPointState{}, fmt.Errorf("power_loss at a crash point: %w", ErrNoFaultFS)
	case a.Point == CrashWALBeforeSync && n.db.Fault == nil:
		return CrashPointState{}, fmt.Errorf("crash point %s is reached in the fault-injection file system: %w", a.Point, ErrNoFaultFS)
	case a.TearSeed != nil && !a.PowerLoss:
		return CrashPointState{}, fmt.Errorf("%w: tear_seed needs power_loss", ErrBadCrashArm)
	}
	c := n.crash
	ca := &crashArm{CrashArm: a}
	if a.Probability > 0 {
		seed := int64(1)
		if a.Seed != nil {
			seed = *a.Seed
		}
		ca.rng = rand.New(rand.NewSource(seed))
	}
	c.mu.Lock()
	if c.arms[a.Point] == nil {
		c.armed.Add(1)
	}
	c.arms[a.Point] = ca
	c.mu.Unlock()
	n.log.Warn("crash point armed", "point", a.Point, "count", a.Count, "probability", a.Probability, "power_loss", a.PowerLoss)
	for _, s := range n.CrashPointStates() {
		if s.Name == a.Point {
			return s, nil
		}
	}
	return CrashPointState{}, nil
}

// DisarmCrashPoint disarms point, or every point when point is "".
func (n *Node) DisarmCrashPoint(point CrashPoint) error {
	if point != "" && !knownCrashPoint(point) {
		return fmt.Errorf("%w %q", ErrUnknownCrashPoint, point)
	}
	c := n.crash
	c.mu.Lock()
	defer c.mu.Unlock()
	for p := range c.arms {
		if point == "" || p == point {
			delete(c.arms, p)
			c.armed.Add(-1)
		}
	}
	return nil
}

// CrashPointStates lists every crash point with its arming, in table
// order.
func (n *Node) CrashPointStates() []CrashPointState {
	c := n.crash
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CrashPointState, 0, len(crashPointTable))
	for _, info := range crashPointTable {
		s := CrashPointState{CrashPointInfo: info}
		if a := c.arms[info.Name]; a != nil {
			arm := a.CrashArm
			s.Armed, s.Reached = &arm, a.reached
		}
		out = append(out, s)
	}
	return out
}

// disarmAll disarms every point: a graceful Stop closes the store, and a
// point still armed there (a WAL sync at close) would halt the stopping
// node forever instead of letting it stop.
func (c *crashState) disarmAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.arms)
	c.armed.Store(0)
}

// reach is called where point p is; it kills the process if p is armed
// and its count or draw says so, and otherwise returns at once.
func (c *crashState) reach(p CrashPoint) {
	if c.armed.Load() == 0 {
		return
	}
	c.mu.Lock()
	a := c.arms[p]
	if a == nil {
		c.mu.Unlock()
		return
	}
	a.reached++
	fire := a.Count > 0 && a.reached >= a.Count || a.rng != nil && a.rng.Float64() < a.Probability
	arm, reached := a.CrashArm, a.reached
	c.mu.Unlock()
	if fire {
		c.die(arm, reached)
	}
}

// reachAfterApply defers p until group's current apply batch has
// committed (applyDone).
func (c *crashState) reachAfterApply(group uint64, p CrashPoint) {
	if c.armed.Load() == 0 {
		return
	}
	c.mu.Lock()
	if c.arms[p] != nil {
		c.after[group] = append(c.after[group], p)
	}
	c.mu.Unlock()
}

// applyDone reaches the points deferred for group, then raft-after-apply.
func (c *crashState) applyDone(group uint64) {
	if c.armed.Load() == 0 {
		return
	}
	c.mu.Lock()
	ps := c.after[group]
	delete(c.after, group)
	c.mu.Unlock()
	for _, p := range ps {
		c.reach(p)
	}
	c.reach(CrashRaftAfterApply)
}

// die ends the node at a crash point: halt the disk (dropping the
// unsynced state first with power_loss), silence the peer transport, log
// one line naming the point, exit. It never returns: in a test whose Exit
// returns, the goroutine that reached the point stops here.
func (c *crashState) die(a CrashArm, reached int64) {
	n := c.n
	c.dieOnce.Do(func() {
		c.halted.Store(true)
		attrs := []any{"point", string(a.Point), "reached", reached, "power_loss", a.PowerLoss}
		if f := n.db.Fault; f != nil {
			if a.PowerLoss {
				rep, err := f.PowerLoss(a.TearSeed)
				attrs = append(attrs, lossAttrs(rep)...)
				if err != nil {
					attrs = append(attrs, "err", err.Error())
				}
			} else {
				f.Halt()
			}
		}
		n.silence()
		n.log.Warn("crash point reached", append(attrs, "exit_code", ExitCrashPoint)...)
		n.exit(ExitCrashPoint)
	})
	select {}
}

// exit ends the process with code (Config.Exit in tests).
func (n *Node) exit(code int) {
	if n.cfg.Exit != nil {
		n.cfg.Exit(code)
		return
	}
	os.Exit(code)
}
