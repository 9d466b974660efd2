package cluster

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/raft/v3"
)

// nodeMetrics are the Prometheus series of /metrics: per-group Raft
// progress, elections won, and proposal latency; and the counters a chaos
// run reads to say which paths it exercised (snapshots, compactions,
// refused duplicates, follower reads, offset commits). Counters restart
// from zero with the process (the CLI also serves the standard
// process_start_time_seconds, which tells one incarnation from the next).
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

	snapshotsSent prometheus.Counter
	compactions   prometheus.Counter
	// produceDups counts idempotent batches answered as duplicates;
	// produceRejected produce requests answered with an error, by reason.
	produceDups     prometheus.Counter
	produceRejected *prometheus.CounterVec
	followerReads   prometheus.Counter
	offsetCommits   prometheus.Counter
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

		snapshotsSent: prometheus.NewCounter(prometheus.CounterOpts{Name: "chronik_raft_snapshots_sent_total",
			Help: "Snapshots this node sent as a leader to followers that needed compacted entries, every group."}),
		compactions: prometheus.NewCounter(prometheus.CounterOpts{Name: "chronik_raft_log_compactions_total",
			Help: "Raft log compactions (--snapshot-entries reached), every group."}),
		produceDups: prometheus.NewCounter(prometheus.CounterOpts{Name: "chronik_produce_duplicates_refused_total",
			Help: "Idempotent produce batches not appended because the partition already held them (a retry), answered with the original offset."}),
		produceRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chronik_produce_rejected_total",
			Help: "Produce requests of one partition answered with an error, by reason: not_leader, not_ready, timeout (outcome unknown), out_of_order_sequence, invalid_producer_epoch, unknown_producer_id, other."}, []string{"reason"}),
		followerReads: prometheus.NewCounter(prometheus.CounterOpts{Name: "chronik_follower_reads_total",
			Help: "Fetch and ListOffsets reads of a partition this node does not lead, served from its own copy after a ReadIndex round."}),
		offsetCommits: prometheus.NewCounter(prometheus.CounterOpts{Name: "chronik_offset_commits_total",
			Help: "Consumer-group offset commits applied through __meta on this node's request."}),
	}
	m.reg.MustRegister(m.term, m.commit, m.appliedG, m.leader, m.elections, m.snapshots, m.regs, m.proposal, m.refused,
		m.snapshotsSent, m.compactions, m.produceDups, m.produceRejected, m.followerReads, m.offsetCommits)
	return m
}

// produced counts the outcome of one produce request of one partition.
func (m *nodeMetrics) produced(err error) {
	switch {
	case err == nil:
		return
	case errors.Is(err, ErrDuplicateSequence):
		m.produceDups.Inc()
		return
	}
	reason := "other"
	switch {
	case errors.Is(err, ErrNotLeader):
		reason = "not_leader"
	case errors.Is(err, ErrNotReady):
		reason = "not_ready"
	case errors.Is(err, ErrTimeout), errors.Is(err, ErrStopped):
		reason = "timeout"
	case errors.Is(err, ErrOutOfOrderSequence):
		reason = "out_of_order_sequence"
	case errors.Is(err, ErrInvalidProducerEpoch):
		reason = "invalid_producer_epoch"
	case errors.Is(err, ErrUnknownProducerID):
		reason = "unknown_producer_id"
	}
	m.produceRejected.WithLabelValues(reason).Inc()
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
