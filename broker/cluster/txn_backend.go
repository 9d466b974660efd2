package cluster

// This file implements the transaction part of broker/kafka's Backend on
// *Node. The transaction coordinator is the __meta leader (like the group
// coordinator); every request is one txnCommand proposed to __meta.

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// txnWait bounds how long a coordinator request waits for an earlier
// transaction's markers (or for its own): well below every client's
// request timeout (franz-go's 10 s overhead, Java's 30 s), so the client
// gets CONCURRENT_TRANSACTIONS, which all of them retry, instead of
// timing out.
const txnWait = 5 * time.Second

// proposeTxn proposes a transaction command to __meta and returns its
// outcome (apply errors are returned as errors).
func (n *Node) proposeTxn(ctx context.Context, cmd txnCommand) (txnOutcome, error) {
	cmd.NowMs = time.Now().UnixMilli()
	v, err := n.proposeMeta(ctx, metaCommand{Op: opTxn, Txn: &cmd})
	if err != nil {
		return txnOutcome{}, err
	}
	o, _ := v.(txnOutcome)
	return o, nil
}

// proposeTxnWaiting proposes cmd and, when the id's previous transaction
// is still writing its markers, waits for them and proposes once more, so
// that a client rarely sees CONCURRENT_TRANSACTIONS. A command that
// follows a prepared transaction whose markers are written completes it
// in the same entry (Completes).
func (n *Node) proposeTxnWaiting(ctx context.Context, cmd txnCommand) (txnOutcome, error) {
	if !n.metaRaft.isLeader() {
		return txnOutcome{}, ErrNotLeader
	}
	ctx, cancel := context.WithTimeout(ctx, txnWait)
	defer cancel()
	if t, ok := n.meta.txn(cmd.ID); ok && isPrepare(t.State) && n.txns.markersWritten(cmd.ID, t.Serial) {
		cmd.Completes = t.Serial
	}
	for range 3 {
		o, err := n.proposeTxn(ctx, cmd)
		if err != nil || !o.Busy {
			return o, err
		}
		if !n.txns.await(ctx, cmd.ID, o.Serial) {
			break
		}
		if n.txns.markersWritten(cmd.ID, o.Serial) {
			cmd.Completes = o.Serial
		}
	}
	return txnOutcome{}, ErrConcurrentTransactions
}

// InitTxnProducer serves InitProducerId with a transactional id: the
// first call allocates a producer id, every later one bumps the epoch,
// which fences older instances. An ongoing transaction of the id is
// aborted first (with a bumped epoch, so its in-flight batches are refused
// wherever the markers land), and the answer waits for that abort.
func (n *Node) InitTxnProducer(ctx context.Context, req TxnInit) (int64, int16, error) {
	if req.TimeoutMs <= 0 || time.Duration(req.TimeoutMs)*time.Millisecond > MaxTxnTimeout {
		return -1, -1, ErrInvalidTxnTimeout
	}
	o, err := n.proposeTxnWaiting(ctx, txnCommand{Kind: txnInit, ID: req.ID, ProducerID: req.ProducerID, Epoch: req.Epoch, TimeoutMs: req.TimeoutMs})
	if err != nil {
		return -1, -1, err
	}
	return o.ProducerID, o.Epoch, nil
}

// AddTxnPartitions adds partitions to the producer's transaction, which
// begins with the first partition or group added.
func (n *Node) AddTxnPartitions(ctx context.Context, p TxnProducer, tps []TopicPartition) error {
	_, err := n.proposeTxnWaiting(ctx, txnCommand{Kind: txnAdd, ID: p.ID, ProducerID: p.ProducerID, Epoch: p.Epoch, Partitions: tps})
	return err
}

// AddTxnOffsets adds a consumer group to the producer's transaction, so
// that TxnOffsetCommit may commit its offsets in it.
func (n *Node) AddTxnOffsets(ctx context.Context, p TxnProducer, group string) error {
	_, err := n.proposeTxnWaiting(ctx, txnCommand{Kind: txnAddGroup, ID: p.ID, ProducerID: p.ProducerID, Epoch: p.Epoch, Group: group})
	return err
}

