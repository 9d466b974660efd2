package harness

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The queue workload is Jepsen's Kafka workload without transactions: each
// client process sends unique integer values to keys (topic-partitions) and
// polls with a consumer that is assigned keys directly or subscribes to
// their topics, always from the beginning of the log; clients crash now and
// then (close everything and come back as a new process). Mix of
// operations, per client step:
const (
	pCrash     = 0.01
	pAssign    = 0.05
	pSubscribe = 0.02
	pSend      = 0.50
	pOffsets   = 0.05 // read the slot's group offsets (OffsetFetch)
	pCommit    = 0.10 // commit the positions to the slot's group
	// the rest polls
)

// Consumer-group offsets. Each client slot has a group of its own that its
// successive processes share: a process that subscribes commits its
// positions now and then, half the time synchronously (CommitOffsetsSync)
// and half asynchronously (CommitOffsets, recorded under a process number
// of its own, since the client goes on polling while it is in flight); a
// process that starts by subscribing has no positions and must resume at
// the group's last commit (checkers/offsets). A process with assigned
// partitions commits too, as a standalone consumer does (a simple commit:
// generation -1, no member id; the coordinator accepts it while the group
// has no members). A new process subscribes first with probability pJoin,
// else it assigns.
const (
	pJoin        = 0.5
	pSyncCommit  = 0.5
	pReadAfter   = 0.5  // read the offsets back after an ok sync or simple commit (readBack)
	pRack        = 0.67 // a consumer names a node as its rack (KIP-392)
	asyncProcess = 2_000_000
)

// groupName is the consumer group of client slot slot.
func groupName(slot int) string { return fmt.Sprintf("chaos-g%d", slot) }

// pollWait bounds one poll. Short, because a poll that finds nothing is a
// normal outcome and the slot should get back to sending.
const pollWait = 100 * time.Millisecond

type queueClient struct {
	procBase
	consumer *kgo.Client
	// pos is the next offset this process's consumer reads per key, from
	// its own polls. An assign keeps the position of keys that stay
	// assigned (Jepsen's consumer keeps them, and the kafka checker
	// expects the next poll of such a key to continue where the last one
	// ended); only newly assigned keys start from the beginning.
	pos *positions
	// group is the consumer group while the consumer is subscribed, and
	// subKeys the keys of the subscription.
	group   string
	subKeys []Key
	// consumed learns which nodes the consumer's fetches and commits
	// went to.
	consumed *servedBy
	// async tracks async commits in flight; once closed (under asyncMu)
	// their completions are no longer recorded, so nothing is written
	// after the workload ended (the history keeps them pending: unknown).
	async   sync.WaitGroup
	asyncMu sync.Mutex
	closed  bool
}

// positions is a process's next offset per key. The group consumer's
// callback reads it from franz-go's goroutine, hence the lock.
type positions struct {
	mu sync.Mutex
	m  map[Key]int64
}

