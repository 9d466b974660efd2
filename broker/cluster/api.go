package cluster

import (
	"errors"
	"time"
)

// This file is the contract between the Kafka protocol layer (broker/kafka)
// and the replicated state (this package). broker/kafka declares the Backend
// interface it needs in terms of these types; *Node implements it.

// Errors returned by Node methods. broker/kafka's errCode and groupErrCode
// map each to a Kafka error code (that mapping lives only there); anything
// else is reported as UNKNOWN_SERVER_ERROR (fail-safe: the client must treat
// the outcome as unknown). They are grouped by what a caller may conclude
// about the write it asked for.

// Leadership and availability: nothing was proposed, so nothing was
// written; the client finds the leader (or waits for one) and retries.
var (
	// ErrNotLeader: this node does not lead the partition's (or __meta's)
	// Raft group, or raft refused to forward the proposal to the leader.
	ErrNotLeader = errors.New("cluster: not the leader")
	// ErrNotReady: no leader is known yet (no quorum), or the leader is
	// transferring leadership or over its uncommitted-size limit.
	ErrNotReady = errors.New("cluster: no leader available")
)

// Unknown outcome: the entry may have been proposed and may still commit,
// so a client must not report the write as failed.
var (
	// ErrTimeout: the proposal did not apply on this node within the
	// request's time, or this node lost leadership while it waited.
	ErrTimeout = errors.New("cluster: request timed out")
	// ErrStopped: the node is shutting down; waiting proposals are
	// abandoned, not withdrawn.
	ErrStopped = errors.New("cluster: node stopped")
)

// Refused for what the request asks: the same request fails again.
var (
	// ErrUnknownTopic: no such topic or partition (or it was deleted).
	ErrUnknownTopic = errors.New("cluster: unknown topic or partition")
	// ErrTopicExists: CreateTopics of an existing topic.
	ErrTopicExists = errors.New("cluster: topic already exists")
	// ErrInvalidPartitions: a partition count out of range.
	ErrInvalidPartitions = errors.New("cluster: invalid partition count")
	// ErrInvalidTopic: a name that is not a legal Kafka topic name.
	ErrInvalidTopic = errors.New("cluster: invalid topic name")
	// ErrOffsetOutOfRange: a fetch below the log start or above the high
	// watermark.
	ErrOffsetOutOfRange = errors.New("cluster: offset out of range")
)

// Idempotent-producer answers, decided at apply time by Kafka's rules
// (KIP-98) so that every replica decides alike (checkSequence in
// partition_sm.go).
var (
	// ErrDuplicateSequence: the batch was already appended (a retry); the
	// ProduceResult carries the original offset, which the Kafka layer
	// answers as success (as Kafka does since KIP-360).
	ErrDuplicateSequence = errors.New("cluster: duplicate sequence number")
	// ErrOutOfOrderSequence: a gap in the producer's sequence numbers.
	ErrOutOfOrderSequence = errors.New("cluster: out of order sequence number")
	// ErrInvalidProducerEpoch: an older (fenced) producer epoch.
	ErrInvalidProducerEpoch = errors.New("cluster: invalid producer epoch")
	// ErrUnknownProducerID: a sequence above 0 from a producer id the
	// partition has no state for.
	ErrUnknownProducerID = errors.New("cluster: unknown producer id")
)

// BrokerInfo is a registered broker as stored in __meta.
type BrokerInfo struct {
	ID   int32  `json:"id"`
	Host string `json:"host"`
	Port int32  `json:"port"`
	// Rack is the broker's --rack, empty when none.
	Rack string `json:"rack,omitempty"`
}

// PartitionInfo is what Metadata reports for one partition.
type PartitionInfo struct {
	Partition int32 `json:"partition"`
	// Leader is the node id of the current Raft leader, -1 if unknown.
	Leader int32 `json:"leader"`
	// LeaderEpoch is the Raft term of the current leader; it never goes
	// backwards on a node.
	LeaderEpoch int32   `json:"leader_epoch"`
	Replicas    []int32 `json:"replicas"`
	// ISR is the set of replicas the leader sees as caught up (all
	// replicas when this node is not the leader).
	ISR []int32 `json:"isr"`
}

