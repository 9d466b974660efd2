package harness

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The txn workload is Jepsen's Kafka workload with transactions (its
// :txn? option): every operation is one transaction of 1 to txnMaxMops
// micro-operations, each a send of a fresh value to an active key or a
// poll of the process's read_committed group consumer, whose positions
// are committed inside the transaction (TxnOffsetCommit), as a
// consume-transform-produce loop does. Some transactions are aborted on
// purpose, after a pause that leaves their records open for other readers
// to (wrongly) see; some are abandoned mid-way, as a crashed producer
// would leave them: no EndTxn, and the slot's next process, sharing the
// slot's transactional id, fences them with its InitProducerId.
//
// How outcomes are recorded, the part the checkers depend on:
//
//   - ok: the session's End reported a commit.
//   - fail: the transaction cannot have committed, because this client
//     never asked for a commit: an abort on purpose, an abort after a
//     send failed, an abandoned transaction. Only EndTxn with commit makes
//     a transaction's records visible to read_committed, so a value of a
//     failed transaction that an ok read returns is an aborted read (G1a),
//     whatever the error of the abort itself was.
//   - info: a commit was asked for and its outcome is unknown (any error
//     from End, or an End that answered "not committed": franz-go answers
//     so after an unconfirmed commit too). The process number is retired.
//
// Sends are recorded with the offsets their produce returned; polls with
// the records they returned, also in failed and indefinite transactions
// (read_committed data is committed data, whatever became of the reader).
const (
	txnMaxMops = 4
	// pTxnSend is the share of sends among micro-operations.
	pTxnSend = 0.5
	// pTxnAbort is the share of transactions aborted on purpose.
	pTxnAbort = 0.15
	// pTxnCrash is the share of transactions abandoned without EndTxn.
	pTxnCrash = 0.03
	// pTxnResubscribe is the chance per step of a new subscription (new
	// consumer in the same group) when the current one still covers every
	// active key; pTxnStaleResubscribe when it no longer does.
	pTxnResubscribe      = 0.01
	pTxnStaleResubscribe = 0.2
	// txnAbortHold is the longest pause before an abort on purpose: the
	// records stay open (neither committed nor aborted) meanwhile.
	txnAbortHold = 150 * time.Millisecond
	// txnTimeout is the transaction timeout the producers ask for: the
	// broker aborts a transaction left open longer (an abandoned one whose
	// slot never produced again).
	txnTimeout = 10 * time.Second
	// txnPollWait bounds one poll inside a transaction. The session's
	// consumer fetches in the background, so a poll mostly returns what
	// is buffered at once; a longer wait mostly idles an open
	// transaction (a 100 ms wait held the workload to ~30 txn/s).
	txnPollWait = 30 * time.Millisecond
)

// errTxnAbandoned is the outcome of a transaction the client crashed out
// of on purpose.
var errTxnAbandoned = errors.New("producer crashed mid-transaction on purpose: abandoned without EndTxn")

type txnClient struct {
	procBase
	sess *kgo.GroupTransactSession
	// topics are the topics the session consumes.
	topics []string
	// seqs is the session's next sequence number per partition (see
	// txn_late.go).
	seqs seqs
}

// txnID is the slot's transactional id: every process of the slot uses
// it, so that a new process fences the old one's producer.
func (c *txnClient) txnID() string { return fmt.Sprintf("chaos-txn-s%d", c.slot) }

// group is the process's consumer group: one member only, so that no
// other process's join rebalances it; a new subscription of the same
// process continues from the offsets its transactions committed.
func (c *txnClient) group() string { return fmt.Sprintf("chaos-txn-p%d", c.proc) }

func (c *txnClient) close() {
	c.closeSession()
	// Fence whatever transaction the slot left open (an abandoned one, or
	// one whose End failed), so that no open transaction holds back the
	// last stable offset during the final reads.
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.OpTimeout)
	defer cancel()
	if err := c.fence(ctx); err != nil {
		c.cfg.Log.Warn("fence transactional id at close", "transactional_id", c.txnID(), "err", err)
	}
}

