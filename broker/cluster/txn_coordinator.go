package cluster

import (
	"context"
	"errors"
	"sync"
	"time"
)

// txnCoordinator moves transactions forward on the __meta leader: it
// writes the markers of every transaction in PrepareCommit or PrepareAbort
// and then completes it, and it aborts transactions past their timeout.
// It acts from __meta's replicated state only, so a new __meta leader
// finishes whatever its predecessor prepared (a coordinator failover), and
// markers are idempotent at the partitions, so two coordinators writing
// the same ones during a leadership change do no harm.
type txnCoordinator struct {
	n *Node

	mu sync.Mutex
	// changed is closed (and replaced) at every __meta apply, waking
	// requests that wait for a transaction to move on.
	changed chan struct{}
	// driving holds the transactional ids a goroutine is driving now.
	driving map[string]bool
	// written holds, per transactional id, the serial of the prepared
	// transaction whose markers this node saw applied on every
	// partition: a fact that stays true whoever leads, which lets EndTxn
	// answer before the complete entry and lets the id's next command
	// carry the completion (txnCommand.Completes).
	written map[string]uint64
	kickc   chan struct{}
	wg      sync.WaitGroup
}

// txnSweepInterval is how often the coordinator looks for prepared and
// expired transactions besides being kicked by EndTxn and InitProducerId.
const txnSweepInterval = 100 * time.Millisecond

// markerAttempt bounds one marker proposal; a failed one is retried.
const markerAttempt = 3 * time.Second

func newTxnCoordinator(n *Node) *txnCoordinator {
	return &txnCoordinator{n: n, driving: map[string]bool{}, written: map[string]uint64{}, kickc: make(chan struct{}, 1)}
}

// applied runs after every __meta apply (metaSM.committed).
func (c *txnCoordinator) applied() {
	c.mu.Lock()
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
	c.mu.Unlock()
}

// changes returns a channel closed at the next __meta apply.
func (c *txnCoordinator) changes() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.changed
}

// markersWritten reports whether this node saw every marker of
// transaction serial of id applied.
func (c *txnCoordinator) markersWritten(id string, serial uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.written[id] == serial
}

func (c *txnCoordinator) setWritten(id string, serial uint64) {
	c.mu.Lock()
	c.written[id] = serial
	c.mu.Unlock()
	c.applied() // wake the requests waiting for these markers
}

func (c *txnCoordinator) kick() {
	select {
	case c.kickc <- struct{}{}:
	default:
	}
}

// run sweeps until ctx ends, then waits for the goroutines it started.
func (c *txnCoordinator) run(ctx context.Context) {
	defer c.wg.Wait()
	t := time.NewTicker(txnSweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.kickc:
		}
		c.sweep(ctx)
	}
}

// sweep starts a driver for every transaction that needs one.
func (c *txnCoordinator) sweep(ctx context.Context) {
	if !c.n.metaRaft.isLeader() {
		return
	}
	now := time.Now().UnixMilli()
	for id, t := range c.n.meta.txns() {
		if !isPrepare(t.State) && !(t.State == TxnOngoing && expired(t, now)) {
			continue
		}
		c.mu.Lock()
		busy := c.driving[id]
		c.driving[id] = true
		c.mu.Unlock()
		if busy {
			continue
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer func() {
				c.mu.Lock()
				delete(c.driving, id)
				c.mu.Unlock()
			}()
			c.drive(ctx, id)
		}()
	}
}

func expired(t txnMeta, nowMs int64) bool { return nowMs-t.StartMs >= int64(t.TimeoutMs) }

