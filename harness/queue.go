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
	// the rest polls
)

// pollWait bounds one poll. Short, because a poll that finds nothing is a
// normal outcome and the slot should get back to sending.
const pollWait = 300 * time.Millisecond

type queueClient struct {
	procBase
	consumer *kgo.Client
}

func (c *queueClient) close() {
	for _, cl := range []*kgo.Client{c.consumer, c.producer} {
		if cl != nil {
			cl.Close()
		}
	}
}

func (c *queueClient) step(ctx context.Context) {
	if c.consumer == nil {
		c.assign(ctx)
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
	default:
		c.poll(ctx)
	}
}

// restart continues the slot as a new process with new clients.
func (c *queueClient) restart() {
	c.newProcess(c.consumer)
	c.consumer = nil
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

// assign points the process's consumer at chosen keys from offset 0
// (Jepsen's assign with seek-to-beginning). The consumer is rebuilt so no
// buffered fetch of the old assignment leaks into later polls.
func (c *queueClient) assign(ctx context.Context) {
	keys := c.chooseKeys()
	names := keyNames(keys)
	c.rec.Invoke(c.proc, history.FAssign, names)
	parts := map[string]map[int32]kgo.Offset{}
	for _, k := range keys {
		if parts[k.Topic] == nil {
			parts[k.Topic] = map[int32]kgo.Offset{}
		}
		parts[k.Topic][k.Partition] = kgo.NewOffset().AtStart()
	}
	err := c.newConsumer(kgo.ConsumePartitions(parts))
	c.rec.Complete(c.proc, opType(err), history.FAssign, names, err)
}

// subscribe joins a consumer group for the topics of chosen keys. Each
// process uses a group of its own: the broker still assigns the partitions
// through the group protocol, but no other process's join can take a
// partition away mid-run and restart it from the beginning, which would look
// like a non-monotonic poll of this process. No offsets are committed, so a
// subscription always reads from the beginning.
func (c *queueClient) subscribe(ctx context.Context) {
	var topics []string
	for _, k := range c.chooseKeys() {
		if !containsStr(topics, k.Topic) {
			topics = append(topics, k.Topic)
		}
	}
	var names []string
	for _, t := range topics {
		for _, k := range c.cfg.Keys.Active() {
			if k.Topic == t && !containsStr(names, k.String()) {
				names = append(names, k.String())
			}
		}
	}
	c.rec.Invoke(c.proc, history.FSubscribe, names)
	err := c.newConsumer(
		kgo.ConsumerGroup(fmt.Sprintf("chaos-p%d", c.proc)),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	)
	c.rec.Complete(c.proc, opType(err), history.FSubscribe, names, err)
}

func (c *queueClient) newConsumer(opts ...kgo.Opt) error {
	if c.consumer != nil {
		go c.consumer.Close()
		c.consumer = nil
	}
	all := append(clientOpts(c.cfg.Seeds, fmt.Sprintf("chaos-c%d", c.proc), c.cfg.OpTimeout, c.cfg.Log),
		kgo.FetchMaxWait(200*time.Millisecond))
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
	c.rec.Complete(c.proc, history.Ok, history.FPoll, []history.Mop{m}, nil)
}

// pollOnce polls cl for at most wait and returns the records per key and
// the first error other than the poll's own deadline.
func pollOnce(ctx context.Context, cl *kgo.Client, wait time.Duration) (map[string][]history.Record, error) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait)
	defer cancel()
	fs := cl.PollRecords(pctx, 2000)
	polls := map[string][]history.Record{}
	var firstErr error
	fs.EachError(func(t string, p int32, err error) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("fetch %s/%d: %w", t, p, err)
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
