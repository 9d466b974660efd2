package cluster

import (
	"errors"
	"time"
)

// This file is the contract between the Kafka protocol layer (broker/kafka)
// and the replicated state (this package). broker/kafka declares the Backend
// interface it needs in terms of these types; *Node implements it.

// Errors returned by Node and Partition methods. The Kafka layer maps each to
// a Kafka error code; anything else is reported as UNKNOWN_SERVER_ERROR
// (fail-safe: the client must treat the outcome as unknown).
var (
	// ErrNotLeader: this node is not the partition's (or __meta's) leader.
	// Kafka: NOT_LEADER_OR_FOLLOWER / NOT_COORDINATOR.
	ErrNotLeader = errors.New("cluster: not the leader")
	// ErrUnknownTopic: no such topic or partition. Kafka:
	// UNKNOWN_TOPIC_OR_PARTITION.
	ErrUnknownTopic = errors.New("cluster: unknown topic or partition")
	// ErrTopicExists: CreateTopics of an existing topic. Kafka:
	// TOPIC_ALREADY_EXISTS.
	ErrTopicExists = errors.New("cluster: topic already exists")
	// ErrInvalidPartitions: partition count out of range. Kafka:
	// INVALID_PARTITIONS.
	ErrInvalidPartitions = errors.New("cluster: invalid partition count")
	// ErrInvalidTopic: bad topic name. Kafka: INVALID_TOPIC_EXCEPTION.
	ErrInvalidTopic = errors.New("cluster: invalid topic name")
	// ErrOffsetOutOfRange: fetch below log start or above the high
	// watermark. Kafka: OFFSET_OUT_OF_RANGE.
	ErrOffsetOutOfRange = errors.New("cluster: offset out of range")
	// ErrDuplicateSequence: the batch was already appended (idempotent
	// retry). The Kafka layer answers success with the original offset
	// carried in ProduceResult (Kafka does the same since KIP-360 clients
	// treat DUPLICATE_SEQUENCE_NUMBER as success).
	ErrDuplicateSequence = errors.New("cluster: duplicate sequence number")
	// ErrOutOfOrderSequence: a gap in a producer's sequence numbers. Kafka:
	// OUT_OF_ORDER_SEQUENCE_NUMBER.
	ErrOutOfOrderSequence = errors.New("cluster: out of order sequence number")
	// ErrInvalidProducerEpoch: a fenced (older) producer epoch. Kafka:
	// INVALID_PRODUCER_EPOCH.
	ErrInvalidProducerEpoch = errors.New("cluster: invalid producer epoch")
	// ErrUnknownProducerID: sequence > 0 from a producer id the partition
	// has no state for. Kafka: UNKNOWN_PRODUCER_ID.
	ErrUnknownProducerID = errors.New("cluster: unknown producer id")
	// ErrNotReady: the node has no quorum / no leader yet; the client
	// should retry. Kafka: LEADER_NOT_AVAILABLE / COORDINATOR_NOT_AVAILABLE.
	ErrNotReady = errors.New("cluster: no leader available")
	// ErrTimeout: the proposal did not commit within the request's time;
	// it may still commit later. Kafka: REQUEST_TIMED_OUT.
	ErrTimeout = errors.New("cluster: request timed out")
	// ErrStopped: the node is shutting down.
	ErrStopped = errors.New("cluster: node stopped")
)

// BrokerInfo is a registered broker as stored in __meta.
type BrokerInfo struct {
	ID   int32  `json:"id"`
	Host string `json:"host"`
	Port int32  `json:"port"`
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
	Batches        [][]byte
	HighWatermark  int64
	LastStable     int64
	LogStartOffset int64
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
	NodeID     uint64        `json:"node_id"`
	Mode       string        `json:"mode"` // "standalone" or "raft-cluster"
	Registered bool          `json:"registered"`
	Ready      bool          `json:"ready"`
	Groups     []GroupStatus `json:"groups"`
	Unsafe     []string      `json:"unsafe,omitempty"`
}

// GroupStatus is one Raft group's state on this node.
type GroupStatus struct {
	Name string `json:"name"` // "__meta" or "topic/partition"
	ID   uint64 `json:"id"`
	Role string `json:"role"` // StateLeader, StateFollower, ...
	Term uint64 `json:"term"`
	// Vote is the node voted for in Term (0: none).
	Vote    uint64 `json:"vote"`
	Leader  uint64 `json:"leader"` // 0: unknown
	Commit  uint64 `json:"commit"`
	Applied uint64 `json:"applied"`
	// Progress is set on the leader only: each peer's replication state.
	Progress map[uint64]PeerProgress `json:"progress,omitempty"`
}

// PeerProgress is the leader's view of one follower.
type PeerProgress struct {
	Match  uint64 `json:"match"`
	Next   uint64 `json:"next"`
	State  string `json:"state"` // StateProbe, StateReplicate, StateSnapshot
	Active bool   `json:"active"`
}

// Timeouts shared by both layers.
const (
	// DefaultProposalTimeout bounds how long a produce or metadata change
	// waits for its Raft entry to commit when the request carries no
	// timeout of its own.
	DefaultProposalTimeout = 10 * time.Second
)
