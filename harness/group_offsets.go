package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka API keys whose answering node the history records.
const (
	apiProduce      = 0
	apiOffsetCommit = 8
	apiOffsetFetch  = 9
)

// commit commits the process's positions to the slot's group: value
// {key: next offset}. A subscribed consumer commits its subscription's
// keys through the group (sync commits under the process; async ones
// under a process number of their own, completing when franz-go calls
// back, while this process goes on); an assigned one commits its keys
// with a simple commit. A sync commit of unknown outcome ends the process,
// as any indefinite operation does.
func (c *queueClient) commit(ctx context.Context) {
	if c.group == "" {
		c.simpleCommit(ctx)
		return
	}
	offs := map[string]int64{}
	uncommitted := map[string]map[int32]kgo.EpochOffset{}
	for _, k := range c.subKeys {
		o, ok := c.pos.get(k)
		if !ok {
			continue
		}
		offs[k.String()] = o
		if uncommitted[k.Topic] == nil {
			uncommitted[k.Topic] = map[int32]kgo.EpochOffset{}
		}
		uncommitted[k.Topic][k.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	if len(offs) == 0 {
		c.poll(ctx) // nothing read yet: nothing to commit
		return
	}
	group, cl, served := c.group, c.consumer, c.consumed
	if c.rng.Float64() >= pSyncCommit && c.asyncProcs != nil {
		proc := asyncProcess + int(c.asyncProcs.Add(1))
		c.rec.InvokeMeta(proc, history.FCommit, offs, OpMeta{Group: group})
		octx, cancel := c.opContext(ctx)
		c.async.Add(1)
		cl.CommitOffsets(octx, uncommitted, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			defer c.async.Done()
			defer cancel()
			typ, done, err := classifyCommit(offs, resp, err)
			c.asyncMu.Lock()
			defer c.asyncMu.Unlock()
			if !c.closed {
				c.rec.CompleteMeta(proc, typ, history.FCommit, commitValue(typ, offs, done), err, OpMeta{Node: served.api(apiOffsetCommit), Group: group})
			}
		})
		return
	}
	c.rec.InvokeMeta(c.proc, history.FCommit, offs, OpMeta{Group: group})
	octx, cancel := c.opContext(ctx)
	defer cancel()
	var (
		typ  history.Type
		done map[string]int64
		cerr error
	)
	cl.CommitOffsetsSync(octx, uncommitted, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		typ, done, cerr = classifyCommit(offs, resp, err)
	})
	c.rec.CompleteMeta(c.proc, typ, history.FCommit, commitValue(typ, offs, done), cerr, OpMeta{Node: served.api(apiOffsetCommit), Group: group})
	switch {
	case typ == history.Info:
		c.restart()
	case typ == history.Ok && c.rng.Float64() < pReadAfter:
		c.readBack(ctx)
	}
}

// readBackTries bounds readBack's OffsetFetch attempts.
const readBackTries = 4

// readBack reads the group's offsets after an acknowledged commit until a
// read succeeds (at most readBackTries reads, 200 ms apart): the commit
// must be visible at once, on whatever node coordinates the group now. A
// read the coordinator cannot serve (it lost its quorum or its
// leadership) fails and proves nothing, so the consumer asks again, as a
// real one does after NOT_COORDINATOR, and the answer of the group's next
// coordinator is the one that says whether the commit survived.
func (c *queueClient) readBack(ctx context.Context) {
	untilOk(ctx, readBackTries, 200*time.Millisecond, c.readOffsets)
}

// untilOk calls read until it succeeds, at most tries times, gap apart,
// and stops early when ctx ends. It returns the number of calls.
func untilOk(ctx context.Context, tries int, gap time.Duration, read func(context.Context) bool) int {
	n := 0
	for n < tries && ctx.Err() == nil {
		if n > 0 {
			sleepCtx(ctx, gap)
		}
		n++
		if read(ctx) {
			break
		}
	}
	return n
}

// simpleCommit commits the positions of an assigned consumer
// (OffsetCommit with generation -1 and no member id, which franz-go sends
// to the group's coordinator).
func (c *queueClient) simpleCommit(ctx context.Context) {
	if c.pos == nil {
		c.poll(ctx) // nothing read yet: nothing to commit
		return
	}
	offs := map[string]int64{}
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = groupName(c.slot), -1
	byTopic := map[string]int{}
	c.pos.mu.Lock()
	for k, o := range c.pos.m {
		offs[k.String()] = o
		i, ok := byTopic[k.Topic]
		if !ok {
			i = len(req.Topics)
			byTopic[k.Topic] = i
			t := kmsg.NewOffsetCommitRequestTopic()
			t.Topic = k.Topic
			req.Topics = append(req.Topics, t)
		}
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset, p.LeaderEpoch = k.Partition, o, -1
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
	}
	c.pos.mu.Unlock()
	if len(offs) == 0 {
		c.poll(ctx) // nothing read yet: nothing to commit
		return
	}
	group := req.Group
	c.rec.InvokeMeta(c.proc, history.FCommit, offs, OpMeta{Group: group})
	cl, err := c.getProducer()
	var resp *kmsg.OffsetCommitResponse
	if err == nil {
		octx, cancel := c.opContext(ctx)
		var kresp kmsg.Response
		kresp, err = cl.Request(octx, req)
		cancel()
		resp, _ = kresp.(*kmsg.OffsetCommitResponse)
	}
	typ, done, cerr := classifyCommit(offs, resp, err)
	if err != nil && c.producer == nil {
		typ = history.Fail // no client: never sent
	}
	c.rec.CompleteMeta(c.proc, typ, history.FCommit, commitValue(typ, offs, done), cerr, OpMeta{Node: c.procBase.served.api(apiOffsetCommit), Group: group})
	switch {
	case typ == history.Info:
		c.restart()
	case typ == history.Ok && c.rng.Float64() < pReadAfter:
		// A standalone consumer's commit is read back like a
		// member's.
		c.readBack(ctx)
	}
}

