package kafka

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The classic consumer-group protocol (JoinGroup/SyncGroup/Heartbeat/
// LeaveGroup) runs on the coordinator, the node leading __meta. Membership
// lives in memory only, as in Kafka, where a coordinator failover also makes
// every member rejoin: the new coordinator does not know the old member ids
// and answers UNKNOWN_MEMBER_ID, and the clients rejoin from scratch.
// Committed offsets, the state that matters, go through __meta.
//
// One mutex guards every group: group requests are rare next to produce and
// fetch, and one lock keeps the state machine easy to reason about. Waiting
// JoinGroup and SyncGroup requests hold a buffered channel each, filled
// exactly once by whoever completes the phase; nothing blocks under the lock.

// groupState is the classic group state machine of Kafka's
// GroupMetadata.scala.
type groupState int

const (
	stateEmpty groupState = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
)

func (s groupState) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	}
	return "Dead"
}

type groupCoordinator struct {
	s       *Server
	mu      sync.Mutex
	groups  map[string]*group
	stopped bool
}

type group struct {
	name         string
	state        groupState
	generation   int32
	protocolType string
	protocol     string
	leader       string
	members      map[string]*member
	// pending holds member ids handed out with MEMBER_ID_REQUIRED
	// (KIP-394) that have not joined yet, with their expiry.
	pending   map[string]time.Time
	timer     *time.Timer // rebalance timeout or initial delay
	delaying  bool        // the initial rebalance delay is running
	joinOrder []string    // member ids in join order, for leader choice
}

type member struct {
	id           string
	instanceID   *string
	clientID     string
	clientHost   string
	protocolType string
	protocols    []kmsg.JoinGroupRequestProtocol
	session      time.Duration
	rebalance    time.Duration
	deadline     time.Time
	timer        *time.Timer

	join        chan *kmsg.JoinGroupResponse // set while a JoinGroup waits
	joinVersion int16
	sync        chan syncResult // set while a SyncGroup waits
	assignment  []byte
}

type syncResult struct {
	code       int16
	assignment []byte
}

func newGroupCoordinator(s *Server) *groupCoordinator {
	return &groupCoordinator{s: s, groups: map[string]*group{}}
}

// stop fails every waiting request and stops every timer.
func (c *groupCoordinator) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	c.resetLocked(kerr.NotCoordinator.Code)
}

// isCoordinatorLocked reports whether this node coordinates groups now.
// When it does not, any membership state left from an earlier term is
// dropped: it would be stale when this node becomes coordinator again.
func (c *groupCoordinator) isCoordinatorLocked() bool {
	b := c.s.backend
	if !c.stopped && b.CoordinatorID() == b.NodeID() && b.NodeID() >= 0 {
		return true
	}
	if len(c.groups) > 0 {
		c.resetLocked(kerr.NotCoordinator.Code)
	}
	return false
}

// checkGroupLocked is the first check of every request naming one group:
// this node must coordinate groups now, and the group must have a name.
func (c *groupCoordinator) checkGroupLocked(name string) int16 {
	if !c.isCoordinatorLocked() {
		return kerr.NotCoordinator.Code
	}
	if name == "" {
		return kerr.InvalidGroupID.Code
	}
	return 0
}

func (c *groupCoordinator) resetLocked(code int16) {
	for _, g := range c.groups {
		if g.timer != nil {
			g.timer.Stop()
		}
		for _, m := range g.members {
			m.release(code)
		}
	}
	c.groups = map[string]*group{}
}

// release stops m's session timer and answers its waiting JoinGroup or
// SyncGroup with code: m is leaving the group (or the group is going).
func (m *member) release(code int16) {
	if m.timer != nil {
		m.timer.Stop()
	}
	if m.join != nil {
		m.join <- joinError(m.joinVersion, code, m.id)
		m.join = nil
	}
	if m.sync != nil {
		m.sync <- syncResult{code: code}
		m.sync = nil
	}
}

func joinError(version int16, code int16, memberID string) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.Version = version
	r.ErrorCode = code
	r.Generation = -1
	r.MemberID = memberID
	return r
}

func newMemberID(clientID string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	if clientID == "" {
		clientID = "member"
	}
	return clientID + "-" + hex.EncodeToString(b[:])
}

