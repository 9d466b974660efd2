package cluster

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
)

// Leadership spread: partition p prefers the (p mod n)-th voter in id
// order, a fixed function of the partition, so moves toward it converge
// and never ping-pong.
//
// How leadership gets there depends on why it is elsewhere, as in Kafka,
// whose controller makes a partition's preferred replica its leader when
// the partition is created, and moves leadership back to a broker that
// failed and returned only at its periodic imbalance check
// (auto.leader.rebalance.enable, leader.imbalance.check.interval.seconds,
// leader.imbalance.per.broker.percentage):
//
//   - Startup races (the preferred replica did not win the first election
//     but never went away): the leader hands leadership over as soon as
//     the preferred replica is active and caught up.
//   - A preferred replica that was away during this leader's term (no
//     message from it for awayElectionTimeouts election timeouts: it was
//     down or cut off) comes back under the node's balancer
//     (balanceLeaders): every
//     Config.LeaderImbalanceCheckInterval it counts, per preferred node,
//     the partitions that node does not lead, and when more than
//     Config.LeaderImbalancePercentage percent of them are elsewhere they
//     move back, one at a time across the cluster (see balanceLeaders for
//     the pace), each only once its preferred replica has been back
//     (active) for a whole interval. A just-restarted node thus serves as
//     a follower first, and clients see one partition move at a time
//     instead of every one at once.
//
// Every transfer also needs the preferred replica caught up to the commit
// index, and a group tries at most once per five election timeouts, so a
// flapping peer cannot cause an election storm.

// Defaults of the leader balance: Kafka's check interval (300 s) scaled
// to this broker's failure detection (an election timeout of 0.5 s against
// Kafka's session timeouts of 9-18 s), and Kafka's percentage (the CLI's
// default; Config's zero value is 0%: any imbalance moves back).
const (
	DefaultLeaderImbalanceCheckInterval = 10 * time.Second
	DefaultLeaderImbalancePercentage    = 10
)

// validateLeaderBalance fills the check interval's default (0) and checks
// the percentage.
func (c *Config) validateLeaderBalance() error {
	if c.LeaderImbalanceCheckInterval == 0 {
		c.LeaderImbalanceCheckInterval = DefaultLeaderImbalanceCheckInterval
	}
	if c.LeaderImbalancePercentage < 0 || c.LeaderImbalancePercentage > 100 {
		return fmt.Errorf("leader imbalance percentage %d outside 0..100", c.LeaderImbalancePercentage)
	}
	return nil
}

// awayElectionTimeouts is how long, in election timeouts, a preferred
// replica must stay silent to count as away: longer than a live follower
// ever is (it answers every heartbeat) and than a new partition's
// preferred replica takes to create its group under load, so startup
// placement stays immediate; shorter than any real restart.
const awayElectionTimeouts = 4

// leaderBalance is the node-level state of moving leadership back: one
// transferState per partition group this node leads, and the balancer's
// approvals. Its mutex is taken with a group's mu held (maybeTransfer) or
// alone (balanceLeaders), never the other way round.
type leaderBalance struct {
	mu     sync.Mutex
	groups map[uint64]*transferState
}

// transferState is what a leader knows of its preferred replica.
type transferState struct {
	// inactive counts consecutive ticks the preferred replica was not
	// recently active. raft clears RecentActive once per election timeout
	// (CheckQuorum) and a live follower sets it again within a heartbeat.
	inactive int
	// away: the preferred replica was away during this term; it gets
	// leadership back only when the balancer approves.
	away bool
	// backSince is when it was last seen active again after being away.
	backSince time.Time
	// approved: the balancer chose this group to move now.
	approved bool
}

// The voters are the group's current configuration; while a membership
// change is under way (member_reconcile.go) no preference applies, so the
// reconciler's transfers and these never pull against each other.
func (g *raftGroup) preferredLeader() uint64 {
	voters := g.confState().GetVoters()
	if g.id == MetaGroupID || len(voters) < 2 || isJoint(g.confState()) || !g.node.members.Load().settled() {
		return 0
	}
	return voters[int(g.partition.Partition)%len(voters)]
}

// maybeTransfer runs on ticks with g.mu held.
func (g *raftGroup) maybeTransfer() {
	n := g.node
	pref := g.preferredLeader()
	// Checked on every tick: raft clears RecentActive once per election
	// timeout (CheckQuorum) and sets it again on the next response, so a
	// check at a fixed phase could always land right after the reset.
	if pref == 0 || pref == n.cfg.NodeID || g.rn.BasicStatus().RaftState != raft.StateLeader {
		n.balance.forget(g.id)
		return
	}
	st := g.rn.Status()
	pr, ok := st.Progress[pref]
	if !ok {
		return
	}
	away, approved := n.balance.observe(g.id, pr.RecentActive, n.cfg.ElectionTicks)
	if away && !approved {
		return
	}
	if g.lastTransfer != 0 && g.ticks-g.lastTransfer < 5*n.cfg.ElectionTicks {
		return
	}
	if st.LeadTransferee != raft.None || !pr.RecentActive || pr.Match < st.HardState.GetCommit() {
		return
	}
	g.lastTransfer = g.ticks
	g.log.Info("transferring leadership to preferred replica", "to", pref, "term", st.HardState.GetTerm(), "returning", away)
	g.rn.TransferLeader(pref)
}

// forget drops the state of a group this node does not lead (any more).
func (b *leaderBalance) forget(id uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.groups, id)
}

