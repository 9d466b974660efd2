package harness

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// errAbandoned is the outcome of a produce whose callback did not arrive
// within the op deadline plus a grace period: the client library is still
// holding the record, so it may yet be written.
var errAbandoned = errors.New("produce abandoned: no outcome within the operation deadline")

// send writes fresh values to an active key and records the operation,
// with the process's producer kind: invoke ["send", k, v]...; ok ["send",
// k, [offset, v]]...; fail or info with the invoke form and the error. An
// idempotent-inflight producer sends several values at once; the
// operation is ok only if every one was acknowledged, fail only if every
// one definitely failed, info otherwise. It returns the completion type.
func (p *procBase) send(ctx context.Context) history.Type {
	cl, kind, err := p.producerClient()
	k, vs := p.cfg.Keys.NextWrites(ctx, p.rng, p.recordsPerSend(kind))
	ks := k.String()
	inv := make([]history.Mop, len(vs))
	for i, v := range vs {
		inv[i] = history.Send(ks, v)
	}
	p.rec.InvokeMeta(p.proc, history.FSend, inv, OpMeta{Producer: kind})
	var offs []int64
	if err != nil {
		err = errors.Join(errNotSent, err)
	} else {
		offs, err = p.produceAll(ctx, cl, kind, k, vs)
	}
	typ := ClassifyWrite(err)
	switch typ {
	case history.Ok:
		done := make([]history.Mop, len(vs))
		for i, v := range vs {
			done[i] = history.Send(ks, v)
			done[i].Done, done[i].Offset = true, &offs[i]
			p.cfg.Keys.Acked(k, offs[i])
		}
		p.rec.CompleteMeta(p.proc, typ, history.FSend, done, nil, OpMeta{Producer: kind, Node: p.served.api(apiProduce)})
	default:
		p.rec.CompleteMeta(p.proc, typ, history.FSend, inv, err, OpMeta{Producer: kind})
	}
	return typ
}

// produceAll appends vs to k with the process's producer and returns their
// offsets. Of several records' errors it returns one whose class
// (ClassifyWrite) is the operation's: any indefinite one over definite
// ones.
func (p *procBase) produceAll(ctx context.Context, cl *kgo.Client, kind string, k Key, vs []int64) ([]int64, error) {
	if kind == history.ProducerPlain {
		off, err := p.producePlain(ctx, cl, k, vs[0])
		return []int64{off}, err
	}
	var key []byte
	if kind == history.ProducerIdempotentInflight {
		key = inflightPad
	}
	offs := make([]int64, len(vs))
	errs := make([]error, len(vs))
	octx, cancel := p.opContext(ctx)
	defer cancel()
	type outcome struct {
		i   int
		off int64
		err error
	}
	done := make(chan outcome, len(vs))
	for i, v := range vs {
		r := &kgo.Record{Topic: k.Topic, Partition: k.Partition, Key: key, Value: []byte(strconv.FormatInt(v, 10))}
		cl.Produce(octx, r, func(r *kgo.Record, err error) { done <- outcome{i, r.Offset, err} })
	}
	// The promises are awaited with a watchdog: franz-go keeps a record
	// that was already sent until it knows its fate (to keep sequence
	// numbers valid), which can outlast the context.
	t := time.NewTimer(p.cfg.OpTimeout + 2*time.Second)
	defer t.Stop()
	pending := len(vs)
	for i := range errs {
		errs[i] = errAbandoned
	}
	for pending > 0 {
		select {
		case o := <-done:
			offs[o.i], errs[o.i] = o.off, o.err
			pending--
		case <-t.C:
			pending = 0
		}
	}
	var worst error
	for _, err := range errs {
		if err != nil && (worst == nil || ClassifyWrite(err) == history.Info) {
			worst = err
		}
	}
	return offs, worst
}

