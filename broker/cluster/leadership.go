package cluster

import "go.etcd.io/raft/v3"

// Leadership spread: partition p prefers the (p mod n)-th voter in id
// order. A leader hands leadership to the preferred replica once that
// replica is active and fully caught up. Because the preferred replica is a
// fixed function of the partition, transfers converge and never ping-pong;
// a rate limit (one attempt per 5 election timeouts) keeps a flapping peer
// from causing an election storm.

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
	pref := g.preferredLeader()
	// Checked on every tick: raft clears RecentActive once per election
	// timeout (CheckQuorum) and sets it again on the next response, so a
	// check at a fixed phase could always land right after the reset.
	if pref == 0 || pref == g.node.cfg.NodeID || g.rn.BasicStatus().RaftState != raft.StateLeader {
		return
	}
	if g.lastTransfer != 0 && g.ticks-g.lastTransfer < 5*g.node.cfg.ElectionTicks {
		return
	}
	st := g.rn.Status()
	if st.RaftState != raft.StateLeader || st.LeadTransferee != raft.None {
		return
	}
	pr, ok := st.Progress[pref]
	if !ok || !pr.RecentActive || pr.Match < st.HardState.GetCommit() {
		return
	}
	g.lastTransfer = g.ticks
	g.log.Info("transferring leadership to preferred replica", "to", pref, "term", st.HardState.GetTerm())
	g.rn.TransferLeader(pref)
}
