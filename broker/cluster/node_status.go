package cluster

// This file holds what the node reports about itself (readiness, /status)
// and the peer delay the chaos delay nemesis switches on.

import (
	"cmp"
	"errors"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
)

// Ready is true once the node is registered, knows a __meta leader, and
// chronik-default exists (it "exists from the first start": clients that
// wait for readiness must find it).
func (n *Node) Ready() bool {
	if n.removedSelf.Load() || !n.registered.Load() || n.metaRaft.pubLead.Load() == 0 {
		return false
	}
	_, ok := n.meta.topic(DefaultTopic)
	return ok
}

// isr lists the replicas the leader sees as caught up and active.
func (g *raftGroup) isr() []int32 {
	g.mu.Lock()
	st := g.rn.Status()
	g.mu.Unlock()
	out := []int32{}
	last := st.HardState.GetCommit()
	for id, pr := range st.Progress {
		if id == g.node.cfg.NodeID || (!pr.IsLearner && pr.RecentActive && pr.Match+16 >= last) {
			out = append(out, int32(id))
		}
	}
	slices.Sort(out)
	return out
}

// Status is the /status document.
func (n *Node) Status() Status {
	s := Status{NodeID: n.cfg.NodeID, Mode: "raft-cluster", Registered: n.registered.Load(), Ready: n.Ready(), Unsafe: n.unsafeNames(), FaultFS: n.FaultFS(),
		SnapshotEntries: n.cfg.SnapshotEntries, SnapshotCatchUpEntries: n.cfg.SnapshotCatchUpEntries}
	if n.cfg.Standalone {
		s.Mode = "standalone"
	}
	n.memberStatus(&s)
	n.mu.RLock()
	gs := make([]*raftGroup, 0, len(n.raftGroups))
	for _, g := range n.raftGroups {
		gs = append(gs, g)
	}
	n.mu.RUnlock()
	slices.SortFunc(gs, func(a, b *raftGroup) int { return cmp.Compare(a.id, b.id) })
	for _, g := range gs {
		g.mu.Lock()
		st := g.rn.Status()
		g.mu.Unlock()
		gst := RaftGroupStatus{Name: g.name, ID: g.id, Role: st.RaftState.String(), Term: st.HardState.GetTerm(), Vote: st.HardState.GetVote(), Leader: st.Lead, Commit: st.HardState.GetCommit(), Applied: g.pubApplied.Load()}
		confStatus(&gst, g.confState())
		if st.RaftState == raft.StateLeader {
			gst.Progress = map[uint64]PeerProgress{}
			for id, pr := range st.Progress {
				gst.Progress[id] = PeerProgress{Match: pr.Match, Next: pr.Next, State: pr.State.String(), Active: pr.RecentActive, Learner: pr.IsLearner}
			}
		}
		s.RaftGroups = append(s.RaftGroups, gst)
	}
	return s
}

// SetPeerDelay delays every outbound peer message by d (the chaos delay
// nemesis; there is no netem on the test machines).
func (n *Node) SetPeerDelay(d time.Duration) error {
	ds, ok := n.tr.(DelaySetter)
	if !ok {
		return errors.New("set peer delay: transport has no delay stage")
	}
	ds.SetDelay(d)
	n.log.Warn("peer delay set", "delay", d)
	return nil
}

// PeerDelay is the current outbound peer delay.
func (n *Node) PeerDelay() time.Duration {
	if ds, ok := n.tr.(DelaySetter); ok {
		return ds.Delay()
	}
	return 0
}