// producerClient returns the process's client and producer kind, making
// the client (with the kind's options) on first use.
func (p *procBase) producerClient() (*kgo.Client, string, error) {
	if p.kind == "" {
		p.kind = producerKindOf(p.cfg.Seed, p.proc, p.cfg.Producers)
	}
	cl, err := p.getProducer()
	return cl, p.kind, err
}

// producePlain sends v to k as one Produce request of a producer without
// idempotence (producer id -1) straight to k's leader, and never sends it
// again: franz-go's own producer retries a request the broker answered
// with REQUEST_TIMED_OUT even with retries disabled, and a retry of a
// non-idempotent producer may legitimately duplicate. With one request per
// record, any duplicate is the broker's.
func (p *procBase) producePlain(ctx context.Context, cl *kgo.Client, k Key, v int64) (int64, error) {
	octx, cancel := p.opContext(ctx)
	defer cancel()
	pm, err := p.plainLeader(octx, cl, k)
	leader := pm.leader
	if err != nil {
		// No request was sent.
		return 0, errors.Join(errNotSent, err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = int32(p.cfg.OpTimeout.Milliseconds())
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = k.Topic, pm.topicID
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = k.Partition
	rp.Records = plainBatch([]byte(strconv.FormatInt(v, 10)), time.Now().UnixMilli())
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.Broker(int(leader)).Request(octx, req)
	if err != nil {
		delete(p.leaders, k) // the leader may have moved
		err = fmt.Errorf("produce %s to broker %d: %w", k, leader, err)
		if isDialErr(err) {
			// The connection was never made, so the request was
			// never written (franz-go dials before writing): the
			// send definitely did not happen.
			return 0, errors.Join(errNotSent, err)
		}
		// The request may have been written: indefinite.
		return 0, err
	}
	pr := resp.(*kmsg.ProduceResponse)
	for _, t := range pr.Topics {
		for _, part := range t.Partitions {
			if part.Partition != k.Partition {
				continue
			}
			if err := kerr.ErrorForCode(part.ErrorCode); err != nil {
				delete(p.leaders, k)
				return 0, fmt.Errorf("produce %s: %w", k, err)
			}
			return part.BaseOffset, nil
		}
	}
	return 0, fmt.Errorf("produce %s: partition missing from response", k)
}

// plainLeader returns k's leader and topic id (newer Produce versions
// name topics by id), from the process's cache or metadata.
func (p *procBase) plainLeader(ctx context.Context, cl *kgo.Client, k Key) (partMeta, error) {
	if pm, ok := p.leaders[k]; ok {
		return pm, nil
	}
	pm, _, err := lookupPartMeta(ctx, cl, k)
	if err != nil {
		return partMeta{}, err
	}
	if p.leaders == nil {
		p.leaders = map[Key]partMeta{}
	}
	p.leaders[k] = pm
	return pm, nil
}

// plainBatch encodes one record as a Kafka record batch (magic 2, no
// compression, no producer id: not idempotent).
func plainBatch(value []byte, ts int64) []byte {
	rec := kmsg.NewRecord()
	rec.Value = value
	body := rec.AppendTo(nil)
	// AppendTo writes Length as given (0, one varint byte); the real
	// length is what follows it.
	rec.Length = int32(len(body) - 1)
	records := rec.AppendTo(nil)
	b := kmsg.NewRecordBatch()
	b.FirstOffset = 0
	b.PartitionLeaderEpoch = -1
	b.Magic = 2
	b.LastOffsetDelta = 0
	b.FirstTimestamp, b.MaxTimestamp = ts, ts
	b.ProducerID, b.ProducerEpoch, b.FirstSequence = -1, -1, -1
	b.NumRecords = 1
	b.Records = records
	// Length counts what follows it: from the leader epoch to the end.
	b.Length = int32(4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4 + len(records))
	raw := b.AppendTo(nil)
	// The CRC (Castagnoli) covers everything from the attributes on.
	crc := crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))
	raw[17], raw[18], raw[19], raw[20] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	return raw
}
