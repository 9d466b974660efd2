package cluster

// This file holds the membership operations the admin API (GET/POST
// /admin/members, DELETE /admin/members/{id}) and the Kafka KRaft quorum
// APIs (DescribeQuorum, AddRaftVoter, RemoveRaftVoter) call. Changes are
// validated and proposed on the __meta leader only: the checks that need
// liveness ("would lose quorum") can only be made there. A follower
// answers with a *NotMetaLeaderError naming the leader and its admin
// address, which the admin API uses to forward the request.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// NotMetaLeaderError is returned by the membership operations on a node
// that does not lead __meta. It wraps ErrNotLeader (ErrNotReady when no
// leader is known).
type NotMetaLeaderError struct {
	// Leader is the __meta leader's id (0: unknown) and AdminAddr its
	// advertised admin address ("" when unknown).
	Leader    uint64
	AdminAddr string
}

func (e *NotMetaLeaderError) Error() string {
	if e.Leader == 0 {
		return "membership change: no __meta leader known"
	}
	return fmt.Sprintf("membership change: node %d leads __meta (admin %q)", e.Leader, e.AdminAddr)
}

func (e *NotMetaLeaderError) Unwrap() error {
	if e.Leader == 0 {
		return ErrNotReady
	}
	return ErrNotLeader
}

// MemberStatus is one member as GET /admin/members reports it: the record,
// and in how many of the answering node's Raft groups it is a voter or a
// learner (out of Groups).
type MemberStatus struct {
	Member
	VoterIn   int `json:"voter_in"`
	LearnerIn int `json:"learner_in"`
	Groups    int `json:"groups"`
}

// MembersReport is the document of GET /admin/members.
type MembersReport struct {
	// NodeID is the answering node; Leader the __meta leader (0: unknown).
	NodeID  uint64         `json:"node_id"`
	Leader  uint64         `json:"leader"`
	Members []MemberStatus `json:"members"`
}

// checkMetaLeader returns nil on the __meta leader.
func (n *Node) checkMetaLeader() error {
	if n.removedSelf.Load() {
		return ErrRemoved
	}
	if n.cfg.Standalone {
		return fmt.Errorf("%w: a standalone node has no membership to change (use raft-cluster)", ErrInvalidMember)
	}
	if n.metaRaft.isLeader() {
		return nil
	}
	l := n.metaRaft.pubLead.Load()
	mb, _ := n.members.Load().get(l)
	return &NotMetaLeaderError{Leader: l, AdminAddr: mb.AdminAddr}
}

// Members reports the member records. With linearizable set the node first
// catches up with __meta's commit (ReadIndex), so the answer reflects
// every change committed before the call, from any node.
func (n *Node) Members(ctx context.Context, linearizable bool) (MembersReport, error) {
	if n.removedSelf.Load() {
		return MembersReport{}, ErrRemoved
	}
	if linearizable {
		if err := n.metaRaft.linearizable(ctx); err != nil {
			return MembersReport{}, fmt.Errorf("read members: %w", err)
		}
	}
	rep := MembersReport{NodeID: n.cfg.NodeID, Leader: n.metaRaft.pubLead.Load(), Members: []MemberStatus{}}
	n.mu.RLock()
	confs := make([]*pb.ConfState, 0, len(n.raftGroups))
	for _, g := range n.raftGroups {
		confs = append(confs, g.confState())
	}
	n.mu.RUnlock()
	for _, mb := range n.members.Load().list {
		ms := MemberStatus{Member: mb, Groups: len(confs)}
		for _, cs := range confs {
			switch roleIn(cs, mb.ID) {
			case roleVoter:
				ms.VoterIn++
			case roleLearner:
				ms.LearnerIn++
			}
		}
		rep.Members = append(rep.Members, ms)
	}
	return rep, nil
}

