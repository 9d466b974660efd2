package cluster

// This file holds a Raft group's configuration (its ConfState) and the
// apply path of configuration-change entries: validation, persistence with
// the applied index, and the hand-over to raft.
//
// etcd raft does not re-deliver entries at or below Config.Applied after a
// restart, so the ConfState raft starts from (Storage.InitialState) must be
// the one as of the applied index, not the one of the last compaction. The
// apply batch that applies a configuration change therefore also writes the
// resulting ConfState (key confStateKey) next to the applied index; a
// received snapshot writes its ConfState the same way. At load the newer of
// that record and the compaction point's ConfState wins.

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble"
	"go.etcd.io/raft/v3/confchange"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"

	"github.com/chronik-chaos/chronik/broker/storage"
)

// confRecord is a ConfState and the log index at which it took effect.
// memberIndex is the __meta membership version (memberView.index) the
// reconciler acted on when it proposed the change, carried in the change's
// Context: a leader whose view of __meta is older must not act on it
// (member_reconcile.go).
type confRecord struct {
	index       uint64
	memberIndex uint64
	cs          *pb.ConfState
}

// confHistory remembers the configurations applied since the last
// compaction, so that a snapshot taken at applied index i (on any
// goroutine, see raftStorage.Snapshot) carries the ConfState as of i even
// if an apply batch that changes the configuration runs concurrently.
type confHistory struct {
	mu   sync.Mutex
	recs []confRecord // ascending index; recs[0] is at or below every snapshot index in use
}

func (h *confHistory) reset(r confRecord) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = []confRecord{r}
}

func (h *confHistory) add(r confRecord) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
}

// at returns the configuration in effect at index i.
func (h *confHistory) at(i uint64) *pb.ConfState {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := len(h.recs) - 1; k >= 0; k-- {
		if h.recs[k].index <= i {
			return h.recs[k].cs
		}
	}
	return h.recs[0].cs
}

// latest returns the newest configuration.
func (h *confHistory) latest() confRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.recs[len(h.recs)-1]
}

// compacted drops records older than the one in effect at index i.
func (h *confHistory) compacted(i uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := len(h.recs) - 1
	for k > 0 && h.recs[k].index > i {
		k--
	}
	h.recs = append([]confRecord(nil), h.recs[k:]...)
}

// confStateKey holds a group's ConfState as of its applied index: u64
// index, u64 membership version, then the protobuf ConfState.
func confStateKey(gid uint64) []byte { return storage.StateKey(gid, []byte("confstate")...) }

func encodeConfRecord(r confRecord) ([]byte, error) {
	v, err := proto.Marshal(pb.EnsureConfState(r.cs))
	if err != nil {
		return nil, fmt.Errorf("encode conf state: %w", err)
	}
	out := binary.BigEndian.AppendUint64(nil, r.index)
	out = binary.BigEndian.AppendUint64(out, r.memberIndex)
	return append(out, v...), nil
}

func (g *raftGroup) stageConfRecord(b *pebble.Batch, r confRecord) error {
	v, err := encodeConfRecord(r)
	if err != nil {
		return err
	}
	return b.Set(confStateKey(g.id), v, nil)
}

// loadConf returns the ConfState the group starts from: the applied-index
// record if it is at or after the compaction point, else the compaction
// point's.
func loadConf(db *storage.DB, gid uint64, rlog *storage.RaftLog) (confRecord, error) {
	meta := rlog.SnapshotMetadata()
	out := confRecord{index: meta.GetIndex(), cs: pb.EnsureConfState(meta.GetConfState())}
	v, ok, err := db.GetCopy(confStateKey(gid))
	if err != nil {
		return out, fmt.Errorf("load conf state of group %d: %w", gid, err)
	}
	if !ok {
		return out, nil
	}
	if len(v) < 16 {
		return out, fmt.Errorf("load conf state of group %d (key %x in %s): %w: %d bytes", gid, confStateKey(gid), db.Dir, storage.ErrCorrupt, len(v))
	}
	cs := &pb.ConfState{}
	if err := proto.Unmarshal(v[16:], cs); err != nil {
		return out, fmt.Errorf("load conf state of group %d (key %x in %s): %w: %w", gid, confStateKey(gid), db.Dir, storage.ErrCorrupt, err)
	}
	if idx := binary.BigEndian.Uint64(v); idx >= out.index {
		out = confRecord{index: idx, memberIndex: binary.BigEndian.Uint64(v[8:]), cs: cs}
	}
	return out, nil
}

