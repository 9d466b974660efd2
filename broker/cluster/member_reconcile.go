package cluster

// This file holds the membership reconciler: on every node, for every Raft
// group the node leads, it compares the group's configuration with the
// member records of __meta and proposes the next configuration change,
// one at a time. Because it only ever compares and proposes, a leader that
// takes over half way (after a crash, a partition, a transfer) simply
// continues; nothing about a change in flight lives outside the logs.
//
// Rules, in order, for a group g led by this node:
//
//  1. A leaving (or removed) member still in g is removed: a learner with
//     a simple change, a voter with a joint change (ConfChangeV2,
//     ConfChangeTransitionJointImplicit: raft enters C_old,new and the
//     leader leaves it by itself once the entry applies, "auto leave").
//     If the leaving voter is this leader, it transfers leadership first
//     to the most caught-up remaining voter. Not proposed while a majority
//     of the new voter set is inactive (it would wedge the group).
//  2. A joining or voter member absent from g is added as a learner
//     (simple change): it receives a snapshot, then the log, and does not
//     count in any quorum.
//  3. A learner that should vote is promoted once caught up (below): a
//     joint change adding it, which also removes the voter it replaces
//     when the member was added with "replaces".
//  4. __meta is last: it removes a leaving member only once no partition
//     group has it any more, promotes a joining member only once every
//     partition group has it as a voter, and after that the __meta leader
//     records the final state (member_state voter / removed).
//
// Caught up: in g, the leader's progress for the learner is in state
// Replicate (its snapshot, if any, was installed and it follows the log),
// it answered within the last election timeout (RecentActive), and its
// durable match index is within catchUpMaxLag entries of the leader's
// last durable index. The rule is per group; the member becomes a voter in
// __meta, and "voter" in the records, only once it is a voter everywhere.

import (
	"encoding/binary"
	"encoding/json"
	"slices"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
)

const (
	// reconfEveryTicks is how often a leader runs the reconciler.
	reconfEveryTicks = 2
	// catchUpMaxLag is how far (in entries) behind the leader's last index
	// a learner may be and still count as caught up: about one round trip
	// of pipelined appends under load.
	catchUpMaxLag = 128
)

// reconfState is the reconciler's per-group bookkeeping (g.mu guards it).
type reconfState struct {
	lastRun int
	// proposedTick/proposedVer: a configuration change proposed at this
	// tick is awaited until the group's confVersion moves past
	// proposedVer, or for two election timeouts.
	proposedTick int
	proposedVer  uint64
	// jointSince is the tick the group was first seen joint (0: it is not).
	jointSince int
	// stateTick is when __meta's leader last proposed a member_state.
	stateTick int
}

// peerProgress is the part of raft's Progress the planner needs.
type peerProgress struct {
	match     uint64
	replicate bool
	active    bool
}

// planInput is everything the planner decides from: pure data, so that it
// is tested without any Raft group (member_reconcile_test.go).
type planInput struct {
	self      uint64
	meta      bool
	cs        *pb.ConfState
	members   []Member
	progress  map[uint64]peerProgress
	lastIndex uint64
	// partitions holds, for __meta's leader, this node's view of every
	// partition group's configuration (nil: the group does not exist here
	// yet, which counts as "not done").
	partitions []*pb.ConfState
	// promoteEarly is the seeded bug Unsafe.PromoteEarly.
	promoteEarly bool
}

type actionKind int

const (
	actNone actionKind = iota
	actPropose
	actTransfer
	actMemberState
)

type action struct {
	kind   actionKind
	cc     *pb.ConfChangeV2
	to     uint64
	member Member
	why    string
}

func single(t pb.ConfChangeType, id uint64) *pb.ConfChangeSingle {
	return &pb.ConfChangeSingle{Type: t.Enum(), NodeId: new(id)}
}

func simpleCC(cs ...*pb.ConfChangeSingle) *pb.ConfChangeV2 {
	return &pb.ConfChangeV2{Changes: cs}
}