// AddMember records a new member (state joining) on the __meta leader and
// returns once that record is committed and applied here. The member then
// joins every group as a learner and is promoted group by group once
// caught up (member_reconcile.go); WaitMember waits for the end.
func (n *Node) AddMember(ctx context.Context, spec MemberSpec) (Member, error) {
	if err := spec.validate(); err != nil {
		return Member{}, err
	}
	if err := n.checkMetaLeader(); err != nil {
		return Member{}, err
	}
	if err := n.metaRaft.linearizable(ctx); err != nil {
		return Member{}, fmt.Errorf("add member %d: %w", spec.ID, err)
	}
	v := n.members.Load()
	if !v.initialized {
		return Member{}, fmt.Errorf("add member %d: %w (membership not recorded yet)", spec.ID, ErrNotReady)
	}
	if old, ok := v.get(spec.ID); ok {
		return Member{}, fmt.Errorf("add member %d: %w (state %s; ids are never reused)", spec.ID, ErrMemberExists, old.State)
	}
	if p := inProgressOf(v); p != nil {
		return Member{}, fmt.Errorf("add member %d: %w (member %d is %s)", spec.ID, ErrChangeInProgress, p.ID, p.State)
	}
	if spec.Replaces != 0 {
		r, ok := v.get(spec.Replaces)
		if !ok || r.State != MemberVoter {
			return Member{}, fmt.Errorf("add member %d replacing %d: %w (not a voter)", spec.ID, spec.Replaces, ErrUnknownMember)
		}
		// The swap needs a majority of the new voter set; the new member
		// counts once it caught up.
		next := without(voterIDsOf(v), spec.Replaces)
		if err := n.awaitActive(ctx, next, majority(len(next)+1)-1); err != nil {
			return Member{}, fmt.Errorf("add member %d replacing %d: %w", spec.ID, spec.Replaces, err)
		}
	}
	res, err := n.proposeMeta(ctx, metaCommand{Op: opMemberAdd, Member: &Member{ID: spec.ID, RaftAddr: spec.RaftAddr, KafkaAddr: spec.KafkaAddr, Replaces: spec.Replaces}})
	if err != nil {
		return Member{}, err
	}
	mb, _ := res.(Member)
	n.log.Info("membership change: member added as joining", "member", mb.ID, "raft_addr", mb.RaftAddr, "replaces", mb.Replaces)
	return mb, nil
}

// RemoveMember starts removing a member on the __meta leader (state
// leaving) and returns once that is committed and applied here. Removing a
// joining member aborts its join. WaitMember waits for the end.
func (n *Node) RemoveMember(ctx context.Context, id uint64) (Member, error) {
	if err := n.checkMetaLeader(); err != nil {
		return Member{}, err
	}
	if err := n.metaRaft.linearizable(ctx); err != nil {
		return Member{}, fmt.Errorf("remove member %d: %w", id, err)
	}
	v := n.members.Load()
	mb, ok := v.get(id)
	switch {
	case !ok || mb.State == MemberRemoved:
		return Member{}, fmt.Errorf("remove member %d: %w", id, ErrUnknownMember)
	case mb.State == MemberLeaving:
		return mb, nil
	case mb.State == MemberVoter:
		if p := inProgressOf(v); p != nil {
			return Member{}, fmt.Errorf("remove member %d: %w (member %d is %s)", id, ErrChangeInProgress, p.ID, p.State)
		}
		next := without(voterIDsOf(v), id)
		if len(next) == 0 {
			return Member{}, fmt.Errorf("remove member %d: %w (it is the last voter)", id, ErrWouldLoseQuorum)
		}
		if err := n.awaitActive(ctx, next, majority(len(next))); err != nil {
			return Member{}, fmt.Errorf("remove member %d: %w", id, err)
		}
	}
	res, err := n.proposeMeta(ctx, metaCommand{Op: opMemberRemove, Member: &Member{ID: id}})
	if err != nil {
		return Member{}, err
	}
	out, _ := res.(Member)
	n.log.Info("membership change: member leaving", "member", id, "was", mb.State)
	return out, nil
}

// WaitMember waits until member id reaches state want (voter after an
// add, removed after a removal) in this node's view, or ctx ends; it
// returns the last record seen. A removal of the member while waiting for
// voter ends the wait with ErrChangeAborted.
func (n *Node) WaitMember(ctx context.Context, id uint64, want MemberState) (Member, error) {
	for {
		ch := n.memberWake.wait()
		mb, ok := n.members.Load().get(id)
		if id == n.cfg.NodeID && want == MemberRemoved && n.removedSelf.Load() {
			// This node was removed: it hears no more __meta entries,
			// but a peer told it (or its own __meta applied it).
			mb.State = MemberRemoved
			return mb, nil
		}
		switch {
		case !ok:
			return mb, fmt.Errorf("member %d: %w", id, ErrUnknownMember)
		case mb.State == want:
			return mb, nil
		case want == MemberVoter && (mb.State == MemberLeaving || mb.State == MemberRemoved):
			return mb, fmt.Errorf("member %d: %w", id, ErrChangeAborted)
		}
		if n.removedSelf.Load() && id != n.cfg.NodeID {
			return mb, ErrRemoved
		}
		select {
		case <-ctx.Done():
			return mb, ctx.Err()
		case <-ch:
		}
	}
}