// CommitTxnOffsets stores offsets of group in the producer's ongoing
// transaction. They become the group's committed offsets with the commit
// decision and are dropped by an abort.
func (n *Node) CommitTxnOffsets(ctx context.Context, p TxnProducer, group string, offsets map[TopicPartition]OffsetCommit) error {
	byTopic := map[string]map[int32]OffsetCommit{}
	for tp, oc := range offsets {
		offsetsOf(byTopic, tp.Topic)[tp.Partition] = oc
	}
	if !n.metaRaft.isLeader() {
		return ErrNotLeader
	}
	ctx, cancel := context.WithTimeout(ctx, txnWait)
	defer cancel()
	_, err := n.proposeTxn(ctx, txnCommand{Kind: txnOffsets, ID: p.ID, ProducerID: p.ProducerID, Epoch: p.Epoch, Group: group, Offsets: byTopic})
	return err
}

// EndTxn commits or aborts the producer's transaction. The decision is one
// __meta entry (PrepareCommit or PrepareAbort); EndTxn answers once every
// partition's marker is replicated, so a success means its records are
// readable by read_committed consumers (or dropped) everywhere. The
// complete entry follows (or rides on the id's next command), off the
// client's path. When the markers take longer than txnWait the
// answer is ErrConcurrentTransactions, as Kafka answers EndTxn while the
// transaction prepares: the decision stands, the client retries, and the
// retry waits for the same markers. A retry of a finished EndTxn answers
// success again.
func (n *Node) EndTxn(ctx context.Context, p TxnProducer, commit bool) error {
	if !n.metaRaft.isLeader() {
		return ErrNotLeader
	}
	ctx, cancel := context.WithTimeout(ctx, txnWait)
	defer cancel()
	o, err := n.proposeTxn(ctx, txnCommand{Kind: txnEnd, ID: p.ID, ProducerID: p.ProducerID, Epoch: p.Epoch, Commit: commit})
	if err != nil || o.Done {
		return err
	}
	if n.cfg.Unsafe.CommitBeforeMarkers {
		return n.txns.completeUnconfirmed(ctx, p.ID)
	}
	if !n.txns.await(ctx, p.ID, o.Serial) {
		// Decided and durable; the coordinator keeps writing the
		// markers (and a new coordinator would).
		return ErrConcurrentTransactions
	}
	return nil
}

// DescribeTxns describes the given transactional ids (linearizable);
// unknown ids are missing from the result.
func (n *Node) DescribeTxns(ctx context.Context, ids []string) (map[string]TxnDescription, error) {
	if err := n.metaRaft.linearizable(ctx); err != nil {
		return nil, err
	}
	out := map[string]TxnDescription{}
	for _, id := range ids {
		if t, ok := n.meta.txn(id); ok {
			out[id] = describeTxn(id, t)
		}
	}
	return out, nil
}

// ListTxns describes every transactional id (linearizable), by id.
func (n *Node) ListTxns(ctx context.Context) ([]TxnDescription, error) {
	if err := n.metaRaft.linearizable(ctx); err != nil {
		return nil, err
	}
	all := n.meta.txns()
	out := make([]TxnDescription, 0, len(all))
	for id, t := range all {
		out = append(out, describeTxn(id, t))
	}
	slices.SortFunc(out, func(a, b TxnDescription) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func describeTxn(id string, t txnMeta) TxnDescription {
	d := TxnDescription{ID: id, ProducerID: t.ProducerID, Epoch: t.Epoch, TimeoutMs: t.TimeoutMs, State: t.State, StartMs: -1, Partitions: t.Partitions}
	if t.State == TxnOngoing || isPrepare(t.State) {
		d.StartMs = t.StartMs
	}
	return d
}

// PendingTxnOffsets lists the partitions of group whose offsets sit in an
// undecided transaction (OffsetFetch's RequireStable, KIP-447). It reads
// this node's __meta state: call it after FetchOffsets' linearizable read.
func (n *Node) PendingTxnOffsets(group string) map[TopicPartition]bool {
	return n.meta.pendingTxnOffsets(group)
}