func (p *positions) get(k Key) (int64, bool) {
	if p == nil {
		return 0, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o, ok := p.m[k]
	return o, ok
}

func (p *positions) set(k Key, o int64) {
	p.mu.Lock()
	p.m[k] = o
	p.mu.Unlock()
}

// keep drops every key not in keys, as an assign or subscribe does in the
// kafka checker's model of a consumer.
func (p *positions) keep(keys []Key) *positions {
	out := &positions{m: map[Key]int64{}}
	for _, k := range keys {
		if o, ok := p.get(k); ok {
			out.m[k] = o
		}
	}
	return out
}

func (c *queueClient) close() {
	waitBounded(&c.async, c.cfg.OpTimeout+2*time.Second)
	c.asyncMu.Lock()
	c.closed = true
	c.asyncMu.Unlock()
	closeBounded(c.consumer, 2*time.Second)
	closeBounded(c.producer, 2*time.Second)
}

// waitBounded waits for wg, at most d.
func waitBounded(wg *sync.WaitGroup, d time.Duration) { runBounded(wg.Wait, d) }

func (c *queueClient) step(ctx context.Context) {
	if c.consumer == nil {
		if c.rng.Float64() < pJoin {
			c.subscribe(ctx)
		} else {
			c.assign(ctx)
		}
		return
	}
	r := c.rng.Float64()
	switch {
	case r < pCrash:
		c.crash()
	case r < pCrash+pAssign:
		c.assign(ctx)
	case r < pCrash+pAssign+pSubscribe:
		c.subscribe(ctx)
	case r < pCrash+pAssign+pSubscribe+pSend:
		if c.send(ctx) == history.Info {
			c.restart()
		}
	case r < pCrash+pAssign+pSubscribe+pSend+pOffsets:
		c.readOffsets(ctx)
	case r < pCrash+pAssign+pSubscribe+pSend+pOffsets+pCommit:
		c.commit(ctx)
	default:
		c.poll(ctx)
	}
}

// restart continues the slot as a new process with new clients.
func (c *queueClient) restart() {
	c.newProcess(c.consumer)
	c.consumer = nil
	c.pos = nil
	c.group, c.subKeys = "", nil
}

func (c *queueClient) crash() {
	c.rec.Invoke(c.proc, history.FCrash, nil)
	c.rec.Complete(c.proc, history.Info, history.FCrash, nil, errors.New("client crashed on purpose"))
	c.restart()
}

// chooseKeys picks a non-empty random subset of the active keys.
func (c *queueClient) chooseKeys() []Key {
	act := c.cfg.Keys.Active()
	c.rng.Shuffle(len(act), func(i, j int) { act[i], act[j] = act[j], act[i] })
	return act[:1+c.rng.IntN(len(act))]
}

// assign points the process's consumer at chosen keys: newly assigned keys
// from offset 0 (Jepsen's seek-to-beginning), keys it already read from
// where it left off. The consumer is rebuilt (from a group consumer, or
// with a new set of partitions) so no buffered fetch of the old assignment
// leaks into later polls; the positions carry over explicitly.
func (c *queueClient) assign(ctx context.Context) {
	keys := c.chooseKeys()
	names := keyNames(keys)
	c.rec.Invoke(c.proc, history.FAssign, names)
	parts := map[string]map[int32]kgo.Offset{}
	pos := c.pos.keep(keys)
	for _, k := range keys {
		if parts[k.Topic] == nil {
			parts[k.Topic] = map[int32]kgo.Offset{}
		}
		off := kgo.NewOffset().AtStart()
		if p, ok := pos.get(k); ok {
			off = kgo.NewOffset().At(p)
		}
		parts[k.Topic][k.Partition] = off
	}
	err := c.newConsumer(kgo.ConsumePartitions(parts))
	if err == nil {
		c.pos = pos
	}
	c.group, c.subKeys = "", nil
	c.rec.Complete(c.proc, opType(err), history.FAssign, names, err)
}

// subscribe joins the slot's consumer group for the topics of chosen keys.
// The group is the slot's (groupName): the broker assigns the partitions
// through the group protocol, and only the slot's earlier process, still
// leaving, can hold partitions for a moment. A partition the process has
// read continues where its last poll ended (as an assign does), one it has
// not starts at the group's committed offset, or at the beginning without
// one. The invocation names the group (Op.Group).
func (c *queueClient) subscribe(ctx context.Context) {
	topics, names := c.cfg.Keys.subscription(c.chooseKeys())
	group := groupName(c.slot)
	c.rec.InvokeMeta(c.proc, history.FSubscribe, names, OpMeta{Group: group})
	var subKeys []Key
	for _, n := range names {
		if k, err := ParseKey(n); err == nil {
			subKeys = append(subKeys, k)
		}
	}
	pos := c.pos.keep(subKeys)
	err := c.newConsumer(
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.AdjustFetchOffsetsFn(func(_ context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
			for t, ps := range offs {
				for p := range ps {
					if o, ok := pos.get(Key{Topic: t, Partition: p}); ok {
						ps[p] = kgo.NewOffset().At(o).WithEpoch(-1)
					}
				}
			}
			return offs, nil
		}),
	)
	c.group, c.subKeys = "", nil
	if err == nil {
		c.pos = pos
		c.group, c.subKeys = group, subKeys
	}
	c.rec.CompleteMeta(c.proc, opType(err), history.FSubscribe, names, err, OpMeta{Group: group})
}

func (c *queueClient) newConsumer(opts ...kgo.Opt) error {
	if c.consumer != nil {
		go c.consumer.Close()
		c.consumer = nil
	}
	c.consumed = newServedBy()
	all := append(clientOpts(c.cfg.seeds(), fmt.Sprintf("chaos-c%d", c.proc), c.cfg.OpTimeout, c.cfg.Log),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.WithHooks(c.consumed))
	if n := len(c.cfg.seeds()); n > 1 && c.rng.Float64() < pRack {
		// Nodes are racks of their own (docker gives --rack nI): the
		// partition leader sends this consumer to read from node I when
		// it is another replica, a follower read.
		all = append(all, kgo.Rack(nodeName(int32(1+c.rng.IntN(n)))))
	}
	cl, err := kgo.NewClient(append(all, opts...)...)
	if err != nil {
		return fmt.Errorf("new consumer: %w", err)
	}
	c.consumer = cl
	return nil
}

// poll records what one poll returned, per key. A poll changes nothing on
// the broker, so one that returned no records and hit an error is a fail.
func (c *queueClient) poll(ctx context.Context) {
	c.rec.Invoke(c.proc, history.FPoll, []history.Mop{history.Poll()})
	polls, err := pollOnce(ctx, c.consumer, pollWait)
	typ := history.Ok
	if len(polls) == 0 && err != nil {
		typ = ClassifyRead(err)
	}
	if typ != history.Ok {
		c.rec.Complete(c.proc, typ, history.FPoll, []history.Mop{history.Poll()}, err)
		return
	}
	m := history.Poll()
	m.Done, m.Polls = true, polls
	var keys []Key
	for ks := range polls {
		if k, err := ParseKey(ks); err == nil {
			keys = append(keys, k)
		}
	}
	node, nodes := c.consumed.poll(keys)
	c.rec.CompleteMeta(c.proc, history.Ok, history.FPoll, []history.Mop{m}, nil, OpMeta{Node: node, Nodes: nodes})
	if c.pos == nil {
		c.pos = &positions{m: map[Key]int64{}}
	}
	for ks, rs := range polls {
		if k, err := ParseKey(ks); err == nil && len(rs) > 0 {
			c.pos.set(k, rs[len(rs)-1].Offset+1)
		}
	}
}

// pollOnce polls cl for at most wait and returns the records per key and
// the first error other than the poll's own deadline.
func pollOnce(ctx context.Context, cl *kgo.Client, wait time.Duration) (map[string][]history.Record, error) {
	return pollWith(ctx, wait, cl.PollRecords)
}

// pollWith is pollOnce over any poll function (a client's or a
// transactional session's PollRecords).
func pollWith(ctx context.Context, wait time.Duration, poll func(context.Context, int) kgo.Fetches) (map[string][]history.Record, error) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait)
	defer cancel()
	fs := poll(pctx, 2000)
	polls := map[string][]history.Record{}
	var firstErr error
	fs.EachError(func(t string, p int32, err error) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("fetch %s/%d: %w", t, p, err)
			if t == "" { // a group error, not a partition's
				firstErr = fmt.Errorf("poll: %w", err)
			}
		}
	})
	fs.EachRecord(func(r *kgo.Record) {
		v, err := strconv.ParseInt(string(r.Value), 10, 64)
		if err != nil {
			return // not a value of this harness
		}
		k := Key{Topic: r.Topic, Partition: r.Partition}.String()
		polls[k] = append(polls[k], history.Record{Offset: r.Offset, Value: v})
	})
	return polls, firstErr
}

func keyNames(keys []Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.String()
	}
	return out
}

// opType is the completion of a local operation (assign, subscribe): it
// touches no broker, so an error means it did not happen.
func opType(err error) history.Type {
	if err != nil {
		return history.Fail
	}
	return history.Ok
}