// bootstrapConf initialises a new group's log with a snapshot at index 1,
// term 1, whose ConfState is cs. Every replica of the group bootstraps
// with the same cs (recorded in __meta when the topic was created), so the
// replicas agree from index 1 on; everything after comes through the log.
func bootstrapConf(rlog *storage.RaftLog, cs *pb.ConfState) error {
	meta := &pb.SnapshotMetadata{Index: new(uint64(1)), Term: new(uint64(1)), ConfState: proto.Clone(pb.EnsureConfState(cs)).(*pb.ConfState)}
	hs := &pb.HardState{Term: new(uint64(1)), Vote: new(uint64(0)), Commit: new(uint64(1))}
	return rlog.Save(hs, nil, meta, nil, true)
}

// confState returns the group's current (applied) configuration.
func (g *raftGroup) confState() *pb.ConfState { return g.conf.latest().cs }

// decodeConfChange decodes a configuration-change entry.
func decodeConfChange(e *pb.Entry) (*pb.ConfChangeV2, error) {
	switch e.GetType() {
	case pb.EntryType_EntryConfChange:
		cc := &pb.ConfChange{}
		if err := proto.Unmarshal(e.GetData(), cc); err != nil {
			return nil, err
		}
		return cc.AsV2(), nil
	case pb.EntryType_EntryConfChangeV2:
		cc := &pb.ConfChangeV2{}
		if err := proto.Unmarshal(e.GetData(), cc); err != nil {
			return nil, err
		}
		return cc, nil
	}
	return nil, fmt.Errorf("entry type %v is not a configuration change", e.GetType())
}

// nextConf computes the configuration that results from applying cc to cs
// with etcd raft's own rules (confchange.Changer), and the changes to hand
// to RawNode.ApplyConfChange. It returns an error, instead of the panic
// raft would raise, for a change that is invalid on top of cs: raft's
// propose-time checks are best effort (see raft.Config's
// DisableConfChangeValidation), and every replica reaches the same verdict
// at the same index, so skipping such an entry is deterministic.
//
// direct is the seeded bug Unsafe.DirectConfChange: a change that should
// enter a joint configuration is applied as consecutive simple changes of
// one voter each, so the voter set jumps from C_old to C_new at this entry
// without any joint quorum.
func nextConf(cs *pb.ConfState, cc *pb.ConfChangeV2, direct bool) (*pb.ConfState, []*pb.ConfChangeV2, error) {
	cfg, trk, err := confchange.Restore(confchange.Changer{Tracker: tracker.MakeProgressTracker(1, 0), LastIndex: 1}, cs)
	if err != nil {
		return nil, nil, fmt.Errorf("restore conf state %v: %w", cs, err)
	}
	tr := tracker.MakeProgressTracker(1, 0)
	tr.Config, tr.Progress = cfg, trk
	step := func(c *pb.ConfChangeV2) error {
		chg := confchange.Changer{Tracker: tr, LastIndex: 1}
		var err error
		switch autoLeave, joint := c.EnterJoint(); {
		case c.LeaveJoint():
			cfg, trk, err = chg.LeaveJoint()
		case joint:
			cfg, trk, err = chg.EnterJoint(autoLeave, c.GetChanges()...)
		default:
			cfg, trk, err = chg.Simple(c.GetChanges()...)
		}
		if err != nil {
			return err
		}
		tr.Config, tr.Progress = cfg, trk
		return nil
	}
	var steps []*pb.ConfChangeV2
	if _, joint := cc.EnterJoint(); direct && joint {
		for _, single := range cc.GetChanges() {
			steps = append(steps, &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{single}})
		}
	} else {
		steps = []*pb.ConfChangeV2{cc}
	}
	for _, s := range steps {
		if err := step(s); err != nil {
			return nil, nil, fmt.Errorf("conf change %s on %v: %w", confchange.Describe(s.GetChanges()...), cs, err)
		}
	}
	return tr.ConfState(), steps, nil
}

