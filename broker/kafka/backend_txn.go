package kafka

import (
	"context"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// Transactions is the transaction coordinator part of Backend: the node
// leading __meta coordinates every transactional id (CoordinatorID, as
// for consumer groups), and each call is answered from the replicated
// coordinator state. Errors are cluster.Err* sentinels; txnErrCode maps
// them. *cluster.Node implements it (broker/cluster/txn_backend.go).
type Transactions interface {
	// InitTxnProducer allocates or re-initialises the producer of a
	// transactional id: a new epoch, an aborted ongoing transaction.
	InitTxnProducer(ctx context.Context, req cluster.TxnInit) (producerID int64, epoch int16, err error)
	// AddTxnPartitions adds partitions to the producer's transaction,
	// beginning one if none is ongoing.
	AddTxnPartitions(ctx context.Context, p cluster.TxnProducer, tps []cluster.TopicPartition) error
	// AddTxnOffsets adds a consumer group to the producer's transaction.
	AddTxnOffsets(ctx context.Context, p cluster.TxnProducer, group string) error
	// CommitTxnOffsets stores offsets of an added group in the ongoing
	// transaction; they become the group's offsets only if it commits.
	CommitTxnOffsets(ctx context.Context, p cluster.TxnProducer, group string, offsets map[cluster.TopicPartition]cluster.OffsetCommit) error
	// EndTxn commits or aborts the transaction and returns once its
	// markers are replicated on every partition.
	EndTxn(ctx context.Context, p cluster.TxnProducer, commit bool) error
	// DescribeTxns describes transactional ids; unknown ones are absent.
	DescribeTxns(ctx context.Context, ids []string) (map[string]cluster.TxnDescription, error)
	// ListTxns describes every transactional id.
	ListTxns(ctx context.Context) ([]cluster.TxnDescription, error)
	// PendingTxnOffsets lists a group's partitions whose offsets wait for
	// a transaction's decision (after FetchOffsets' linearizable read).
	PendingTxnOffsets(group string) map[cluster.TopicPartition]bool
}
