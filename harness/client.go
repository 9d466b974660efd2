package harness

import (
	"context"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// clientOpts are the options shared by every Kafka client of a run. Bounds
// everywhere, so that no operation can hang past its deadline: a dial
// timeout far shorter than the op deadline, and dead nodes avoided at once
// by every client (runDialer, dial.go), request retries limited, metadata
// refreshed quickly after a leader change.
func clientOpts(seeds []string, id string, opTimeout time.Duration, log *slog.Logger) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID(id),
		kgo.Dialer(runDialer.DialContext),
		kgo.RequestTimeoutOverhead(2 * time.Second),
		kgo.RetryTimeout(opTimeout),
		kgo.RequestRetries(5),
		kgo.RetryBackoffFn(func(n int) time.Duration {
			d := time.Duration(50*(1<<min(n, 5))) * time.Millisecond
			return min(d, time.Second)
		}),
		kgo.MetadataMinAge(250 * time.Millisecond),
		kgo.MetadataMaxAge(10 * time.Second),
		kgo.ConnIdleTimeout(30 * time.Second),
		kgo.WithLogger(kgoLogger{log}),
	}
}

// producerOpts: idempotent writes (franz-go's default, kept on: the broker
// must deduplicate retries), acks from all in-sync replicas, records sent
// one at a time per partition in order, and retries bounded so that an
// operation ends (RecordRetries is only enforced when safe for sequence
// numbers, so the per-op context remains the real bound).
func producerOpts(opTimeout time.Duration) []kgo.Opt {
	return []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
		kgo.ProduceRequestTimeout(opTimeout),
		kgo.RecordRetries(8),
		kgo.UnknownTopicRetries(3),
		kgo.RecordDeliveryTimeout(opTimeout),
		kgo.MaxBufferedRecords(64),
	}
}

// kgoLogger forwards franz-go's warnings and errors to the run's log.
type kgoLogger struct{ log *slog.Logger }

func (l kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelWarn
	if level == kgo.LogLevelError {
		lvl = slog.LevelError
	}
	l.log.Log(context.Background(), lvl, "kafka client: "+msg, keyvals...)
}