// commonProtocols returns the protocol names in extra that every member of
// g except skip also supports.
func (g *group) commonProtocols(extra []kmsg.JoinGroupRequestProtocol, skip string) map[string]bool {
	common := map[string]bool{}
	for _, p := range extra {
		common[p.Name] = true
	}
	for id, m := range g.members {
		if id == skip {
			continue
		}
		have := map[string]bool{}
		for _, p := range m.protocols {
			have[p.Name] = true
		}
		for n := range common {
			if !have[n] {
				delete(common, n)
			}
		}
	}
	return common
}

// addMemberLocked registers m and arms its session timer.
func (c *groupCoordinator) addMemberLocked(g *group, m *member) {
	g.members[m.id] = m
	g.joinOrder = append(g.joinOrder, m.id)
	c.touchLocked(g, m)
}

// touchLocked extends m's session deadline (any request of the member is
// proof of life, as in Kafka).
func (c *groupCoordinator) touchLocked(g *group, m *member) {
	m.deadline = time.Now().Add(m.session)
	if m.timer == nil {
		name, id := g.name, m.id
		m.timer = time.AfterFunc(m.session, func() { c.expire(name, id) })
		return
	}
	m.timer.Reset(m.session)
}

// expire removes a member whose session ran out, unless it was seen since
// or is waiting in a JoinGroup or SyncGroup: a waiting member cannot
// heartbeat, and the rebalance timeout (join) or the leader's own session
// (sync) bounds its wait instead.
func (c *groupCoordinator) expire(name, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[name]
	if g == nil {
		return
	}
	m := g.members[id]
	if m == nil {
		return
	}
	if m.join != nil || m.sync != nil {
		m.timer.Reset(m.session)
		return
	}
	if left := time.Until(m.deadline); left > 0 {
		m.timer.Reset(left)
		return
	}
	c.s.log.Info("group member session expired", "group", name, "member", id)
	c.removeMemberLocked(g, m, kerr.UnknownMemberID.Code)
	c.membersChangedLocked(g)
}

func (c *groupCoordinator) removeMemberLocked(g *group, m *member, code int16) {
	m.release(code)
	delete(g.members, m.id)
	if i := slices.Index(g.joinOrder, m.id); i >= 0 {
		g.joinOrder = slices.Delete(g.joinOrder, i, i+1)
	}
	if g.leader == m.id {
		g.leader = ""
	}
}

// membersChangedLocked reacts to a member leaving: a settled group
// rebalances, a rebalancing one may now be complete.
func (c *groupCoordinator) membersChangedLocked(g *group) {
	switch g.state {
	case stateStable, stateCompletingRebalance:
		c.prepareRebalanceLocked(g)
	case statePreparingRebalance:
		c.tryCompleteJoinLocked(g)
	case stateEmpty:
	}
}

// prepareRebalanceLocked starts a rebalance: members must rejoin within the
// largest rebalance timeout among them; SyncGroups waiting for the previous
// generation's assignment are told to rejoin.
func (c *groupCoordinator) prepareRebalanceLocked(g *group) {
	if g.state == stateCompletingRebalance {
		for _, m := range g.members {
			if m.sync != nil {
				m.sync <- syncResult{code: kerr.RebalanceInProgress.Code}
				m.sync = nil
			}
		}
	}
	wasEmpty := g.state == stateEmpty
	g.state = statePreparingRebalance
	if g.timer != nil {
		g.timer.Stop()
	}
	if d := c.s.cfg.Groups.InitialRebalanceDelay; wasEmpty && d > 0 {
		name := g.name
		g.delaying = true
		g.timer = time.AfterFunc(d, func() { c.delayEnded(name) })
		return
	}
	c.awaitJoinsLocked(g)
}

// awaitJoinsLocked arms the join phase's deadline, the largest rebalance
// timeout among the members, and completes the phase if every member has
// already rejoined.
func (c *groupCoordinator) awaitJoinsLocked(g *group) {
	timeout := time.Duration(0)
	for _, m := range g.members {
		timeout = max(timeout, m.rebalance)
	}
	name := g.name
	g.timer = time.AfterFunc(max(timeout, time.Millisecond), func() { c.rebalanceTimedOut(name) })
	c.tryCompleteJoinLocked(g)
}

func (c *groupCoordinator) delayEnded(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[name]
	if g == nil || !g.delaying {
		return
	}
	g.delaying = false
	c.awaitJoinsLocked(g)
}