func jointCC(cs ...*pb.ConfChangeSingle) *pb.ConfChangeV2 {
	return &pb.ConfChangeV2{Transition: pb.ConfChangeTransition_ConfChangeTransitionJointImplicit.Enum(), Changes: cs}
}

func majority(n int) int { return n/2 + 1 }

// activeCount counts the ids of set that are active (self always is).
func (in *planInput) activeCount(set []uint64) int {
	c := 0
	for _, id := range set {
		if id == in.self || in.progress[id].active {
			c++
		}
	}
	return c
}

func (in *planInput) caughtUp(id uint64) bool {
	if in.promoteEarly {
		// Seeded bug: "the learner is in the configuration, so it will
		// catch up soon enough".
		return true
	}
	pr, ok := in.progress[id]
	return ok && pr.replicate && pr.active && pr.match+catchUpMaxLag >= in.lastIndex
}

// everyPartition reports whether pred holds for every partition group's
// configuration (false when one is missing locally).
func (in *planInput) everyPartition(pred func(*pb.ConfState) bool) bool {
	for _, cs := range in.partitions {
		if cs == nil || !pred(cs) {
			return false
		}
	}
	return true
}

// transferTarget picks the remaining voter to hand leadership to: active,
// with the highest match.
func (in *planInput) transferTarget(voters []uint64, not ...uint64) uint64 {
	var best uint64
	var bestMatch uint64
	for _, id := range voters {
		if id == in.self || slices.Contains(not, id) {
			continue
		}
		pr := in.progress[id]
		if !pr.active {
			continue
		}
		if best == 0 || pr.match > bestMatch {
			best, bestMatch = id, pr.match
		}
	}
	return best
}

func without(ids []uint64, x uint64) []uint64 {
	return slices.DeleteFunc(slices.Clone(ids), func(id uint64) bool { return id == x })
}