// applyConfEntry applies one committed configuration-change entry at
// index (group goroutine, inside the apply batch b): it persists the new
// ConfState in b and returns the changes to hand to raft once b commits.
// An invalid change is skipped with an error log, alike on every replica.
func (g *raftGroup) applyConfEntry(b *pebble.Batch, e *pb.Entry) []*pb.ConfChangeV2 {
	cc, err := decodeConfChange(e)
	if err != nil {
		g.log.Error("undecodable configuration change; skipped on every replica alike", "index", e.GetIndex(), "err", err)
		return nil
	}
	cur := g.confState()
	cs, steps, err := nextConf(cur, cc, g.node.cfg.Unsafe.DirectConfChange)
	if err != nil {
		g.log.Error("invalid configuration change; skipped on every replica alike", "index", e.GetIndex(), "err", err)
		return nil
	}
	rec := confRecord{index: e.GetIndex(), memberIndex: g.conf.latest().memberIndex, cs: cs}
	if ctx := cc.GetContext(); len(ctx) == 8 {
		rec.memberIndex = max(rec.memberIndex, binary.BigEndian.Uint64(ctx))
	}
	if err := g.stageConfRecord(b, rec); err != nil {
		g.log.Error("stage conf state", "index", e.GetIndex(), "err", err)
		g.node.fail(fmt.Errorf("group %s: %w", g.name, err))
		return nil
	}
	g.conf.add(rec)
	g.confVersion.Add(1)
	g.events.confApplied(g.log, e.GetIndex(), cur, cs)
	if g.node.cfg.Unsafe.DirectConfChange && len(steps) > 1 {
		g.log.Warn("unsafe: voter set changed in one step without a joint configuration", "index", e.GetIndex(), "change", confchange.Describe(cc.GetChanges()...), "conf", describeConf(cs))
	} else {
		g.log.Info("configuration change applied", "index", e.GetIndex(), "change", describeCC(cc), "conf", describeConf(cs))
	}
	return steps
}

// handConfToRaft passes applied configuration changes to raft (after the
// apply batch committed, before Advance) and checks that raft reached the
// configuration that was persisted.
func (g *raftGroup) handConfToRaft(steps []*pb.ConfChangeV2) {
	if len(steps) == 0 {
		return
	}
	g.mu.Lock()
	var cs *pb.ConfState
	for _, s := range steps {
		cs = g.rn.ApplyConfChange(s)
	}
	g.mu.Unlock()
	if err := cs.Equivalent(g.confState()); err != nil {
		// A programming error: raft and the persisted record disagree.
		g.log.Error("raft configuration differs from the persisted one", "err", err)
		g.node.fail(fmt.Errorf("group %s: configuration mismatch: %w", g.name, err))
	}
}

func describeCC(cc *pb.ConfChangeV2) string {
	switch _, joint := cc.EnterJoint(); {
	case cc.LeaveJoint():
		return "leave joint"
	case joint:
		return "enter joint: " + confchange.Describe(cc.GetChanges()...)
	}
	return confchange.Describe(cc.GetChanges()...)
}

func describeConf(cs *pb.ConfState) string {
	s := fmt.Sprintf("voters=%v", cs.GetVoters())
	if len(cs.GetVotersOutgoing()) > 0 {
		s += fmt.Sprintf("&&%v", cs.GetVotersOutgoing())
	}
	if len(cs.GetLearners()) > 0 {
		s += fmt.Sprintf(" learners=%v", cs.GetLearners())
	}
	if len(cs.GetLearnersNext()) > 0 {
		s += fmt.Sprintf(" learners_next=%v", cs.GetLearnersNext())
	}
	return s
}

// confOf is the bootstrap ConfState of voters and learners (sorted copies).
func confOf(voters, learners []uint64) *pb.ConfState {
	v := slices.Sorted(slices.Values(voters))
	l := slices.Sorted(slices.Values(learners))
	cs := &pb.ConfState{Voters: v}
	if len(l) > 0 {
		cs.Learners = l
	}
	return cs
}

// confRole is what id is in cs.
type confRole int

const (
	roleNone confRole = iota
	roleLearner
	roleVoter // in the incoming voters (and maybe the outgoing too)
	roleOutgoing
)

func roleIn(cs *pb.ConfState, id uint64) confRole {
	switch {
	case slices.Contains(cs.GetVoters(), id):
		return roleVoter
	case slices.Contains(cs.GetLearners(), id), slices.Contains(cs.GetLearnersNext(), id):
		return roleLearner
	case slices.Contains(cs.GetVotersOutgoing(), id):
		return roleOutgoing
	}
	return roleNone
}

func isJoint(cs *pb.ConfState) bool { return len(cs.GetVotersOutgoing()) > 0 }
