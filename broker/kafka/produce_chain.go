package kafka

import (
	"context"
	"errors"
	"sync"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Produce chains keep the per-partition order of a connection's pipelined
// produce requests while letting them run concurrently.
//
// Kafka handles one request per connection at a time, so a producer's
// pipelined batches reach the log in the order sent. We run produce
// requests concurrently instead, so that several in-flight requests (five
// for an idempotent franz-go or Java producer) share one Raft commit and
// one fsync. For each partition the reader goroutine links every produce
// request to the previous one of the connection, in request order, and:
//
//   - A batch without a producer id waits for the previous request's batch
//     of that partition to finish first: nothing else would keep its order.
//   - An idempotent batch is proposed at once. If it overtook its
//     predecessor on the way into Raft, the state machine rejects it with
//     ErrOutOfOrderSequence; such a rejection appends nothing, so the batch
//     simply waits for its predecessor to finish and is proposed again,
//     once. The client sees what it would have seen from Kafka's serial
//     handling. Duplicates and real gaps are answered as before.
//
// With StrictProduceOrder (set when the backend may acknowledge a batch
// without its sequence check, as under the seeded --unsafe-no-dedup and
// --unsafe-ack-before-commit bugs, where an overtaking batch would be
// acknowledged out of order) every batch waits for its predecessor.

// chainLink is one produce request's place in a partition's chain. It
// holds only the previous request's done channel, not its link, so a
// long-lived connection does not retain a chain of every finished request.
type chainLink struct {
	prevDone <-chan struct{} // nil for the first request
	done     chan struct{}
	once     sync.Once
}

func (l *chainLink) finish() { l.once.Do(func() { close(l.done) }) }

// linkProduce appends req's partitions to the connection's chains (reader
// goroutine, so in request order).
func (cc *clientConn) linkProduce(req *kmsg.ProduceRequest) map[cluster.TopicPartition]*chainLink {
	links := map[cluster.TopicPartition]*chainLink{}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			tp := cluster.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			if links[tp] != nil {
				continue // a partition named twice: one link serves both
			}
			l := &chainLink{done: make(chan struct{})}
			if prev := cc.chains[tp]; prev != nil {
				l.prevDone = prev.done
			}
			cc.chains[tp] = l
			links[tp] = l
		}
	}
	return links
}

func finishLinks(links map[cluster.TopicPartition]*chainLink) {
	for _, l := range links {
		l.finish()
	}
}

type linksKey struct{}

func withLinks(ctx context.Context, links map[cluster.TopicPartition]*chainLink) context.Context {
	return context.WithValue(ctx, linksKey{}, links)
}

func linkOf(ctx context.Context, tp cluster.TopicPartition) *chainLink {
	links, _ := ctx.Value(linksKey{}).(map[cluster.TopicPartition]*chainLink)
	return links[tp]
}

// waitPrev waits until the previous request's produce to l's partition
// finished; false when ctx ended first.
func (l *chainLink) waitPrev(ctx context.Context) bool {
	if l == nil || l.prevDone == nil {
		return true
	}
	select {
	case <-l.prevDone:
		return true
	case <-ctx.Done():
		return false
	}
}

// produceChained produces one batch keeping the partition's order as
// described above.
func produceChained(ctx context.Context, s *Server, l *chainLink, tp cluster.TopicPartition, b cluster.Batch, acks int16) (cluster.ProduceResult, error) {
	if b.ProducerID < 0 || s.cfg.StrictProduceOrder {
		if !l.waitPrev(ctx) {
			return cluster.ProduceResult{}, ctx.Err()
		}
		return s.backend.Produce(ctx, tp, b, acks)
	}
	res, err := s.backend.Produce(ctx, tp, b, acks)
	overtook := errors.Is(err, cluster.ErrOutOfOrderSequence) || errors.Is(err, cluster.ErrUnknownProducerID)
	if overtook && l != nil && l.prevDone != nil {
		s.cfg.Metrics.overtook()
		s.log.Debug("produce batch overtook its predecessor; producing it again after it",
			"topic", tp.Topic, "partition", tp.Partition, "producer", b.ProducerID, "sequence", b.BaseSequence)
		if !l.waitPrev(ctx) {
			return res, err
		}
		res, err = s.backend.Produce(ctx, tp, b, acks)
	}
	return res, err
}
