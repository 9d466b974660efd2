package harness

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/twmb/franz-go/pkg/kgo"
)

// errAbandoned is the outcome of a produce whose callback did not arrive
// within the op deadline plus a grace period: the client library is still
// holding the record, so it may yet be written.
var errAbandoned = errors.New("produce abandoned: no outcome within the operation deadline")

// send writes one fresh value to an active key and records the operation:
// invoke ["send", k, v]; ok ["send", k, [offset, v]]; fail or info with the
// invoke form and the error. It returns the completion type.
func (p *procBase) send(ctx context.Context) history.Type {
	k, v := p.cfg.Keys.NextWrite(ctx, p.rng)
	ks := k.String()
	p.rec.Invoke(p.proc, history.FSend, []history.Mop{history.Send(ks, v)})
	off, err := p.produce(ctx, k, v)
	typ := ClassifyWrite(err)
	switch typ {
	case history.Ok:
		m := history.Send(ks, v)
		m.Done, m.Offset = true, &off
		p.rec.CompleteMeta(p.proc, typ, history.FSend, []history.Mop{m}, nil, OpMeta{Node: p.served.api(apiProduce)})
		p.cfg.Keys.Acked(k, off)
	default:
		p.rec.Complete(p.proc, typ, history.FSend, []history.Mop{history.Send(ks, v)}, err)
	}
	return typ
}

// produce appends v to k and returns the offset it landed at. The promise
// is awaited with a watchdog: franz-go keeps a record that was already sent
// until it knows its fate (to keep sequence numbers valid), which can
// outlast the context.
func (p *procBase) produce(ctx context.Context, k Key, v int64) (int64, error) {
	cl, err := p.getProducer()
	if err != nil {
		return 0, errors.Join(errNotSent, err)
	}
	octx, cancel := p.opContext(ctx)
	defer cancel()
	type outcome struct {
		off int64
		err error
	}
	done := make(chan outcome, 1)
	r := &kgo.Record{Topic: k.Topic, Partition: k.Partition, Value: []byte(strconv.FormatInt(v, 10))}
	cl.Produce(octx, r, func(r *kgo.Record, err error) { done <- outcome{r.Offset, err} })
	t := time.NewTimer(p.cfg.OpTimeout + 2*time.Second)
	defer t.Stop()
	select {
	case o := <-done:
		return o.off, o.err
	case <-t.C:
		return 0, errAbandoned
	}
}