// observe records one tick's view of the preferred replica of group id and
// reports whether it was away during this term and whether the balancer
// approved moving the group back.
func (b *leaderBalance) observe(id uint64, active bool, electionTicks int) (away, approved bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.groups == nil {
		b.groups = map[uint64]*transferState{}
	}
	ts := b.groups[id]
	if ts == nil {
		ts = &transferState{}
		b.groups[id] = ts
	}
	if active {
		if ts.away && ts.backSince.IsZero() {
			ts.backSince = time.Now()
		}
		ts.inactive = 0
	} else if ts.inactive++; ts.inactive >= awayElectionTimeouts*electionTicks {
		ts.away, ts.backSince, ts.approved = true, time.Time{}, false
	}
	return ts.away, ts.approved
}

// balanceLeaders is the node's balancer (see the top of this file). It
// runs until ctx ends; a negative check interval disables it.
//
// Moves to one preferred node follow each other, cluster-wide, at least
// half a check interval apart (5 s by default): each node moves only the
// lowest-numbered of that node's partitions still led elsewhere, and only
// once half an interval has passed since it last saw one of them arrive.
// A client that learns of a move from its metadata can then refresh it
// for every move: franz-go refreshes at most every 5 s (its default
// metadata min age) and, since this broker does not serve
// OffsetForLeaderEpoch, does not act on the KIP-951 leader hints of
// NOT_LEADER_OR_FOLLOWER answers (it trusts leader epochs only from
// brokers that do); moves closer together would make it wait out that
// age for the second one.
func (n *Node) balanceLeaders(ctx context.Context) {
	interval := n.cfg.LeaderImbalanceCheckInterval
	if interval < 0 {
		return
	}
	pause := interval / 2
	tick := time.NewTicker(min(100*time.Millisecond, pause))
	defer tick.Stop()
	arrived := map[uint64]time.Time{} // preferred node -> last arrival seen
	led := map[uint64]uint64{}        // group -> its leader at the last look
	nextCheck := time.Now().Add(interval)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		gs := n.partitionGroups()
		now := time.Now()
		for _, g := range gs {
			pref, lead := g.preferredLeader(), g.pubLead.Load()
			if lead == pref && led[g.id] != pref {
				arrived[pref] = now
			}
			led[g.id] = lead
		}
		if now.Before(nextCheck) {
			continue
		}
		nextCheck = now.Add(interval)
		g := n.nextMoveBack(gs, interval, func(pref uint64) bool { return now.Sub(arrived[pref]) >= pause })
		if g == nil {
			continue
		}
		if !n.moveBack(ctx, g) {
			return
		}
		// While moving back, look again as soon as the next move may go.
		nextCheck = time.Now().Add(pause)
	}
}

// partitionGroups lists this node's partition groups by id.
func (n *Node) partitionGroups() []*raftGroup {
	n.mu.RLock()
	gs := make([]*raftGroup, 0, len(n.raftGroups))
	for _, g := range n.raftGroups {
		if g.preferredLeader() != 0 {
			gs = append(gs, g)
		}
	}
	n.mu.RUnlock()
	slices.SortFunc(gs, func(a, b *raftGroup) int { return cmp.Compare(a.id, b.id) })
	return gs
}

// nextMoveBack returns the group this node should move back now, if any:
// for a preferred node that leads too small a share of the partitions it
// prefers (more than LeaderImbalancePercentage percent led elsewhere), the
// lowest-numbered of those led elsewhere, when this node leads it, its
// preferred replica came back at least interval ago and ready(preferred)
// allows a move to it.
func (n *Node) nextMoveBack(gs []*raftGroup, interval time.Duration, ready func(pref uint64) bool) *raftGroup {
	preferred, elsewhere := map[uint64]int{}, map[uint64][]*raftGroup{}
	for _, g := range gs {
		pref := g.preferredLeader()
		preferred[pref]++
		if g.pubLead.Load() != pref {
			elsewhere[pref] = append(elsewhere[pref], g)
		}
	}
	prefs := make([]uint64, 0, len(elsewhere))
	for pref := range elsewhere {
		prefs = append(prefs, pref)
	}
	slices.Sort(prefs)
	n.balance.mu.Lock()
	defer n.balance.mu.Unlock()
	for _, pref := range prefs {
		off := elsewhere[pref]
		if len(off)*100 <= n.cfg.LeaderImbalancePercentage*preferred[pref] || !ready(pref) {
			continue
		}
		head := off[0]
		ts := n.balance.groups[head.id]
		if head.isLeader() && ts != nil && ts.away && !ts.backSince.IsZero() && time.Since(ts.backSince) >= interval {
			return head
		}
	}
	return nil
}

// moveBack approves g's move to its preferred replica and waits until the
// preferred replica leads it, or five election timeouts (the move is then
// given up until the next check). It returns false when ctx ended.
func (n *Node) moveBack(ctx context.Context, g *raftGroup) bool {
	pref := g.preferredLeader()
	n.balance.mu.Lock()
	ts := n.balance.groups[g.id]
	if ts == nil || !ts.away {
		n.balance.mu.Unlock()
		return true
	}
	ts.approved = true
	n.balance.mu.Unlock()
	g.log.Info("moving leadership back to the returned preferred replica", "to", pref)
	deadline := time.Now().Add(5 * time.Duration(n.cfg.ElectionTicks) * n.cfg.TickInterval)
	for g.pubLead.Load() != pref && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(n.cfg.TickInterval):
		}
	}
	n.balance.mu.Lock()
	if ts := n.balance.groups[g.id]; ts != nil {
		ts.approved = false
	}
	n.balance.mu.Unlock()
	return true
}
