package cluster

// This file holds the Ready steps of doc.go's "The Ready loop": persist,
// send, apply, publish, Advance, and log compaction after them.

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// handleReady drains Ready in the order etcd raft requires: persist, send,
// apply, Advance (see doc.go). g.mu is NOT held while persisting and
// applying: proposers keep appending to raft meanwhile (raft allows Step
// and Propose between Ready and Advance), so the next Ready carries every
// proposal that arrived during this fsync. Holding the lock across the
// fsync made each Ready carry one or two proposals.
func (g *raftGroup) handleReady() error {
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
		applyFirst := g.node.cfg.Unsafe.ApplyBeforeSave
		if applyFirst {
			// Seeded bug: the state machine (and its applied index)
			// runs ahead of the log and hard state saved below.
			if err := g.apply(rd.CommittedEntries); err != nil {
				return err
			}
		}
		if err := g.persist(rd); err != nil {
			return err
		}
		snapTo = append(snapTo, g.send(late)...)
		if g.spec != nil {
			g.spec.appended(g, rd.Entries)
		}
		if !applyFirst {
			if err := g.apply(rd.CommittedEntries); err != nil {
				return err
			}
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

func (g *raftGroup) persist(rd raft.Ready) error {
	var saved bool
	var snapMeta *pb.SnapshotMetadata
	var extra func(*pebble.Batch) error
	if rd.Snapshot != nil && !raft.IsEmptySnap(rd.Snapshot) {
		snap := rd.Snapshot
		snapMeta = snap.GetMetadata()
		g.sm.lock()
		defer func() { g.sm.unlock(); g.sm.committed() }()
		rec := confRecord{index: snapMeta.GetIndex(), cs: pb.EnsureConfState(snapMeta.GetConfState())}
		extra = func(b *pebble.Batch) error {
			if err := g.stageConfRecord(b, rec); err != nil {
				return err
			}
			if err := g.sm.restore(b, snap.GetMetadata().GetIndex(), snap.GetData()); err != nil {
				return err
			}
			g.node.crash.reach(CrashSnapshotWhileWriting)
			return nil
		}
		defer func() {
			// raft switched to the snapshot's configuration when it
			// handed it out; the record follows once it is durable.
			if saved {
				g.conf.reset(rec)
				g.confVersion.Add(1)
			}
		}()
		g.node.metrics.snapshots.Inc()
		g.log.Info("applying snapshot", "index", snapMeta.GetIndex(), "term", snapMeta.GetTerm(), "bytes", len(snap.GetData()))
	}
	hs := rd.HardState
	if len(rd.Entries) == 0 && snapMeta == nil && raft.IsEmptyHardState(hs) {
		return nil
	}
	g.node.crash.reach(CrashRaftBeforeSave)
	if err := g.rlog.Save(hs, rd.Entries, snapMeta, extra, rd.MustSync || snapMeta != nil); err != nil {
		return fmt.Errorf("persist ready: %w", err)
	}
	g.events.persisted(g.log, hs)
	saved = true
	g.node.crash.reach(CrashRaftAfterSave)
	if snapMeta != nil {
		g.pubApplied.Store(snapMeta.GetIndex())
		g.node.crash.reach(CrashSnapshotAfterInstall)
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
func (g *raftGroup) send(msgs []*pb.Message) (snapTo []uint64) {
	if len(msgs) == 0 {
		return nil
	}
	byPeer := make(map[uint64][]GroupMessage, 2)
	for _, m := range msgs {
		byPeer[m.GetTo()] = append(byPeer[m.GetTo()], GroupMessage{Group: g.id, Msg: m})
		if m.GetType() == pb.MessageType_MsgSnap {
			snapTo = append(snapTo, m.GetTo())
			g.node.metrics.snapshotsSent.Inc()
			g.log.Info("sending snapshot", "to", m.GetTo(), "index", m.GetSnapshot().GetMetadata().GetIndex(), "bytes", len(m.GetSnapshot().GetData()))
		}
	}
	for to, gm := range byPeer {
		g.node.tr.Send(to, gm)
	}
	return snapTo
}

// apply applies committed entries in one pebble batch, persisting the
// applied index with the data so a restart resumes exactly after it.
func (g *raftGroup) apply(ents []*pb.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	type delivery struct {
		id  uint64
		res any
	}
	var out []delivery
	g.node.crash.reach(CrashRaftBeforeApply)
	var confSteps []*pb.ConfChangeV2
	b := g.node.db.NewBatch()
	defer b.Close()
	g.sm.lock()
	last := g.sm.applied()
	for _, e := range ents {
		if e.GetIndex() <= last {
			continue
		}
		last = e.GetIndex()
		if t := e.GetType(); t == pb.EntryType_EntryConfChange || t == pb.EntryType_EntryConfChangeV2 {
			// Membership changes (confchange.go): persisted in this
			// batch, handed to raft after it commits.
			confSteps = append(confSteps, g.applyConfEntry(b, e)...)
			continue
		}
		if e.GetType() != pb.EntryType_EntryNormal || len(e.GetData()) < 8 {
			// Empty entries are the leaders' no-ops.
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
	g.handConfToRaft(confSteps)
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
	g.node.crash.applyDone(g.id)
	return nil
}

// observe publishes role, leader and term, and fails pending proposals on
// a leadership change (their outcome is unknown: they may still commit).
func (g *raftGroup) observe(rd raft.Ready) {
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
			g.events.becameLeader(g.log, term)
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

// maybeCompact compacts the log once SnapshotEntries entries were applied
// beyond the last compaction point plus the SnapshotCatchUpEntries it
// keeps: the new compaction point is that many entries below the applied
// index, so a follower lagging by less catches up from the log, and one
// lagging by more gets a snapshot. The state machine's data of every
// compacted entry is durable because Compact's synced commit also syncs
// the earlier unsynced apply batches (pebble's WAL is sequential).
func (g *raftGroup) maybeCompact() error {
	applied := g.sm.applied()
	meta := g.rlog.SnapshotMetadata()
	keep := g.node.cfg.SnapshotCatchUpEntries
	if applied < meta.GetIndex()+g.node.cfg.SnapshotEntries+keep {
		return nil
	}
	g.node.crash.reach(CrashLogCompaction)
	at := applied - keep
	if err := g.rlog.Compact(at, g.conf.at(at)); err != nil {
		return err
	}
	g.conf.compacted(at)
	g.node.metrics.compactions.Inc()
	g.log.Debug("compacted raft log", "index", at, "applied", applied)
	if g.stale != nil {
		g.stale.capture(g)
	}
	return nil
}