// ErrChangeAborted: the member being added was removed before it became a
// voter.
var ErrChangeAborted = errors.New("cluster: membership change aborted")

// awaitActive waits, up to two election timeouts, until at least need of
// ids are active in __meta (this leader counts itself); otherwise the
// change would wedge the cluster waiting for nodes that do not answer.
func (n *Node) awaitActive(ctx context.Context, ids []uint64, need int) error {
	limit := time.Duration(2*n.cfg.ElectionTicks) * n.cfg.TickInterval
	deadline := time.Now().Add(limit)
	for {
		active := n.metaRaft.activeVoters(ids)
		if active >= need {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %d of %v active, %d needed", ErrWouldLoseQuorum, active, ids, need)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(n.cfg.TickInterval):
		}
	}
}

// activeVoters counts the ids of set that the leader heard from within the
// last election timeout.
func (g *raftGroup) activeVoters(ids []uint64) int {
	g.mu.Lock()
	st := g.rn.Status()
	g.mu.Unlock()
	if st.RaftState != raft.StateLeader {
		return 0
	}
	c := 0
	for _, id := range ids {
		if pr, ok := st.Progress[id]; id == g.node.cfg.NodeID || (ok && pr.RecentActive) {
			c++
		}
	}
	return c
}

func inProgressOf(v *memberView) *Member {
	if v == nil {
		return nil
	}
	for _, mb := range v.list {
		if mb.State == MemberJoining || mb.State == MemberLeaving {
			return &mb
		}
	}
	return nil
}

func voterIDsOf(v *memberView) []uint64 {
	var out []uint64
	if v == nil {
		return nil
	}
	for _, mb := range v.list {
		if mb.State == MemberVoter {
			out = append(out, mb.ID)
		}
	}
	return out
}

// memberStatus fills /status's membership fields.
func (n *Node) memberStatus(s *Status) {
	v := n.members.Load()
	if mb, ok := v.get(n.cfg.NodeID); ok {
		s.MemberState = mb.State
	}
	if n.removedSelf.Load() {
		s.MemberState = MemberRemoved
	}
	if v != nil {
		s.Members = slices.Clone(v.list)
	}
}

func confStatus(gs *RaftGroupStatus, cs *pb.ConfState) {
	gs.Voters = slices.Clone(cs.GetVoters())
	if gs.Voters == nil {
		gs.Voters = []uint64{}
	}
	gs.VotersOutgoing = slices.Clone(cs.GetVotersOutgoing())
	gs.Learners = slices.Clone(cs.GetLearners())
}

// QuorumReplica is one voter or learner of __meta as DescribeQuorum
// reports it.
type QuorumReplica struct {
	ID uint64
	// Match is the leader's view of the replica's durable log end (-1:
	// unknown, on a follower).
	Match  int64
	Active bool
}

// Quorum describes __meta's Raft quorum (Kafka's DescribeQuorum).
type Quorum struct {
	Leader   uint64
	Term     uint64
	Commit   uint64
	IsLeader bool
	Voters   []QuorumReplica
	Learners []QuorumReplica
}

// MetaQuorum describes __meta's configuration and, on the leader, each
// replica's progress.
func (n *Node) MetaQuorum() (Quorum, error) {
	if n.removedSelf.Load() {
		return Quorum{}, ErrRemoved
	}
	g := n.metaRaft
	g.mu.Lock()
	st := g.rn.Status()
	g.mu.Unlock()
	q := Quorum{Leader: st.Lead, Term: st.HardState.GetTerm(), Commit: st.HardState.GetCommit(), IsLeader: st.RaftState == raft.StateLeader}
	cs := g.confState()
	rep := func(id uint64) QuorumReplica {
		r := QuorumReplica{ID: id, Match: -1}
		if pr, ok := st.Progress[id]; ok && q.IsLeader {
			r.Match, r.Active = int64(pr.Match), pr.RecentActive || id == n.cfg.NodeID
		}
		return r
	}
	voters := slices.Sorted(slices.Values(append(slices.Clone(cs.GetVoters()), cs.GetVotersOutgoing()...)))
	for _, id := range slices.Compact(voters) {
		q.Voters = append(q.Voters, rep(id))
	}
	for _, id := range cs.GetLearners() {
		q.Learners = append(q.Learners, rep(id))
	}
	return q, nil
}

// Member returns one member record as this node knows it.
func (n *Node) Member(id uint64) (Member, bool) { return n.members.Load().get(id) }
