package harness

import (
	"fmt"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Producer kinds (history.ProducerKinds) as franz-go configurations. A
// client process draws its kind from the seed and its process number
// (producerKindOf), and every send it makes records the kind.
//
//   - idempotent: franz-go's default idempotent producer; one record per
//     operation, so one request in flight per partition.
//   - idempotent-inflight: idempotent, but an operation sends 2..5 records to
//     one key at once, each in a batch of its own (a padded record key keeps
//     two records from sharing the smallest batch franz-go allows), so up to
//     five produce requests of one partition are in flight; short request
//     timeouts make their retries overlap. Kafka guarantees neither
//     duplicates nor reordering for it (the broker remembers five batches
//     per producer, KIP-98).
//   - plain-no-retry: idempotence disabled and retries disabled: each record
//     is sent at most once, so a duplicate is the broker's doing, and a failed
//     send is indefinite (it may have been written), never a retry's
//     duplicate.
const (
	// inflightRecords is the most records an idempotent-inflight operation
	// sends at once: Kafka's limit of in-flight requests for idempotence.
	inflightRecords = 5
	// inflightBatchBytes is the smallest batch franz-go allows, and
	// inflightPad the record key that fills more than half of it.
	inflightBatchBytes = 512
	// inflightRequestTimeout and inflightTimeoutOverhead bound one produce
	// request of an idempotent-inflight producer: franz-go gives up on a
	// request after their sum and retries it on a new connection while
	// the batches behind it are still in flight.
	inflightRequestTimeout  = time.Second
	inflightTimeoutOverhead = 500 * time.Millisecond
)

var inflightPad = []byte(strings.Repeat("p", 300))

// producerKindOpts are the options of kind on top of producerOpts.
func producerKindOpts(kind string) ([]kgo.Opt, error) {
	switch kind {
	case history.ProducerIdempotent:
		return nil, nil
	case history.ProducerIdempotentInflight:
		return []kgo.Opt{
			kgo.ProducerBatchMaxBytes(inflightBatchBytes),
			kgo.ProduceRequestTimeout(inflightRequestTimeout),
			kgo.RequestTimeoutOverhead(inflightTimeoutOverhead),
		}, nil
	case history.ProducerPlain:
		return []kgo.Opt{
			kgo.DisableIdempotentWrite(),
			kgo.MaxProduceRequestsInflightPerBroker(1),
			// RecordRetries counts tries beyond the first: 0 sends a
			// record once and fails it on the first retriable error.
			kgo.RecordRetries(0),
		}, nil
	}
	return nil, fmt.Errorf("unknown producer kind %q (want any of %v)", kind, history.ProducerKinds)
}

// producerKindOf draws the producer kind of process proc among kinds,
// from the run's seed and the process number alone, so a replay gives
// every process the same kind.
func producerKindOf(seed int64, proc int, kinds []string) string {
	if len(kinds) == 0 {
		kinds = history.ProducerKinds
	}
	return kinds[SubRand(seed, fmt.Sprintf("producer-%d", proc)).IntN(len(kinds))]
}

// recordsPerSend is how many records one send operation of kind carries.
func (p *procBase) recordsPerSend(kind string) int {
	if kind == history.ProducerIdempotentInflight {
		return 2 + p.rng.IntN(inflightRecords-1)
	}
	return 1
}