func (c *txnClient) closeSession() {
	if c.sess != nil {
		// Close leaves the group, so that the next subscription of this
		// group is not held up by a stale member. An open transaction
		// is not ended: closing is how a producer crashes.
		cl := c.sess
		c.sess = nil
		closeBounded(cl.Client(), 2*time.Second)
	}
}

// fence bumps the slot's producer epoch with InitProducerId, which aborts
// the open transaction of an earlier epoch.
func (c *txnClient) fence(ctx context.Context) error {
	opts := append(clientOpts(c.cfg.Seeds, fmt.Sprintf("chaos-fence-s%d", c.slot), c.cfg.OpTimeout, c.cfg.Log), producerOpts(c.cfg.OpTimeout)...)
	opts = append(opts, kgo.TransactionalID(c.txnID()), kgo.TransactionTimeout(txnTimeout))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("new fencing client: %w", err)
	}
	defer closeBounded(cl, 2*time.Second)
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return fmt.Errorf("init producer id: %w", err)
	}
	return nil
}

// restart continues the slot as a new process: a new session (a new
// producer epoch, fencing the old one) and a new group.
func (c *txnClient) restart() {
	if c.sess != nil {
		go c.sess.Client().Close()
		c.sess = nil
	}
	c.newProcess()
}

func (c *txnClient) step(ctx context.Context) {
	if c.sess == nil {
		c.subscribe(ctx)
		return
	}
	p := pTxnResubscribe
	if !c.covers(c.cfg.Keys.Active()) {
		p = pTxnStaleResubscribe
	}
	if c.rng.Float64() < p {
		c.subscribe(ctx)
		return
	}
	c.txn(ctx)
}

// covers reports whether the session consumes the topics of every key.
func (c *txnClient) covers(keys []Key) bool {
	for _, k := range keys {
		if !containsStr(c.topics, k.Topic) {
			return false
		}
	}
	return true
}

