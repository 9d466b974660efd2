package cluster

// This file holds cluster membership as __meta records it: the members
// with their state, the commands that change it, and the immutable view
// other goroutines read. How the Raft groups follow the record is in
// member_reconcile.go; the admin operations are in members_api.go.
//
// A member's life:
//
//	joining  --(voter in every group, __meta last)-->  voter
//	voter    --(DELETE)--> leaving --(in no group, __meta last)--> removed
//	joining  --(DELETE: abort)--> leaving --> removed
//
// joining and leaving are set by member_add and member_remove, which the
// __meta leader proposes after validating a request; voter and removed by
// member_state, which the __meta leader's reconciler proposes once every
// group's configuration shows the change done. Every transition is
// re-validated when it applies, deterministically on every replica. A
// removed member's id is never reused, and its messages are refused.

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
)

// MemberState is a member's state in __meta.
type MemberState string

// Member states (see the life cycle above).
const (
	MemberJoining MemberState = "joining"
	MemberVoter   MemberState = "voter"
	MemberLeaving MemberState = "leaving"
	MemberRemoved MemberState = "removed"
)

// Member is one broker of the cluster as __meta records it.
type Member struct {
	ID uint64 `json:"id"`
	// RaftAddr is where peers reach the member's peer transport.
	RaftAddr string `json:"raft_addr,omitempty"`
	// KafkaAddr and AdminAddr are the member's advertised Kafka and admin
	// HTTP addresses (the member reports them when it registers).
	KafkaAddr string      `json:"kafka_addr,omitempty"`
	AdminAddr string      `json:"admin_addr,omitempty"`
	State     MemberState `json:"state"`
	// Replaces is set on a joining member that takes a voter's place: in
	// every group one joint configuration change promotes it and removes
	// the replaced voter (Raft thesis 4.3).
	Replaces uint64 `json:"replaces,omitempty"`
	// Since is the __meta index of the last state change.
	Since uint64 `json:"since"`
}

// MemberSpec is a request to add a member (POST /admin/members).
type MemberSpec struct {
	ID        uint64 `json:"id"`
	RaftAddr  string `json:"raft_addr"`
	KafkaAddr string `json:"kafka_addr,omitempty"`
	// Replaces, when set, names a voter that the new member replaces
	// atomically (one joint change per group) once it caught up.
	Replaces uint64 `json:"replaces,omitempty"`
}

// Membership errors. The admin API maps each to an HTTP status, the Kafka
// layer to a KIP-853 error code.
var (
	// ErrMemberExists: the id is, or was, a member (ids are never reused).
	ErrMemberExists = errors.New("cluster: member id in use")
	// ErrUnknownMember: no such member (or it was removed already).
	ErrUnknownMember = errors.New("cluster: unknown member")
	// ErrChangeInProgress: another membership change is under way.
	ErrChangeInProgress = errors.New("cluster: membership change already in progress")
	// ErrWouldLoseQuorum: the new configuration's majority is not active.
	ErrWouldLoseQuorum = errors.New("cluster: change would lose quorum")
	// ErrInvalidMember: a malformed request (id 0, bad address).
	ErrInvalidMember = errors.New("cluster: invalid member")
	// ErrNotMember: a node that no member record knows tried to register
	// (a node started with --join that has not been added yet).
	ErrNotMember = errors.New("cluster: not a member")
	// ErrRemoved: this node was removed from the cluster; it no longer
	// serves. It wraps ErrNotLeader so that Kafka clients get
	// NOT_LEADER_OR_FOLLOWER / NOT_COORDINATOR and go to another broker.
	ErrRemoved = fmt.Errorf("%w: this node was removed from the cluster", ErrNotLeader)
)

const (
	opMemberAdd    = "member_add"
	opMemberRemove = "member_remove"
	opMemberState  = "member_state"
)

func (s MemberSpec) validate() error {
	if s.ID == 0 {
		return fmt.Errorf("%w: id must be >= 1", ErrInvalidMember)
	}
	if err := checkAddr(s.RaftAddr); err != nil {
		return fmt.Errorf("%w: raft_addr: %w", ErrInvalidMember, err)
	}
	if s.KafkaAddr != "" {
		if err := checkAddr(s.KafkaAddr); err != nil {
			return fmt.Errorf("%w: kafka_addr: %w", ErrInvalidMember, err)
		}
	}
	if s.Replaces == s.ID {
		return fmt.Errorf("%w: a member cannot replace itself", ErrInvalidMember)
	}
	return nil
}

