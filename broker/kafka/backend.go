package kafka

import (
	"context"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// Backend is what the Kafka protocol layer needs from the replicated state.
// *cluster.Node implements it; protocol tests use an in-memory fake. Errors
// are the cluster.Err* sentinels (see broker/cluster/api.go), which the
// handlers map to Kafka error codes.
type Backend interface {
	// NodeID is this broker's id.
	NodeID() int32
	// ClusterID is a stable id of the cluster.
	ClusterID() string
	// Brokers lists the registered brokers (Metadata).
	Brokers() []cluster.BrokerInfo
	// ControllerID is the node leading __meta, -1 if unknown.
	ControllerID() int32

	// Topics returns every topic with current leaders and epochs.
	Topics() []cluster.TopicInfo
	// Topic returns one topic.
	Topic(name string) (cluster.TopicInfo, bool)
	// CreateTopics creates topics through __meta and returns once each
	// topic's creation has committed and its partition groups exist on this
	// node. The result has one error (nil on success) per spec, in order.
	CreateTopics(ctx context.Context, specs []cluster.TopicSpec, validateOnly bool) []error
	// DeleteTopics deletes topics; one error per name, in order.
	DeleteTopics(ctx context.Context, names []string) []error

	// Produce appends one batch to a partition (leader only). acks is the
	// request's acks: -1 waits for commit and apply; 1 and 0 may return
	// after the proposal is accepted locally (still proposed through Raft).
	Produce(ctx context.Context, tp cluster.TopicPartition, b cluster.Batch, acks int16) (cluster.ProduceResult, error)
	// Fetch reads whole batches from offset, at most maxBytes (but always at
	// least one batch when any is available, KIP-74). It never returns data
	// above the high watermark and is linearizable (ReadIndex or
	// equivalent); it returns cluster.ErrNotLeader when leadership cannot be
	// confirmed.
	Fetch(ctx context.Context, tp cluster.TopicPartition, offset int64, maxBytes int32) (cluster.FetchResult, error)
	// WaitForData blocks until the partition's high watermark (with
	// readCommitted its last stable offset) exceeds offset, ctx is done,
	// or maxWait passes; used for Fetch's max wait.
	WaitForData(ctx context.Context, tp cluster.TopicPartition, offset int64, maxWait time.Duration, readCommitted bool)
	// ListOffset answers ListOffsets for one partition: timestamp -1 is the
	// latest (high watermark; with readCommitted the last stable offset),
	// -2 the earliest (log start), otherwise the first offset whose batch
	// max timestamp >= timestamp (-1, -1 if none, or if readCommitted and
	// it is not below the last stable offset). Linearizable like Fetch.
	ListOffset(ctx context.Context, tp cluster.TopicPartition, timestamp int64, readCommitted bool) (offset, ts int64, leaderEpoch int32, err error)

	// InitProducerID allocates a producer id through __meta.
	InitProducerID(ctx context.Context) (id int64, epoch int16, err error)

	// CoordinatorID is the node coordinating every consumer group (the
	// __meta leader), -1 if unknown.
	CoordinatorID() int32
	// CommitOffsets stores group offsets through __meta (coordinator only).
	CommitOffsets(ctx context.Context, group string, offsets map[cluster.TopicPartition]cluster.OffsetCommit) error
	// DeleteOffsets removes a group's committed offsets through __meta:
	// those of tps, or all (the group itself) when tps is empty.
	DeleteOffsets(ctx context.Context, group string, tps []cluster.TopicPartition) error
	// FetchOffsets reads a group's committed offsets (linearizable).
	FetchOffsets(ctx context.Context, group string) (map[cluster.TopicPartition]cluster.OffsetCommit, error)
	// Groups lists groups that have committed offsets.
	Groups() []string

	// Transactions is the transaction coordinator (backend_txn.go).
	Transactions

	// Ready is true once the node is registered and knows a __meta leader.
	Ready() bool
	// Status is the /status document.
	Status() cluster.Status
}
