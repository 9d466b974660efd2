package cluster

// This file connects the member records (membership.go) to the node: the
// view published after each change, peer addresses for the transport, the
// configuration new partition groups bootstrap with, and wake-ups for
// callers waiting on a change.

import (
	"net"
	"slices"
	"sync"

	pb "go.etcd.io/raft/v3/raftpb"
)

// PeerAdder is implemented by transports whose peer set can grow at run
// time (the TCP transport): a member added through the admin API becomes
// reachable without a restart. The in-memory test network reaches every
// node anyway.
type PeerAdder interface {
	AddPeer(id uint64, addr string)
}

// loadMembership runs in New: the removal mark, then the view of the
// stored records.
func (n *Node) loadMembership() error {
	if err := n.loadRemovedMark(); err != nil {
		return err
	}
	n.meta.mu.RLock()
	v := n.meta.buildMemberView()
	n.meta.mu.RUnlock()
	n.members.Store(v)
	n.membersChanged(v)
	return nil
}

// membersChanged acts on a new member view: every member's address goes
// to the transport (peers listed in --peers keep the operator's address),
// a record saying this node was removed makes it refuse itself, and
// waiters wake up.
func (n *Node) membersChanged(v *memberView) {
	if pa, ok := n.tr.(PeerAdder); ok {
		for _, mb := range v.list {
			if mb.ID == n.cfg.NodeID || mb.RaftAddr == "" {
				continue
			}
			if _, listed := n.cfg.Peers[mb.ID]; listed {
				continue
			}
			pa.AddPeer(mb.ID, mb.RaftAddr)
		}
	}
	if mb, ok := v.get(n.cfg.NodeID); ok && mb.State == MemberRemoved {
		n.markRemoved("__meta records this node as removed")
	}
	n.memberWake.broadcast()
}

// bootConf is the configuration a new partition group of topic starts
// with (see topicMeta.Voters); fallback serves topics created before any
// membership was recorded (the bootstrap voters of this node's config).
func (m *metaSM) bootConf(topic string, fallback []uint64) *pb.ConfState {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if t := m.st.Topics[topic]; t != nil && len(t.Voters) > 0 {
		return confOf(t.Voters, t.Learners)
	}
	if len(m.st.BootVoters) > 0 {
		return confOf(m.st.BootVoters, nil)
	}
	return confOf(fallback, nil)
}

// bootVoters are the voters the cluster was bootstrapped with, as __meta
// recorded them (nil before the first apply).
func (m *metaSM) bootVoters() []uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.st.BootVoters)
}

// memberWaiters wakes every waiter when the member view (or this node's
// removal) changes: wait returns a channel closed at the next change.
type memberWaiters struct {
	mu sync.Mutex
	ch chan struct{}
}

func (w *memberWaiters) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

func (w *memberWaiters) broadcast() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch != nil {
		close(w.ch)
	}
	w.ch = make(chan struct{})
}

// advertisedRaftAddr is where peers reach this node's transport: the
// listen address, with the advertised host when it listens on all
// interfaces.
func (n *Node) advertisedRaftAddr() string {
	host, port, err := net.SplitHostPort(n.cfg.RaftAddr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = n.cfg.AdvertisedHost
	}
	return net.JoinHostPort(host, port)
}