func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", a, err)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", a)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q: port outside 1..65535", a)
	}
	return nil
}

// ensureMembers initialises the member records on the first __meta apply
// of a cluster (or of a store written before membership existed): the
// bootstrap voters, taken from __meta's configuration, which no
// configuration change can have altered yet because every change starts
// with a member_add that needs these records. m.mu is held.
func (m *metaSM) ensureMembers(index uint64) {
	st := m.st
	if st.Members != nil {
		return
	}
	st.Members = map[uint64]*Member{}
	voters := m.n.metaRaft.confState().GetVoters()
	for _, v := range voters {
		st.Members[v] = &Member{ID: v, State: MemberVoter, Since: index}
	}
	st.BootVoters = slices.Clone(voters)
	m.membersChanged = true
}

// inProgress returns a member that is joining or leaving, if any.
func (st *metaState) inProgress() *Member {
	for _, id := range slices.Sorted(maps.Keys(st.Members)) {
		if mb := st.Members[id]; mb.State == MemberJoining || mb.State == MemberLeaving {
			return mb
		}
	}
	return nil
}

// voterIDs lists the members in state voter, sorted.
func (st *metaState) voterIDs() []uint64 {
	var out []uint64
	for id, mb := range st.Members {
		if mb.State == MemberVoter {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// groupBootMembers is the configuration a partition group created now
// bootstraps with: the voters as voters, joining members as learners
// (leaving members are left out). Every replica computes it from the same
// __meta state at the same index. m.mu is held.
func (m *metaSM) groupBootMembers() (voters, learners []uint64) {
	for _, id := range slices.Sorted(maps.Keys(m.st.Members)) {
		switch m.st.Members[id].State {
		case MemberVoter:
			voters = append(voters, id)
		case MemberJoining:
			learners = append(learners, id)
		}
	}
	return voters, learners
}

// applyMembership applies the membership commands and checks a
// registration against the member records. handled is false for commands
// it does not own (a registration that may proceed included). m.mu is
// held.
func (m *metaSM) applyMembership(c *metaCommand, index uint64) (res any, handled bool) {
	st := m.st
	switch c.Op {
	case opRegister:
		if c.Broker == nil {
			return nil, false
		}
		mb := st.Members[uint64(c.Broker.ID)]
		switch {
		case mb == nil:
			return fmt.Errorf("register broker %d: %w", c.Broker.ID, ErrNotMember), true
		case mb.State == MemberRemoved:
			return fmt.Errorf("register broker %d: %w", c.Broker.ID, ErrRemoved), true
		}
		if c.Member != nil {
			// Peers keep their --peers addresses for ids listed there;
			// these records serve everybody else (members_api.go).
			if c.Member.RaftAddr != "" {
				mb.RaftAddr = c.Member.RaftAddr
			}
			if c.Member.AdminAddr != "" {
				mb.AdminAddr = c.Member.AdminAddr
			}
		}
		mb.KafkaAddr = net.JoinHostPort(c.Broker.Host, strconv.Itoa(int(c.Broker.Port)))
		m.membersChanged = true
		return nil, false
	case opMemberAdd:
		if c.Member == nil {
			return fmt.Errorf("%w: no member", ErrInvalidMember), true
		}
		spec := MemberSpec{ID: c.Member.ID, RaftAddr: c.Member.RaftAddr, KafkaAddr: c.Member.KafkaAddr, Replaces: c.Member.Replaces}
		if err := spec.validate(); err != nil {
			return err, true
		}
		if old := st.Members[spec.ID]; old != nil {
			return fmt.Errorf("add member %d: %w (state %s; ids are never reused)", spec.ID, ErrMemberExists, old.State), true
		}
		if p := st.inProgress(); p != nil {
			return fmt.Errorf("add member %d: %w (member %d is %s)", spec.ID, ErrChangeInProgress, p.ID, p.State), true
		}
		if spec.Replaces != 0 {
			if r := st.Members[spec.Replaces]; r == nil || r.State != MemberVoter {
				return fmt.Errorf("add member %d replacing %d: %w (not a voter)", spec.ID, spec.Replaces, ErrUnknownMember), true
			}
		}
		st.Members[spec.ID] = &Member{ID: spec.ID, RaftAddr: spec.RaftAddr, KafkaAddr: spec.KafkaAddr, State: MemberJoining, Replaces: spec.Replaces, Since: index}
		m.membersChanged = true
		return *st.Members[spec.ID], true
	case opMemberRemove:
		if c.Member == nil {
			return fmt.Errorf("%w: no member", ErrInvalidMember), true
		}
		id := c.Member.ID
		mb := st.Members[id]
		switch {
		case mb == nil || mb.State == MemberRemoved:
			return fmt.Errorf("remove member %d: %w", id, ErrUnknownMember), true
		case mb.State == MemberLeaving:
			return *mb, true // a repeated request: already under way
		case mb.State == MemberVoter:
			if p := st.inProgress(); p != nil {
				return fmt.Errorf("remove member %d: %w (member %d is %s)", id, ErrChangeInProgress, p.ID, p.State), true
			}
			if len(st.voterIDs()) <= 1 {
				return fmt.Errorf("remove member %d: %w (it is the last voter)", id, ErrWouldLoseQuorum), true
			}
		}
		// A joining member is aborted the same way: it leaves every
		// group it was added to (as a learner, or as a voter where the
		// promotion already happened).
		mb.State, mb.Since = MemberLeaving, index
		m.membersChanged = true
		return *mb, true
	case opMemberState:
		if c.Member == nil {
			return fmt.Errorf("%w: no member", ErrInvalidMember), true
		}
		mb := st.Members[c.Member.ID]
		switch {
		case mb == nil:
			return fmt.Errorf("member %d state: %w", c.Member.ID, ErrUnknownMember), true
		case mb.State == MemberJoining && c.Member.State == MemberVoter:
			mb.State, mb.Since = MemberVoter, index
			if r := st.Members[mb.Replaces]; mb.Replaces != 0 && r != nil && r.State == MemberVoter {
				r.State, r.Since = MemberRemoved, index
			}
		case mb.State == MemberLeaving && c.Member.State == MemberRemoved:
			mb.State, mb.Since = MemberRemoved, index
		default:
			// Proposed twice, or overtaken by another transition: the
			// first one that applied decided.
			return fmt.Errorf("member %d: %s -> %s: %w", mb.ID, mb.State, c.Member.State, ErrChangeInProgress), true
		}
		m.membersChanged = true
		return *mb, true
	}
	return nil, false
}

// memberView is an immutable copy of the member records, published after
// each __meta commit that changed them, for lock-free readers (the
// message filter, the reconcilers, Metadata).
type memberView struct {
	initialized bool
	list        []Member // sorted by id
	byID        map[uint64]Member
	// index is the membership version: the __meta index of the latest
	// state change of any member (the same on every node that applied
	// the same records).
	index uint64
}

func (v *memberView) get(id uint64) (Member, bool) {
	if v == nil {
		return Member{}, false
	}
	mb, ok := v.byID[id]
	return mb, ok
}

// removed reports whether id is a removed member.
func (v *memberView) removed(id uint64) bool {
	mb, ok := v.get(id)
	return ok && mb.State == MemberRemoved
}

// settled is true when no member is joining or leaving.
func (v *memberView) settled() bool {
	if v == nil {
		return true
	}
	for _, mb := range v.list {
		if mb.State == MemberJoining || mb.State == MemberLeaving {
			return false
		}
	}
	return true
}

// memberView builds the view from the state (m.mu held, read or write).
func (m *metaSM) buildMemberView() *memberView {
	v := &memberView{initialized: m.st.Members != nil, byID: map[uint64]Member{}}
	for _, id := range slices.Sorted(maps.Keys(m.st.Members)) {
		mb := *m.st.Members[id]
		v.list = append(v.list, mb)
		v.byID[id] = mb
		v.index = max(v.index, mb.Since)
	}
	return v
}

// publishMembers publishes a new member view and lets the node act on it
// (peer addresses, self-removal, waiters). It runs after the commit.
func (m *metaSM) publishMembers() {
	m.mu.RLock()
	v := m.buildMemberView()
	m.mu.RUnlock()
	m.n.members.Store(v)
	m.n.membersChanged(v)
}