// drive takes one transaction as far as it can while this node leads
// __meta: an expired one is aborted, a prepared one gets its markers and
// completes. The loop is bounded: timeout, markers, done.
func (c *txnCoordinator) drive(ctx context.Context, id string) {
	for range 3 {
		if ctx.Err() != nil || !c.n.metaRaft.isLeader() {
			return
		}
		t, ok := c.n.meta.txn(id)
		if !ok {
			return
		}
		switch {
		case isPrepare(t.State):
			if !c.writeMarkers(ctx, id, t) {
				return
			}
			c.setWritten(id, t.Serial)
			pctx, cancel := context.WithTimeout(ctx, markerAttempt)
			_, err := c.n.proposeTxn(pctx, txnCommand{Kind: txnComplete, ID: id, Serial: t.Serial})
			cancel()
			if err != nil {
				c.n.log.Debug("complete transaction", "transactional_id", id, "serial", t.Serial, "err", err)
				return
			}
		case t.State == TxnOngoing && expired(t, time.Now().UnixMilli()):
			c.n.log.Warn("aborting a transaction past its timeout", "transactional_id", id, "producer_id", t.ProducerID,
				"epoch", t.Epoch, "timeout_ms", t.TimeoutMs, "partitions", len(t.Partitions))
			pctx, cancel := context.WithTimeout(ctx, markerAttempt)
			_, err := c.n.proposeTxn(pctx, txnCommand{Kind: txnTimeout, ID: id, Serial: t.Serial})
			cancel()
			if err != nil {
				c.n.log.Debug("abort expired transaction", "transactional_id", id, "err", err)
				return
			}
		default:
			return
		}
	}
}

// writeMarkers writes the marker of prepared transaction t to each of its
// partitions, retrying each until it applied. It gives up (false) when
// this node stops leading __meta or the transaction moved on: whoever
// leads then continues from the replicated state.
func (c *txnCoordinator) writeMarkers(ctx context.Context, id string, t txnMeta) bool {
	m := markerCmd{pid: t.ProducerID, epoch: t.Epoch, serial: t.Serial, commit: t.State == TxnPrepareCommit}
	still := func() bool {
		cur, ok := c.n.meta.txn(id)
		return ctx.Err() == nil && c.n.metaRaft.isLeader() && ok && cur.Serial == t.Serial && isPrepare(cur.State)
	}
	results := make(chan bool, len(t.Partitions))
	for _, tp := range t.Partitions {
		go func() {
			backoff := 10 * time.Millisecond
			for {
				if !still() {
					results <- false
					return
				}
				actx, cancel := context.WithTimeout(ctx, markerAttempt)
				err := c.n.writeMarker(actx, tp, m, true)
				cancel()
				if err == nil || errors.Is(err, ErrUnknownTopic) {
					// A deleted topic has nowhere to write to.
					results <- true
					return
				}
				c.n.log.Debug("write transaction marker; retrying", "transactional_id", id, "topic", tp.Topic, "partition", tp.Partition, "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 500*time.Millisecond)
			}
		}()
	}
	ok := true
	for range t.Partitions {
		ok = <-results && ok
	}
	return ok
}

// await waits until the markers of transaction serial of id are written
// (this node saw them applied, or the transaction completed), kicking the
// coordinator first. It reports whether that happened before ctx ended.
func (c *txnCoordinator) await(ctx context.Context, id string, serial uint64) bool {
	c.kick()
	done := func() bool {
		t, ok := c.n.meta.txn(id)
		return !ok || t.Serial != serial || !isPrepare(t.State) || c.markersWritten(id, serial)
	}
	waitUntil(ctx, DefaultProposalTimeout, c.changes, done)
	return done()
}

// completeUnconfirmed is the seeded bug CommitBeforeMarkers: the markers
// are only proposed, never confirmed, and the transaction is completed
// at once, trusting Raft to deliver them. A marker lost to a leadership
// change is never rewritten, and the partition's open range then ends
// with whatever marker comes next: the producer's next transaction's.
func (c *txnCoordinator) completeUnconfirmed(ctx context.Context, id string) error {
	t, ok := c.n.meta.txn(id)
	if !ok || !isPrepare(t.State) {
		return nil
	}
	m := markerCmd{pid: t.ProducerID, epoch: t.Epoch, serial: t.Serial, commit: t.State == TxnPrepareCommit}
	for _, tp := range t.Partitions {
		if err := c.n.writeMarker(ctx, tp, m, false); err != nil {
			c.n.log.Debug("unsafe: marker proposal failed; not retried", "transactional_id", id, "topic", tp.Topic, "partition", tp.Partition, "err", err)
		}
	}
	_, err := c.n.proposeTxn(ctx, txnCommand{Kind: txnComplete, ID: id, Serial: t.Serial})
	return err
}
