package cluster

// This file holds the power loss of a node running on the fault-injection
// file system (Config.FaultFS, chronik-server --fault-fs): the admin API's
// POST /admin/power-loss, and a crash point's power_loss.

import (
	"errors"
	"time"

	"github.com/chronik-chaos/chronik/broker/storage"
)

// Errors of power loss.
var (
	// ErrNoFaultFS: the node does not run on the fault-injection file
	// system, so it cannot tell what a power loss would drop.
	ErrNoFaultFS = errors.New("cluster: the fault-injection file system is off (chronik-server --fault-fs)")
	// ErrHalted: the node already died (a power loss or a crash point).
	ErrHalted = errors.New("cluster: the node already halted")
)

// FaultFS reports whether the node's store runs on the fault-injection
// file system.
func (n *Node) FaultFS() bool { return n.db.Fault != nil }

// PowerLoss cuts the node's power: the store's file system halts (no byte
// is written after this point), the peer transport goes silent, and every
// write no fsync covered and every create, rename and remove no directory
// sync covered is removed from the real disk (storage.FaultFS.PowerLoss;
// tearSeed as there). It logs one line with what was dropped and returns
// the report; the caller then exits the process with ExitPowerLoss (the
// admin API answers first). The node is dead afterwards: Stop returns at
// once, and a new node may open the same data directory.
func (n *Node) PowerLoss(tearSeed *int64) (storage.PowerLossReport, error) {
	f := n.db.Fault
	if f == nil {
		return storage.PowerLossReport{}, ErrNoFaultFS
	}
	var rep storage.PowerLossReport
	var err error
	ran := false
	n.crash.dieOnce.Do(func() {
		ran = true
		n.crash.halted.Store(true)
		rep, err = f.PowerLoss(tearSeed)
		n.silence()
		attrs := lossAttrs(rep)
		if err != nil {
			attrs = append(attrs, "err", err.Error())
		}
		n.log.Warn("power loss: dropped every write no fsync covered", append(attrs, "exit_code", ExitPowerLoss)...)
	})
	if !ran {
		return storage.PowerLossReport{}, ErrHalted
	}
	return rep, err
}

// lossAttrs are a power loss report as log attributes.
func lossAttrs(r storage.PowerLossReport) []any {
	attrs := []any{"bytes_dropped", r.BytesDropped, "files_truncated", r.FilesTruncated, "files_removed", r.FilesRemoved,
		"renames_undone", r.RenamesUndone, "removes_undone", r.RemovesUndone, "torn_writes", r.TornWrites}
	if r.TearSeed != nil {
		attrs = append(attrs, "tear_seed", *r.TearSeed)
	}
	return append(attrs, "files", r.Summary())
}

// silence stops the peer transport so that a dead node sends nothing more.
// The wait is bounded: a transport goroutine may be stuck behind a group
// whose store is halted, and the process exits anyway.
func (n *Node) silence() {
	done := make(chan struct{})
	go func() {
		n.tr.Stop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
		n.log.Warn("peer transport did not stop within 1s of the halt")
	}
}
