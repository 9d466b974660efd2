package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// DefaultMaxFrameBytes is the largest request frame accepted unless
// Config.MaxFrameBytes says otherwise (Kafka's socket.request.max.bytes is
// 100 MiB as well).
const DefaultMaxFrameBytes = 100 << 20

// Config configures a Server. Backend is required; every other field has a
// default filled in by New.
type Config struct {
	// Backend is the replicated state the handlers read and change.
	Backend Backend
	// Logger receives connection and request errors; nil discards them.
	Logger *slog.Logger
	// MaxFrameBytes bounds one request frame. A larger frame is refused and
	// the connection closed before its body is read. Default 100 MiB.
	MaxFrameBytes int32
	// MaxInFlight bounds the requests one connection may have queued or in
	// progress; the reader stops reading when it is reached (backpressure).
	// Default 64.
	MaxInFlight int
	// AutoCreateTopics creates unknown topics named by Metadata (when the
	// request allows it) and Produce, with DefaultPartitions partitions.
	AutoCreateTopics bool
	// DefaultPartitions is the partition count of auto-created topics and
	// of CreateTopics asking for -1. Default 1.
	DefaultPartitions int32
	// StrictProduceOrder makes every produced batch wait for the previous
	// produce request's batch of its partition (on the same connection)
	// to finish, instead of relying on sequence numbers to detect and
	// repair overtaking. Set it when the backend may acknowledge a batch
	// without checking its sequence first (the seeded --unsafe-no-dedup
	// and --unsafe-ack-before-commit bugs). See produce_chain.go.
	StrictProduceOrder bool
	// Metrics, when set, counts requests and their latency per API key.
	Metrics *Metrics
	// Groups tunes the consumer-group coordinator.
	Groups GroupConfig
}

// GroupConfig tunes the in-memory group membership of the coordinator.
type GroupConfig struct {
	// MinSessionTimeout and MaxSessionTimeout bound what JoinGroup accepts
	// (Kafka's group.min/max.session.timeout.ms). Defaults 1s and 30m:
	// lower than Kafka's 6s minimum so tests can expire members quickly.
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	// InitialRebalanceDelay delays the first rebalance of an empty group so
	// that members starting together land in one generation (Kafka's
	// group.initial.rebalance.delay.ms). Default 0: the first member gets
	// generation 1 alone and later members trigger a rebalance.
	InitialRebalanceDelay time.Duration
}

func (c *Config) fill() error {
	if c.Backend == nil {
		return errors.New("kafka config: Backend is required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 64
	}
	if c.DefaultPartitions <= 0 {
		c.DefaultPartitions = 1
	}
	if c.Groups.MinSessionTimeout <= 0 {
		c.Groups.MinSessionTimeout = time.Second
	}
	if c.Groups.MaxSessionTimeout <= 0 {
		c.Groups.MaxSessionTimeout = 30 * time.Minute
	}
	return nil
}

// Server speaks the Kafka wire protocol on the listeners given to Serve and
// answers from its Backend. It is safe for concurrent use.
type Server struct {
	cfg     Config
	backend Backend
	log     *slog.Logger
	groups  *groupCoordinator
	ctl     controls

	mu     sync.Mutex
	conns  map[*clientConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// New returns a server; it does not listen until Serve.
func New(cfg Config) (*Server, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		backend: cfg.Backend,
		log:     cfg.Logger,
		conns:   map[*clientConn]struct{}{},
	}
	s.groups = newGroupCoordinator(s)
	return s, nil
}

// Serve accepts connections on ln until ctx is done or Close is called,
// then closes ln. It returns nil after a clean stop.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("accept kafka connection: %w", err)
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		cc := newClientConn(s, c)
		s.conns[cc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			cc.serve()
			s.mu.Lock()
			delete(s.conns, cc)
			s.mu.Unlock()
		}()
	}
}

// Close closes every connection, stops the group coordinator's timers and
// waits for connection goroutines to end. Listeners passed to Serve are
// closed by cancelling Serve's context.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for cc := range s.conns {
		cc.close()
	}
	s.mu.Unlock()
	s.groups.stop()
	s.wg.Wait()
}
