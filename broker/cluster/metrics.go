package cluster

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/raft/v3"
)

// nodeMetrics are the Prometheus series of /metrics: per-group Raft
// progress, elections won, and proposal latency.
type nodeMetrics struct {
	reg       *prometheus.Registry
	term      *prometheus.GaugeVec
	commit    *prometheus.GaugeVec
	appliedG  *prometheus.GaugeVec
	leader    *prometheus.GaugeVec
	elections prometheus.Counter
	snapshots prometheus.Counter
	regs      prometheus.Counter
	proposal  prometheus.Histogram
	// refused counts peer messages dropped because their sender is a
	// removed member (removed_node.go).
	refused prometheus.Counter
}

func newNodeMetrics(n *Node) *nodeMetrics {
	labels := []string{"group", "gid"}
	m := &nodeMetrics{
		reg:       prometheus.NewRegistry(),
		term:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "chronik_raft_term", Help: "Raft term of the group on this node."}, labels),
		commit:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "chronik_raft_commit_index", Help: "Raft commit index."}, labels),
		appliedG:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "chronik_raft_applied_index", Help: "Last applied Raft index."}, labels),
		leader:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "chronik_raft_is_leader", Help: "1 when this node leads the group."}, labels),
		elections: prometheus.NewCounter(prometheus.CounterOpts{Name: "chronik_raft_leader_elections_total", Help: "Times this node became leader of any group."}),
		snapshots: prometheus.NewCounter(prometheus.CounterOpts{Name: "chronik_raft_snapshots_applied_total", Help: "Snapshots received from a leader and applied."}),
		regs:      prometheus.NewCounter(prometheus.CounterOpts{Name: "chronik_registration_attempts_total", Help: "RegisterBroker proposals made by this node."}),
		proposal: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "chronik_proposal_seconds", Help: "Time from proposal to apply on the proposer.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16)}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "chronik_removed_peer_messages_refused_total", Help: "Peer messages dropped because the sender was removed from the cluster."}),
	}
	m.reg.MustRegister(m.term, m.commit, m.appliedG, m.leader, m.elections, m.snapshots, m.regs, m.proposal, m.refused)
	return m
}

func (m *nodeMetrics) observe(g *raftGroup, st raft.BasicStatus) {
	l := []string{g.name, strconv.FormatUint(g.id, 10)}
	m.term.WithLabelValues(l...).Set(float64(st.HardState.GetTerm()))
	m.commit.WithLabelValues(l...).Set(float64(st.HardState.GetCommit()))
	v := 0.0
	if st.RaftState == raft.StateLeader {
		v = 1
	}
	m.leader.WithLabelValues(l...).Set(v)
}

func (m *nodeMetrics) applied(g *raftGroup, idx uint64) {
	m.appliedG.WithLabelValues(g.name, strconv.FormatUint(g.id, 10)).Set(float64(idx))
}

// Metrics is the node's Prometheus registry, served on /metrics.
func (n *Node) Metrics() *prometheus.Registry { return n.metrics.reg }
