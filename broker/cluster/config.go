package cluster

import (
	"log/slog"
	"time"
)

// Config configures a Node. The CLI (broker/cmd/chronik-server) fills it from
// flags; tests fill it directly.
type Config struct {
	// NodeID is this node's id (>= 1), equal to its Raft id in every group.
	NodeID uint64
	// DataDir holds the node's store. It is created if missing.
	DataDir string
	// Standalone runs a single-voter cluster: the same code path as
	// raft-cluster with no peers.
	Standalone bool
	// RaftAddr is the listen address of the peer transport (raft-cluster).
	RaftAddr string
	// Peers maps every other node's id to its peer transport address.
	Peers map[uint64]string
	// AdvertisedHost and KafkaPort are what Metadata tells clients.
	AdvertisedHost string
	KafkaPort      int32
	// Rack is this broker's rack (Kafka's broker.rack), registered in
	// __meta and reported by Metadata; a partition leader points a
	// consumer that names the same rack at this broker as its preferred
	// read replica (KIP-392). Empty: no rack.
	Rack string
	// DefaultPartitions is the partition count of auto-created topics and of
	// CreateTopics requests asking for -1.
	DefaultPartitions int32
	// AutoCreateTopics creates unknown topics on Metadata/Produce.
	AutoCreateTopics bool
	// TickInterval is the Raft tick; ElectionTicks and HeartbeatTicks are in
	// ticks (etcd raft's units).
	TickInterval   time.Duration
	ElectionTicks  int
	HeartbeatTicks int
	// LeaderImbalanceCheckInterval is how often the node checks whether
	// a preferred replica that was away and came back leads too few of
	// its partitions, and moves them back one at a time (see
	// leadership.go). 0 means DefaultLeaderImbalanceCheckInterval; a
	// negative interval never moves leadership back to a returned node.
	LeaderImbalanceCheckInterval time.Duration
	// LeaderImbalancePercentage: a returned preferred node gets its
	// partitions back when more than this percentage of those it prefers
	// are led elsewhere (Kafka's leader.imbalance.per.broker.percentage).
	LeaderImbalancePercentage int
	// SnapshotEntries: after this many applied entries beyond the last
	// compaction point (plus SnapshotCatchUpEntries) a group compacts its
	// Raft log; a follower that needs a compacted entry is sent a
	// snapshot. Zero means 10,000.
	SnapshotEntries uint64
	// SnapshotCatchUpEntries are the applied entries a compaction keeps
	// below the applied index, so that a follower lagging by fewer than
	// that catches up from the log instead of a snapshot (etcd's
	// SnapshotCatchUpEntries). Zero keeps none: the log is compacted up
	// to the applied index.
	SnapshotCatchUpEntries uint64
	// Join starts a node that is not a member yet (raft-cluster --join): it
	// never bootstraps __meta and waits until a member adds it (POST
	// /admin/members). Peers then lists existing members to talk to. A
	// store that joined once is just restarted: the flag no longer matters.
	Join bool
	// AdminAddr is the advertised host:port of this node's admin HTTP API;
	// it is recorded in __meta so that any node can forward a membership
	// request to the __meta leader.
	AdminAddr string
	// Unsafe switches on seeded bugs used to validate the chaos harness.
	// All are off by default.
	Unsafe Unsafe
	// Transport, when set, replaces the TCP peer transport (in-process
	// tests use a faulty in-memory network).
	Transport Transport
	Logger    *slog.Logger
	// FaultFS runs the store on the fault-injection file system
	// (storage.FaultFS, chronik-server --fault-fs): the broker behaves as
	// on the plain disk until PowerLoss, or a crash point armed with
	// power_loss, drops every write no fsync covered. Not a seeded bug.
	FaultFS bool
	// Exit ends the process at a crash point (default os.Exit). Tests
	// replace it; the goroutine that reached the point never resumes.
	Exit func(code int)
}

// Unsafe lists the seeded bugs (the CLI's --unsafe-* flags). Each is a
// small, realistic mistake that the chaos harness must catch.
type Unsafe struct {
	AckBeforeCommit  bool // ack acks=all after the leader's local append
	StaleReads       bool // Fetch/ListOffsets without proof of leadership
	UncommittedReads bool // Fetch exposes entries above the commit index
	NoDedup          bool // ignore idempotent producer sequence numbers
	// DedupLastBatch remembers only the last batch per producer and
	// partition instead of Kafka's five, and appends a batch older than
	// the one it remembers as if it were new: a producer with several
	// requests in flight whose responses were lost retries them in order,
	// and every retry but the last is appended a second time.
	DedupLastBatch       bool
	RegistrationAttempts int  // >0: exit after this many failed registrations
	ForgetHardState      bool // do not persist term/vote
	NoFsync              bool // never fsync the WAL (log, hard state): storage.Options.SkipWALSync
	ApplyBeforeSave      bool // apply a Ready's committed entries before saving it
	// DirectConfChange applies a change of several voters (a replace) as
	// consecutive one-voter changes at the same entry: the voter set
	// jumps from C_old to C_new without a joint configuration, so a
	// majority of C_old and one of C_new can both act while nodes apply
	// the entry at different times.
	DirectConfChange bool
	// PromoteEarly makes a learner a voter as soon as it is added, before
	// it caught up: an empty node counts in the quorum while it is still
	// receiving its snapshot.
	PromoteEarly bool
	// Transactions (txn_*.go):
	LSOIsHW             bool // read_committed is served up to the high watermark
	CommitBeforeMarkers bool // EndTxn answers before the markers are replicated
	NoTxnVerification   bool // transactional batches are appended without KIP-890 verification
	// SnapshotStaleState keeps the partition state captured when a group
	// compacts its log and sends it in every later snapshot under the
	// index the leader has applied by then: an install skips the entries
	// applied in between, so the follower's copy of the partition
	// diverges from the others (snapshot_stale.go).
	SnapshotStaleState bool
	// FollowerLocalReads lets a node that does not lead a partition serve
	// Fetch and ListOffsets from its own copy without a ReadIndex round:
	// a lagging or cut-off follower answers with an old high watermark
	// (stale reads). Leaders still prove leadership, so only reads sent to
	// followers see it.
	FollowerLocalReads bool
	// OffsetAckBeforeCommit answers OffsetCommit once the __meta entry is
	// proposed, before it commits: a coordinator that loses leadership or
	// its quorum acknowledges commits that are then lost.
	OffsetAckBeforeCommit bool
}
