package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Workload names.
const (
	WorkloadQueue = "queue"
	WorkloadLog   = "log"
	WorkloadTxn   = "txn"
)

// Workloads lists the workload names --workload accepts.
var Workloads = []string{WorkloadQueue, WorkloadLog, WorkloadTxn}

// WorkloadConfig configures the client side of a run.
type WorkloadConfig struct {
	// Kind is one of Workloads.
	Kind string
	// Seeds are the brokers' Kafka addresses.
	Seeds []string
	// CurrentSeeds, if set, gives the Kafka addresses of the brokers that
	// are members now (the member nemesis adds and removes them); a client
	// made during the run starts from it instead of Seeds.
	CurrentSeeds func() []string
	// Rate is the total operations per second over all clients.
	Rate float64
	// Concurrency is the number of client processes running at once.
	Concurrency int
	// Seed drives every client's random choices.
	Seed int64
	// OpTimeout bounds one operation.
	OpTimeout time.Duration
	// Producers are the producer kinds client processes draw from
	// (history.ProducerKinds; empty: all of them).
	Producers []string
	// Keys hands out keys and values and remembers acknowledged offsets.
	Keys *Keyspace
	// Log receives client-side diagnostics.
	Log *slog.Logger
	// Late counts the txn workload's late batches; nil counts nothing.
	Late *LateStats
}

// client is one logical client slot. It owns the current process number and
// that process's Kafka clients; a new process (after an info or a crash)
// gets the next number of the slot: slot, slot+n, slot+2n, ... as in Jepsen.
type client interface {
	step(ctx context.Context)
	close()
}

// RunClients runs cfg.Concurrency clients, paced to cfg.Rate in total, until
// ctx ends. An operation in flight when ctx ends still runs to completion or
// to its own deadline (its context is detached from ctx), so the history
// never has an invocation cut off by the end of the phase.
func RunClients(ctx context.Context, cfg WorkloadConfig, rec *Recorder) error {
	if cfg.Concurrency < 1 || cfg.Rate <= 0 {
		return errors.New("run clients: concurrency and rate must be positive")
	}
	lim := newLimiter(cfg.Rate)
	asyncProcs := new(atomic.Int64)
	var wg sync.WaitGroup
	for slot := range cfg.Concurrency {
		var c client
		base := procBase{slot: slot, proc: slot, n: cfg.Concurrency, cfg: cfg, rec: rec,
			rng: SubRand(cfg.Seed, fmt.Sprintf("client-%d", slot)), asyncProcs: asyncProcs}
		switch cfg.Kind {
		case WorkloadQueue:
			c = &queueClient{procBase: base}
		case WorkloadLog:
			c = &logClient{procBase: base}
		case WorkloadTxn:
			c = &txnClient{procBase: base}
		default:
			return fmt.Errorf("run clients: unknown workload %q", cfg.Kind)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.close()
			for lim.wait(ctx) {
				c.step(ctx)
			}
		}()
	}
	wg.Wait()
	if cfg.Late != nil {
		cfg.Log.Info("late transactional batches", "delivered", cfg.Late.Delivered.Load(), "taken", cfg.Late.Taken.Load())
	}
	return rec.Err()
}

// procBase is what every workload's client slot shares.
type procBase struct {
	slot, proc, n int
	cfg           WorkloadConfig
	rec           *Recorder
	rng           *rand.Rand
	producer      *kgo.Client
	// kind is the current process's producer kind (producerKindOf),
	// drawn when its producer is first needed.
	kind string
	// leaders caches partition leaders for plain-no-retry sends.
	leaders map[Key]partMeta
	// served learns which node answered the producer's requests.
	served *servedBy
	// asyncProcs numbers the async commits of all slots (asyncProcess+n),
	// nil for clients that never commit async (the drain).
	asyncProcs *atomic.Int64
}

// opContext detaches an operation from the phase's context and bounds it.
func (p *procBase) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), p.cfg.OpTimeout)
}

// newProcess retires the current process number after an indefinite
// outcome: the old process may still have an operation in flight as far as
// the broker knows, so the slot continues as a fresh process with fresh
// clients, and the old clients are closed in the background.
func (p *procBase) newProcess(closers ...*kgo.Client) {
	p.proc += p.n
	for _, c := range append(closers, p.producer) {
		if c != nil {
			go c.Close()
		}
	}
	p.producer, p.kind, p.leaders = nil, "", nil
}

func (p *procBase) getProducer() (*kgo.Client, error) {
	if p.producer != nil {
		return p.producer, nil
	}
	if p.kind == "" {
		p.kind = producerKindOf(p.cfg.Seed, p.proc, p.cfg.Producers)
	}
	kopts, err := producerKindOpts(p.kind)
	if err != nil {
		return nil, err
	}
	opts := append(clientOpts(p.cfg.seeds(), fmt.Sprintf("chaos-p%d", p.proc), p.cfg.OpTimeout, p.cfg.Log), producerOpts(p.cfg.OpTimeout)...)
	opts = append(opts, kopts...)
	p.served = newServedBy()
	cl, err := kgo.NewClient(append(opts, kgo.WithHooks(p.served))...)
	if err != nil {
		return nil, fmt.Errorf("new producer: %w", err)
	}
	p.producer = cl
	return cl, nil
}

// closeBounded closes cl but waits at most d: closing a group consumer
// leaves the group, which waits for the group loop, which can be stuck on a
// broker that is down. The close finishes in the background.
func closeBounded(cl *kgo.Client, d time.Duration) {
	if cl == nil {
		return
	}
	runBounded(cl.Close, d)
}

// runBounded runs fn in the background and waits for it at most d; past d
// fn goes on alone.
func runBounded(fn func(), d time.Duration) {
	done := make(chan struct{})
	go func() {
		fn()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// limiter paces operations to a total rate shared by every client. Slots
// nobody was free to take are made up for only within maxLag, so that the
// long-run rate is met despite uneven operation latencies, while a stretch
// where every client was blocked (a fault) does not earn a burst afterwards.
type limiter struct {
	mu   sync.Mutex
	next time.Time
	gap  time.Duration
}

// maxLag bounds the make-up for missed slots.
const maxLag = 250 * time.Millisecond

func newLimiter(rate float64) *limiter {
	return &limiter{gap: time.Duration(float64(time.Second) / rate)}
}

// reserve hands out the next slot as of now.
func (l *limiter) reserve(now time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next.IsZero() {
		l.next = now // no make-up for the time before the first operation
	}
	if floor := now.Add(-maxLag); l.next.Before(floor) {
		l.next = floor
	}
	at := l.next
	l.next = l.next.Add(l.gap)
	return at
}

// wait blocks until the caller's turn and reports false once ctx is done.
func (l *limiter) wait(ctx context.Context) bool {
	at := l.reserve(time.Now())
	if ctx.Err() != nil {
		return false
	}
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// seeds are the addresses a new client starts from.
func (c WorkloadConfig) seeds() []string {
	if c.CurrentSeeds != nil {
		if s := c.CurrentSeeds(); len(s) > 0 {
			return s
		}
	}
	return c.Seeds
}