// TopicInfo is what Metadata reports for one topic.
type TopicInfo struct {
	Name       string            `json:"name"`
	ID         [16]byte          `json:"id"`
	Partitions []PartitionInfo   `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

// TopicSpec is a topic to create.
type TopicSpec struct {
	Name       string
	Partitions int32 // <= 0: the broker's default
	Configs    map[string]string
}

// Batch is one Kafka RecordBatch (magic v2) as received in a Produce
// request, already parsed and CRC-checked by the Kafka layer. Raw is the
// whole batch from its baseOffset field on; the cluster rewrites the
// baseOffset (bytes 0..8) and partitionLeaderEpoch (bytes 12..16) when it
// assigns offsets. Neither field is covered by the batch CRC.
type Batch struct {
	Raw            []byte
	ProducerID     int64 // -1 when not idempotent
	ProducerEpoch  int16
	BaseSequence   int32
	Records        int32 // lastOffsetDelta + 1
	FirstTimestamp int64
	MaxTimestamp   int64
	Transactional  bool
}

// ProduceResult reports where a batch was appended.
type ProduceResult struct {
	BaseOffset     int64
	LogAppendTime  int64 // -1: CreateTime topics
	LogStartOffset int64
}

// FetchResult is what a read of a partition returned.
type FetchResult struct {
	// Batches are whole record batches with their assigned base offsets,
	// starting at the batch containing the requested offset.
	Batches       [][]byte
	HighWatermark int64
	// LastStable is the last stable offset: every record below it
	// belongs to no transaction or to a decided one. read_committed
	// consumers read only below it.
	LastStable     int64
	LogStartOffset int64
	// Aborted lists the aborted transactions whose ranges overlap the
	// returned batches (what Fetch's AbortedTransactions carries).
	Aborted []AbortedTxn
}

// OffsetCommit is a committed consumer-group offset.
type OffsetCommit struct {
	Offset      int64  `json:"offset"`
	LeaderEpoch int32  `json:"leader_epoch"`
	Metadata    string `json:"metadata"`
	// CommitTime is the proposer's wall-clock time in milliseconds.
	CommitTime int64 `json:"commit_time"`
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Status is the JSON of GET /status (contract in DESIGN.md).
type Status struct {
	NodeID     uint64            `json:"node_id"`
	Mode       string            `json:"mode"` // "standalone" or "raft-cluster"
	Registered bool              `json:"registered"`
	Ready      bool              `json:"ready"`
	RaftGroups []RaftGroupStatus `json:"groups"`
	Unsafe     []string          `json:"unsafe,omitempty"`
	// FaultFS is set when the store runs on the fault-injection file
	// system (--fault-fs): a harness mode, not a bug.
	FaultFS bool `json:"fault_fs,omitempty"`
	// SnapshotEntries and SnapshotCatchUpEntries are the compaction
	// thresholds this node runs with (Config).
	SnapshotEntries        uint64 `json:"snapshot_entries"`
	SnapshotCatchUpEntries uint64 `json:"snapshot_catchup_entries"`
	// MemberState is this node's own state in __meta ("joining",
	// "voter", "leaving", "removed"; empty while unknown, e.g. a node
	// started with --join that was not added yet) and Members this
	// node's view of every member (membership.go).
	MemberState MemberState `json:"member_state,omitempty"`
	Members     []Member    `json:"members,omitempty"`
}

// RaftGroupStatus is one Raft group's state on this node.
type RaftGroupStatus struct {
	Name string `json:"name"` // "__meta" or "topic/partition"
	ID   uint64 `json:"id"`
	Role string `json:"role"` // StateLeader, StateFollower, ...
	Term uint64 `json:"term"`
	// Vote is the node voted for in Term (0: none).
	Vote    uint64 `json:"vote"`
	Leader  uint64 `json:"leader"` // 0: unknown
	Commit  uint64 `json:"commit"`
	Applied uint64 `json:"applied"`
	// Voters, VotersOutgoing (set while the group is in a joint
	// configuration) and Learners are the group's configuration as
	// applied on this node.
	Voters         []uint64 `json:"voters"`
	VotersOutgoing []uint64 `json:"voters_outgoing,omitempty"`
	Learners       []uint64 `json:"learners,omitempty"`
	// Progress is set on the leader only: each peer's replication state.
	Progress map[uint64]PeerProgress `json:"progress,omitempty"`
}

// PeerProgress is the leader's view of one follower.
type PeerProgress struct {
	Match  uint64 `json:"match"`
	Next   uint64 `json:"next"`
	State  string `json:"state"` // StateProbe, StateReplicate, StateSnapshot
	Active bool   `json:"active"`
	// Learner is set for a learner (it does not count in quorums).
	Learner bool `json:"learner,omitempty"`
}

// Timeouts shared by both layers.
const (
	// DefaultProposalTimeout bounds how long a produce or metadata change
	// waits for its Raft entry to commit when the request carries no
	// timeout of its own.
	DefaultProposalTimeout = 10 * time.Second
)