func (c *groupCoordinator) rebalanceTimedOut(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[name]
	if g == nil || g.state != statePreparingRebalance || g.delaying {
		return
	}
	c.completeJoinLocked(g)
}

// tryCompleteJoinLocked completes the join phase once every known member
// has rejoined and no KIP-394 pending member is still expected.
func (c *groupCoordinator) tryCompleteJoinLocked(g *group) {
	if g.state != statePreparingRebalance || g.delaying {
		return
	}
	now := time.Now()
	for id, exp := range g.pending {
		if now.After(exp) {
			delete(g.pending, id)
		}
	}
	if len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if m.join == nil {
			return
		}
	}
	c.completeJoinLocked(g)
}

// completeJoinLocked ends the join phase: members that did not rejoin are
// dropped, the generation is bumped, a protocol and a leader are chosen,
// and every waiting JoinGroup is answered (the leader with the member list).
func (c *groupCoordinator) completeJoinLocked(g *group) {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	for _, m := range g.members {
		if m.join == nil {
			c.removeMemberLocked(g, m, kerr.UnknownMemberID.Code)
		}
	}
	g.generation++
	c.s.cfg.Metrics.rebalanced()
	if len(g.members) == 0 {
		g.state, g.protocol, g.leader = stateEmpty, "", ""
		return
	}
	if g.leader == "" || g.members[g.leader] == nil {
		g.leader = g.joinOrder[0]
	}
	g.protocol = ""
	common := g.commonProtocols(g.members[g.leader].protocols, "")
	for _, p := range g.members[g.leader].protocols {
		if common[p.Name] {
			g.protocol = p.Name
			break
		}
	}
	g.state = stateCompletingRebalance
	ids := make([]string, 0, len(g.members))
	for id := range g.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, m := range g.members {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.Version = m.joinVersion
		resp.Generation = g.generation
		pt, pn := g.protocolType, g.protocol
		resp.ProtocolType, resp.Protocol = &pt, &pn
		resp.LeaderID = g.leader
		resp.MemberID = m.id
		if m.id == g.leader {
			for _, id := range ids {
				o := g.members[id]
				rm := kmsg.NewJoinGroupResponseMember()
				rm.MemberID, rm.InstanceID = o.id, o.instanceID
				for _, p := range o.protocols {
					if p.Name == g.protocol {
						rm.ProtocolMetadata = p.Metadata
					}
				}
				resp.Members = append(resp.Members, rm)
			}
		}
		m.assignment = nil
		m.join <- resp
		m.join = nil
		c.touchLocked(g, m)
	}
}

// currentJoinLocked answers a rejoin that changes nothing with the current
// generation, without a rebalance (Kafka does the same for followers).
func (g *group) currentJoinLocked(m *member, version int16) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = version
	resp.Generation = g.generation
	pt, pn := g.protocolType, g.protocol
	resp.ProtocolType, resp.Protocol = &pt, &pn
	resp.LeaderID = g.leader
	resp.MemberID = m.id
	return resp
}

func sameProtocols(a, b []kmsg.JoinGroupRequestProtocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || string(a[i].Metadata) != string(b[i].Metadata) {
			return false
		}
	}
	return true
}

// staticMember returns the member of g registered with instance id id
// (KIP-345 static membership), or nil.
func (g *group) staticMember(id *string) *member {
	if id == nil {
		return nil
	}
	for _, m := range g.members {
		if m.instanceID != nil && *m.instanceID == *id {
			return m
		}
	}
	return nil
}

// fenced reports whether a request naming instance id id and member id
// memberID comes from a static member that a newer instance with the same
// id has replaced: Kafka answers FENCED_INSTANCE_ID (isStaticMemberFenced),
// which the Java client treats as fatal for that consumer, so that two
// processes with one group.instance.id do not take turns replacing each
// other.
func (g *group) fenced(id *string, memberID string) bool {
	if g == nil {
		return false
	}
	m := g.staticMember(id)
	return m != nil && m.id != memberID
}

// withMemberID sets the member id handed out with MEMBER_ID_REQUIRED.
func withMemberID(r *kmsg.JoinGroupResponse, id string) *kmsg.JoinGroupResponse {
	r.MemberID = id
	return r
}