// subscribe (re)creates the process's transactional session, subscribed
// to the topics of the active keys in the process's group, reading
// committed records only. Recorded as a subscribe of every partition of
// those topics.
func (c *txnClient) subscribe(ctx context.Context) {
	topics, names := c.cfg.Keys.subscription(c.cfg.Keys.Active())
	c.rec.Invoke(c.proc, history.FSubscribe, names)
	c.closeSession()
	opts := append(clientOpts(c.cfg.Seeds, fmt.Sprintf("chaos-t%d", c.proc), c.cfg.OpTimeout, c.cfg.Log), producerOpts(c.cfg.OpTimeout)...)
	opts = append(opts,
		kgo.TransactionalID(c.txnID()),
		kgo.TransactionTimeout(txnTimeout),
		kgo.ConsumerGroup(c.group()),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err == nil {
		c.sess, c.topics, c.seqs = sess, topics, seqs{}
	} else {
		err = fmt.Errorf("new transact session: %w", err)
	}
	c.rec.Complete(c.proc, opType(err), history.FSubscribe, names, err)
}

// txnPlan is one transaction as invoked, and what to do with it.
type txnPlan struct {
	mops  []history.Mop
	keys  []Key // per micro-operation; zero for polls
	abort bool  // abort on purpose
	crash bool  // abandon without EndTxn
	// late is the send held back and delivered after the abort (-1:
	// none): the last micro-operation, to a key an earlier send of the
	// transaction wrote to.
	late int
}

func (c *txnClient) plan(ctx context.Context) txnPlan {
	n := 1 + c.rng.IntN(txnMaxMops)
	p := txnPlan{mops: make([]history.Mop, n), keys: make([]Key, n)}
	for i := range n {
		if c.rng.Float64() < pTxnSend {
			k, v := c.cfg.Keys.NextWrite(ctx, c.rng)
			p.mops[i], p.keys[i] = history.Send(k.String(), v), k
		} else {
			p.mops[i] = history.Poll()
		}
	}
	r := c.rng.Float64()
	p.abort = r < pTxnAbort
	p.crash = !p.abort && r < pTxnAbort+pTxnCrash
	p.late = -1
	if p.abort && n < txnMaxMops && c.rng.Float64() < pTxnLate {
		for i := range n {
			if p.mops[i].F == history.FSend {
				k := p.keys[i]
				v := c.cfg.Keys.NextValue()
				p.mops = append(p.mops, history.Send(k.String(), v))
				p.keys = append(p.keys, k)
				p.late = n
				break
			}
		}
	}
	return p
}

// txn runs and records one transaction.
func (c *txnClient) txn(ctx context.Context) {
	p := c.plan(ctx)
	c.rec.Invoke(c.proc, history.FTxn, p.mops)
	octx, cancel := c.opContext(ctx)
	defer cancel()
	done := make([]history.Mop, len(p.mops))
	copy(done, p.mops)
	sent := make([]bool, len(p.mops))
	err := c.sess.Begin()
	if err != nil {
		err = fmt.Errorf("begin transaction: %w", err)
	}
	for i := range p.mops {
		if err != nil {
			break
		}
		if i == p.late {
			continue // held back: "delayed in the network"
		}
		switch p.mops[i].F {
		case history.FSend:
			var off int64
			off, err = c.produce(octx, p.keys[i], p.mops[i].Value)
			if err == nil {
				done[i].Done, done[i].Offset, sent[i] = true, &off, true
				if c.seqs != nil {
					c.seqs[p.keys[i]]++
				}
			} else {
				c.seqs = nil
			}
		case history.FPoll:
			polls, _ := pollWith(octx, txnPollWait, c.sess.PollRecords)
			done[i].Done, done[i].Polls = true, polls
		}
	}
	switch {
	case err == nil && p.crash:
		c.rec.Complete(c.proc, history.Fail, history.FTxn, done, errTxnAbandoned)
		c.restart()
		return
	case err == nil && p.abort:
		sleepCtx(octx, time.Duration(c.rng.Int64N(int64(txnAbortHold))))
		fallthrough
	case err != nil:
		// Never asked to commit: whatever the abort's own outcome, the
		// transaction did not commit.
		_, aerr := c.sess.End(octx, kgo.TryAbort)
		cause := err
		if cause == nil {
			cause = errors.New("aborted on purpose")
		}
		if aerr != nil {
			cause = errors.Join(cause, fmt.Errorf("abort: %w", aerr))
		}
		c.rec.Complete(c.proc, history.Fail, history.FTxn, done, cause)
		if aerr == nil && err == nil && c.lateKey(p, sent) {
			// The abort is acknowledged: now the held-back send arrives.
			if lerr := c.deliverLate(octx, p.keys[p.late], p.mops[p.late].Value); lerr != nil {
				c.cfg.Log.Warn("broker took a late transactional batch", "err", lerr)
			}
		}
		if aerr != nil || err != nil {
			// The producer's state is uncertain: start afresh, fencing
			// whatever is still open.
			c.restart()
		}
		return
	}
	committed, cerr := c.sess.End(octx, kgo.TryCommit)
	if cerr == nil && committed {
		c.rec.Complete(c.proc, history.Ok, history.FTxn, done, nil)
		for i := range done {
			if done[i].F == history.FSend {
				c.cfg.Keys.Acked(p.keys[i], *done[i].Offset)
			}
		}
		return
	}
	if cerr == nil {
		cerr = errors.New("commit not confirmed: the session ended the transaction without a confirmed commit")
	}
	c.rec.Complete(c.proc, history.Info, history.FTxn, done, fmt.Errorf("commit: %w", cerr))
	c.restart()
}

// produce sends v to k inside the open transaction and waits for its
// offset, with the same watchdog as a plain send.
func (c *txnClient) produce(ctx context.Context, k Key, v int64) (int64, error) {
	type outcome struct {
		off int64
		err error
	}
	out := make(chan outcome, 1)
	r := &kgo.Record{Topic: k.Topic, Partition: k.Partition, Value: []byte(strconv.FormatInt(v, 10))}
	c.sess.Produce(ctx, r, func(r *kgo.Record, err error) { out <- outcome{r.Offset, err} })
	t := time.NewTimer(c.cfg.OpTimeout + 2*time.Second)
	defer t.Stop()
	select {
	case o := <-out:
		if o.err != nil {
			return 0, fmt.Errorf("produce %s: %w", k, o.err)
		}
		return o.off, nil
	case <-t.C:
		return 0, errAbandoned
	}
}