// planReconfig decides the next step for one group (see the file comment).
func planReconfig(in planInput) action {
	if isJoint(in.cs) {
		return action{} // raft leaves it by itself (auto leave)
	}
	voters := in.cs.GetVoters()
	// A voter that a joining member replaces is on its way out of every
	// group where the swap already happened: never re-added.
	replaced := map[uint64]bool{}
	for _, mb := range in.members {
		if mb.State == MemberJoining && mb.Replaces != 0 {
			replaced[mb.Replaces] = true
		}
	}
	// 1. Members on their way out.
	for _, mb := range in.members {
		if mb.State != MemberLeaving && mb.State != MemberRemoved {
			continue
		}
		x := mb.ID
		role := roleIn(in.cs, x)
		if role == roleNone {
			continue
		}
		if in.meta && !in.everyPartition(func(cs *pb.ConfState) bool { return roleIn(cs, x) == roleNone }) {
			continue // __meta is last
		}
		if role == roleLearner {
			return action{kind: actPropose, cc: simpleCC(single(pb.ConfChangeType_ConfChangeRemoveNode, x)), why: "remove leaving learner"}
		}
		rest := without(voters, x)
		if len(rest) == 0 {
			continue // never the last voter
		}
		if in.activeCount(rest) < majority(len(rest)) {
			continue // would lose quorum: wait
		}
		if x == in.self {
			if to := in.transferTarget(rest); to != 0 {
				return action{kind: actTransfer, to: to, why: "leader is leaving"}
			}
			continue
		}
		return action{kind: actPropose, cc: jointCC(single(pb.ConfChangeType_ConfChangeRemoveNode, x)), why: "remove leaving voter"}
	}
	// 2. Members that should be here and are not.
	for _, mb := range in.members {
		if (mb.State != MemberJoining && mb.State != MemberVoter) || replaced[mb.ID] {
			continue
		}
		if roleIn(in.cs, mb.ID) == roleNone {
			return action{kind: actPropose, cc: simpleCC(single(pb.ConfChangeType_ConfChangeAddLearnerNode, mb.ID)), why: "add learner"}
		}
	}
	// 3. Learners that should vote.
	for _, mb := range in.members {
		x := mb.ID
		if (mb.State != MemberJoining && mb.State != MemberVoter) || replaced[x] || roleIn(in.cs, x) != roleLearner {
			continue
		}
		r := uint64(0)
		if mb.State == MemberJoining && mb.Replaces != 0 && roleIn(in.cs, mb.Replaces) == roleVoter {
			r = mb.Replaces
		}
		if in.meta && mb.State == MemberJoining && !in.everyPartition(func(cs *pb.ConfState) bool {
			return roleIn(cs, x) == roleVoter && (mb.Replaces == 0 || roleIn(cs, mb.Replaces) == roleNone)
		}) {
			continue // __meta is last
		}
		if !in.caughtUp(x) {
			continue
		}
		next := append(slices.Clone(voters), x)
		changes := []*pb.ConfChangeSingle{single(pb.ConfChangeType_ConfChangeAddNode, x)}
		if r != 0 {
			next = without(next, r)
			changes = append(changes, single(pb.ConfChangeType_ConfChangeRemoveNode, r))
		}
		if !in.promoteEarly && in.activeCount(next) < majority(len(next)) {
			continue
		}
		if r == in.self {
			if to := in.transferTarget(next, x); to != 0 {
				return action{kind: actTransfer, to: to, why: "leader is being replaced"}
			}
			// No other voter (a one-voter group): the swap makes this
			// leader step down (raft.Config.StepDownOnRemoval).
		}
		return action{kind: actPropose, cc: jointCC(changes...), why: "promote caught-up learner"}
	}
	// 4. __meta records the outcome once every group shows it.
	if in.meta {
		for _, mb := range in.members {
			x := mb.ID
			switch mb.State {
			case MemberJoining:
				done := func(cs *pb.ConfState) bool {
					return roleIn(cs, x) == roleVoter && !isJoint(cs) && (mb.Replaces == 0 || roleIn(cs, mb.Replaces) == roleNone)
				}
				if done(in.cs) && in.everyPartition(done) {
					return action{kind: actMemberState, member: Member{ID: x, State: MemberVoter}, why: "voter in every group"}
				}
			case MemberLeaving:
				gone := func(cs *pb.ConfState) bool { return roleIn(cs, x) == roleNone && !isJoint(cs) }
				if gone(in.cs) && in.everyPartition(gone) {
					return action{kind: actMemberState, member: Member{ID: x, State: MemberRemoved}, why: "in no group"}
				}
			}
		}
	}
	return action{}
}

