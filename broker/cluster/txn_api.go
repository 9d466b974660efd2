package cluster

import (
	"errors"
	"time"
)

// This file is the transaction part of the contract between broker/kafka
// and this package (see api.go for the rest): the coordinator's answers as
// sentinel errors, and the types its Backend methods take and return. The
// design is in doc.go, "Transactions".

// Transaction coordinator answers. broker/kafka maps each to its Kafka
// code; every one is a definite answer: nothing was changed.
var (
	// ErrProducerFenced: the request's producer epoch is not the
	// transactional id's current one (a newer producer instance, or the
	// coordinator's own abort, bumped it). Kafka: PRODUCER_FENCED
	// (INVALID_PRODUCER_EPOCH for versions older than KIP-588).
	ErrProducerFenced = errors.New("cluster: producer fenced")
	// ErrInvalidProducerIDMapping: the transactional id is unknown or owns
	// another producer id.
	ErrInvalidProducerIDMapping = errors.New("cluster: invalid producer id mapping")
	// ErrInvalidTxnState: the request does not fit the transaction's state
	// (EndTxn of no transaction, commit after an abort, offsets of a group
	// not added), or a partition got a transactional batch outside an
	// ongoing transaction of the producer's current epoch (KIP-890
	// verification).
	ErrInvalidTxnState = errors.New("cluster: invalid transaction state")
	// ErrConcurrentTransactions: the previous transaction of this id is
	// still writing its markers; the client retries.
	ErrConcurrentTransactions = errors.New("cluster: concurrent transactions")
	// ErrInvalidTxnTimeout: a transaction timeout outside
	// (0, MaxTxnTimeout].
	ErrInvalidTxnTimeout = errors.New("cluster: invalid transaction timeout")
	// ErrTransactionalIDNotFound: DescribeTransactions of an unknown id.
	ErrTransactionalIDNotFound = errors.New("cluster: transactional id not found")
	// ErrTxnUnverified: a transactional batch could not be verified
	// because the coordinator's state could not be read (no __meta
	// quorum); nothing was appended and the producer retries. Kafka
	// answers NOT_ENOUGH_REPLICAS here, a retriable code that triggers
	// no metadata refresh.
	ErrTxnUnverified = errors.New("cluster: transaction verification unavailable")
)

// MaxTxnTimeout is the longest transaction timeout a producer may ask for
// (Kafka's transaction.max.timeout.ms default).
const MaxTxnTimeout = 15 * time.Minute

// Transaction states, named as Kafka's TransactionState (what
// DescribeTransactions and ListTransactions report).
const (
	TxnEmpty          = "Empty"
	TxnOngoing        = "Ongoing"
	TxnPrepareCommit  = "PrepareCommit"
	TxnPrepareAbort   = "PrepareAbort"
	TxnCompleteCommit = "CompleteCommit"
	TxnCompleteAbort  = "CompleteAbort"
)

// TxnInit is an InitProducerId request with a transactional id.
type TxnInit struct {
	ID        string
	TimeoutMs int32
	// ProducerID and Epoch are the producer's current ones (KIP-360,
	// InitProducerId v3+) when it re-initialises to recover, else -1.
	ProducerID int64
	Epoch      int16
}

// TxnProducer names the producer a transactional request speaks for.
type TxnProducer struct {
	ID         string
	ProducerID int64
	Epoch      int16
}

// TxnDescription is one transactional id as DescribeTransactions and
// ListTransactions report it.
type TxnDescription struct {
	ID         string
	ProducerID int64
	Epoch      int16
	TimeoutMs  int32
	State      string
	// StartMs is when the ongoing transaction began (coordinator clock,
	// milliseconds), -1 when none is ongoing.
	StartMs    int64
	Partitions []TopicPartition
}

// AbortedTxn is one aborted transaction's range in a partition, as Fetch
// reports it to read_committed consumers: records of ProducerID from
// FirstOffset up to the abort marker at LastOffset are to be dropped.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64
}