// commitValue is a commit completion's value: the offsets committed when
// ok, the ones asked for otherwise.
func commitValue(typ history.Type, asked, done map[string]int64) map[string]int64 {
	if typ == history.Ok {
		return done
	}
	return asked
}

// definiteCommitErrors are OffsetCommit partition errors the coordinator
// answers before proposing anything (membership, generation and request
// checks): the commit definitely did not happen. Any other error, a
// NOT_COORDINATOR or a timeout included, may come after the proposal, so
// the commit may still take effect.
var definiteCommitErrors = map[int16]bool{
	kerr.IllegalGeneration.Code:        true,
	kerr.UnknownMemberID.Code:          true,
	kerr.RebalanceInProgress.Code:      true,
	kerr.FencedInstanceID.Code:         true,
	kerr.UnknownTopicOrPartition.Code:  true,
	kerr.OffsetMetadataTooLarge.Code:   true,
	kerr.InvalidCommitOffsetSize.Code:  true,
	kerr.InvalidGroupID.Code:           true,
	kerr.GroupAuthorizationFailed.Code: true,
	kerr.TopicAuthorizationFailed.Code: true,
}

// classifyCommit turns an OffsetCommit outcome into a completion: ok with
// the offsets committed when every partition either committed or was
// refused definitely (and at least one committed); fail when all were
// refused definitely; info otherwise (a request error, or a partition
// error that may follow the proposal).
func classifyCommit(asked map[string]int64, resp *kmsg.OffsetCommitResponse, err error) (history.Type, map[string]int64, error) {
	if err != nil {
		return history.Info, nil, fmt.Errorf("commit: %w", err)
	}
	if resp == nil {
		return history.Info, nil, errors.New("commit: no response")
	}
	done := map[string]int64{}
	var firstErr error
	unknown := false
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 {
				k := Key{Topic: t.Topic, Partition: p.Partition}.String()
				if o, ok := asked[k]; ok {
					done[k] = o
				}
				continue
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("commit %s/%d: %w", t.Topic, p.Partition, kerr.ErrorForCode(p.ErrorCode))
			}
			if !definiteCommitErrors[p.ErrorCode] {
				unknown = true
			}
		}
	}
	switch {
	case unknown:
		return history.Info, nil, firstErr
	case len(done) == 0 && firstErr != nil:
		return history.Fail, nil, firstErr
	case len(done) == 0:
		return history.Info, nil, errors.New("commit: the answer names no partition")
	}
	return history.Ok, done, nil
}

// readOffsets reads the slot's group offsets (OffsetFetch through the
// coordinator): invoke null, ok {key: offset} with the keys the group has
// a commit for. A read changes nothing, so any error is a fail. It reports
// whether the read succeeded.
func (c *queueClient) readOffsets(ctx context.Context) bool {
	group := groupName(c.slot)
	c.rec.InvokeMeta(c.proc, history.FOffsets, nil, OpMeta{Group: group})
	cl, err := c.getProducer()
	if err != nil {
		c.rec.CompleteMeta(c.proc, history.Fail, history.FOffsets, nil, err, OpMeta{Group: group})
		return false
	}
	octx, cancel := c.opContext(ctx)
	defer cancel()
	resps, err := kadm.NewClient(cl).FetchOffsets(octx, group)
	if err == nil {
		err = resps.Error()
	}
	meta := OpMeta{Node: c.procBase.served.api(apiOffsetFetch), Group: group}
	if err != nil {
		c.rec.CompleteMeta(c.proc, history.Fail, history.FOffsets, nil, fmt.Errorf("offset fetch: %w", err), meta)
		return false
	}
	out := map[string]int64{}
	resps.Each(func(r kadm.OffsetResponse) {
		if r.At >= 0 {
			out[Key{Topic: r.Topic, Partition: r.Partition}.String()] = r.At
		}
	})
	c.rec.CompleteMeta(c.proc, history.Ok, history.FOffsets, out, nil, meta)
	return true
}