// maybeReconfigure runs the reconciler on ticks with g.mu held (see the
// file comment); only a leader acts.
func (g *raftGroup) maybeReconfigure() {
	r := &g.reconf
	if g.ticks-r.lastRun < reconfEveryTicks {
		return
	}
	r.lastRun = g.ticks
	n := g.node
	v := n.members.Load()
	if v == nil || !v.initialized || n.removedSelf.Load() || g.removed.Load() {
		return
	}
	if g.rn.BasicStatus().RaftState != raft.StateLeader {
		r.proposedTick, r.jointSince = 0, 0
		return
	}
	et := n.cfg.ElectionTicks
	if r.proposedTick != 0 {
		if g.confVersion.Load() == r.proposedVer && g.ticks-r.proposedTick < 2*et {
			return
		}
		r.proposedTick = 0
	}
	rec := g.conf.latest()
	cs := rec.cs
	if rec.memberIndex > v.index {
		// The group's last change was made for newer member records than
		// this node has applied: acting on the old ones could undo it
		// (re-add a member being replaced, say). Wait for __meta.
		return
	}
	if isJoint(cs) {
		if r.jointSince == 0 {
			r.jointSince = g.ticks
		}
		if g.ticks-r.jointSince > 3*et {
			// raft's automatic leave is retried on every apply, but a
			// leader that applies nothing more would not retry: leave
			// explicitly (refused harmlessly if the automatic one won).
			g.log.Info("leaving joint configuration explicitly", "conf", describeConf(cs))
			g.proposeConf(&pb.ConfChangeV2{}, "leave joint")
			r.jointSince = g.ticks
		}
		return
	}
	r.jointSince = 0
	if v.settled() && !g.membersOutOfPlace(v, cs) {
		return
	}
	st := g.rn.Status()
	if st.LeadTransferee != raft.None {
		return
	}
	in := planInput{
		self:         n.cfg.NodeID,
		meta:         g.id == MetaGroupID,
		cs:           cs,
		members:      v.list,
		progress:     map[uint64]peerProgress{},
		promoteEarly: n.cfg.Unsafe.PromoteEarly,
	}
	in.lastIndex, _ = g.rlog.LastIndex()
	for id, pr := range st.Progress {
		in.progress[id] = peerProgress{match: pr.Match, replicate: pr.State == tracker.StateReplicate, active: pr.RecentActive}
	}
	if in.meta {
		in.partitions = n.partitionConfs()
	}
	act := planReconfig(in)
	switch act.kind {
	case actPropose:
		act.cc.Context = binary.BigEndian.AppendUint64(nil, v.index)
		g.proposeConf(act.cc, act.why)
	case actTransfer:
		if g.lastTransfer != 0 && g.ticks-g.lastTransfer < 2*et {
			return
		}
		g.lastTransfer = g.ticks
		g.log.Info("transferring leadership before a membership change", "to", act.to, "why", act.why)
		g.rn.TransferLeader(act.to)
	case actMemberState:
		if r.stateTick != 0 && g.ticks-r.stateTick < 2*et {
			return
		}
		r.stateTick = g.ticks
		g.log.Info("recording membership change done", "member", act.member.ID, "state", act.member.State, "why", act.why)
		g.proposeLocked(metaCommand{Op: opMemberState, Member: &act.member})
	}
}

// membersOutOfPlace is a quick check, for settled records, that every
// voter is a voter of cs and nobody else is in it.
func (g *raftGroup) membersOutOfPlace(v *memberView, cs *pb.ConfState) bool {
	for _, mb := range v.list {
		role := roleIn(cs, mb.ID)
		if (mb.State == MemberVoter) != (role == roleVoter) {
			return true
		}
		if mb.State == MemberRemoved && role != roleNone {
			return true
		}
	}
	return false
}

// proposeConf proposes a configuration change (g.mu held).
func (g *raftGroup) proposeConf(cc *pb.ConfChangeV2, why string) {
	if err := g.rn.ProposeConfChange(cc); err != nil {
		g.log.Debug("configuration change not proposed", "change", describeCC(cc), "err", err)
		return
	}
	g.reconf.proposedTick, g.reconf.proposedVer = g.ticks, g.confVersion.Load()
	g.log.Info("proposing configuration change", "change", describeCC(cc), "why", why, "conf", describeConf(g.confState()))
	g.wake()
}

// proposeLocked proposes a __meta command without waiting for it (g.mu
// held; the reconciler re-checks the outcome on its next pass).
func (g *raftGroup) proposeLocked(cmd metaCommand) {
	payload, err := json.Marshal(cmd)
	if err != nil {
		g.log.Error("encode membership command", "err", err)
		return
	}
	data := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(payload)), g.node.nextProposalID())
	data = append(data, payload...)
	if err := g.rn.Propose(data); err != nil {
		g.log.Debug("membership command not proposed", "op", cmd.Op, "err", err)
		return
	}
	g.wake()
}

// partitionConfs lists this node's view of every partition group's
// configuration, one entry per partition __meta knows (nil when the group
// does not exist here yet).
func (n *Node) partitionConfs() []*pb.ConfState {
	want := n.meta.partitionRaftGroups()
	out := make([]*pb.ConfState, 0, len(want))
	n.mu.RLock()
	defer n.mu.RUnlock()
	for gid := range want {
		g := n.raftGroups[gid]
		if g == nil {
			out = append(out, nil)
			continue
		}
		out = append(out, g.confState())
	}
	return out
}
