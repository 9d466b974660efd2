package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// TCPConfig configures the TCP peer transport.
type TCPConfig struct {
	NodeID     uint64
	ListenAddr string
	Peers      map[uint64]string
	Logger     *slog.Logger
	// QueueLen bounds each peer's send queue in batches (default 4096).
	QueueLen int
}

// TCP is the peer transport: one connection per peer pair, dialled by the
// lower node id and used in both directions, carrying every group.
type TCP struct {
	cfg TCPConfig
	log *slog.Logger
	ln  net.Listener
	h   Handler
	// peersMu guards peers, which AddPeer grows at run time; started
	// tells AddPeer to start the new peer's goroutines at once.
	peersMu sync.RWMutex
	peers   map[uint64]*peer
	started bool
	delay   atomic.Int64
	unrch   atomic.Pointer[func(uint64)]

	stopc chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

type queued struct {
	at   time.Time
	msgs []GroupMessage
}

type peer struct {
	t    *TCP
	id   uint64
	addr atomic.Pointer[string]
	q    chan queued

	mu         sync.Mutex
	conn       net.Conn
	connCh     chan struct{} // closed and replaced when conn changes
	loggedDown bool

	lastUnreach atomic.Int64 // unix nanos of the last unreachable report
}

// NewTCP returns a transport; Start opens the listener.
func NewTCP(cfg TCPConfig) *TCP {
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 4096
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &TCP{cfg: cfg, log: cfg.Logger.With("component", "transport"), peers: map[uint64]*peer{}, stopc: make(chan struct{})}
	for id, addr := range cfg.Peers {
		t.peers[id] = t.newPeer(id, addr)
	}
	return t
}

func (t *TCP) newPeer(id uint64, addr string) *peer {
	p := &peer{t: t, id: id, q: make(chan queued, t.cfg.QueueLen), connCh: make(chan struct{})}
	p.addr.Store(&addr)
	return p
}

// peer returns the peer with id, or nil.
func (t *TCP) peer(id uint64) *peer {
	t.peersMu.RLock()
	defer t.peersMu.RUnlock()
	return t.peers[id]
}

// AddPeer makes id reachable at addr from now on (a member added at run
// time), or moves a known peer to a new address; its next connection
// attempt uses it. It is safe at any time, before or after Start.
func (t *TCP) AddPeer(id uint64, addr string) {
	if id == t.cfg.NodeID || addr == "" {
		return
	}
	t.peersMu.Lock()
	defer t.peersMu.Unlock()
	if p := t.peers[id]; p != nil {
		if old := *p.addr.Load(); old != addr {
			p.addr.Store(&addr)
			t.log.Info("peer address changed", "peer", id, "addr", addr, "was", old)
		}
		return
	}
	p := t.newPeer(id, addr)
	t.peers[id] = p
	t.log.Info("peer added", "peer", id, "addr", addr)
	if t.started && !t.stopped() {
		t.startPeer(p)
	}
}

// startPeer starts p's writer, and its dialer when this node dials (the
// lower id dials). t.peersMu is held.
func (t *TCP) startPeer(p *peer) {
	t.wg.Add(1)
	go p.writer()
	if t.cfg.NodeID < p.id {
		t.wg.Add(1)
		go p.dialer()
	}
}

// Addr is the listener's address (useful with port 0).
func (t *TCP) Addr() net.Addr {
	if t.ln == nil {
		return nil
	}
	return t.ln.Addr()
}

// OnUnreachable registers the callback for failed deliveries.
func (t *TCP) OnUnreachable(f func(peer uint64)) { t.unrch.Store(&f) }

// SetDelay delays every outbound message by d from now on.
func (t *TCP) SetDelay(d time.Duration) { t.delay.Store(int64(d)) }

// Delay returns the outbound delay.
func (t *TCP) Delay() time.Duration { return time.Duration(t.delay.Load()) }

// unreachable reports peer id to the node at most every 100 ms: the
// report locks every Raft group, and a dead peer fails every send.
func (t *TCP) unreachable(id uint64) {
	p := t.peer(id)
	if p == nil {
		return
	}
	now := time.Now().UnixNano()
	last := p.lastUnreach.Load()
	if now-last < int64(100*time.Millisecond) || !p.lastUnreach.CompareAndSwap(last, now) {
		return
	}
	if f := t.unrch.Load(); f != nil {
		(*f)(id)
	}
}

// Start opens the listener (before any group ticks) and starts the peers'
// dialers and writers.
func (t *TCP) Start(_ context.Context, h Handler) error {
	t.h = h
	if t.cfg.ListenAddr != "" {
		ln, err := net.Listen("tcp", t.cfg.ListenAddr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", t.cfg.ListenAddr, err)
		}
		t.ln = ln
		t.log.Info("peer transport listening", "addr", ln.Addr().String())
		t.wg.Add(1)
		go t.accept()
	}
	t.peersMu.Lock()
	t.started = true
	for _, p := range t.peers {
		t.startPeer(p)
	}
	t.peersMu.Unlock()
	return nil
}

// Send queues msgs for peer to without blocking; it drops them when the
// queue is full (raft retransmits).
func (t *TCP) Send(to uint64, msgs []GroupMessage) {
	p := t.peer(to)
	if p == nil {
		return
	}
	select {
	case p.q <- queued{at: time.Now(), msgs: msgs}:
	default:
		t.unreachable(to)
	}
}

// Stop closes the listener and every connection and waits for goroutines.
func (t *TCP) Stop() {
	t.once.Do(func() {
		close(t.stopc)
		if t.ln != nil {
			t.ln.Close()
		}
		t.peersMu.RLock()
		for _, p := range t.peers {
			p.setConn(nil)
		}
		t.peersMu.RUnlock()
		t.wg.Wait()
	})
}

func (t *TCP) stopped() bool {
	select {
	case <-t.stopc:
		return true
	default:
		return false
	}
}

func (t *TCP) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.stopped() {
				return
			}
			t.log.Warn("accept peer connection", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			var hs [12]byte
			n, err := io.ReadFull(c, hs[:])
			switch {
			case n == 0 && (err == io.EOF || errors.Is(err, net.ErrClosed)):
				// A connect-and-close probe (the chaos harness checks
				// reachability this way, many times per fault): not worth
				// a warning each.
				t.log.Debug("peer connection closed before handshake", "remote", c.RemoteAddr().String())
				c.Close()
				return
			case err != nil || [4]byte(hs[:4]) != magic:
				t.log.Warn("bad peer handshake", "remote", c.RemoteAddr().String(), "err", err)
				c.Close()
				return
			}
			c.SetReadDeadline(time.Time{})
			id := binary.BigEndian.Uint64(hs[4:])
			p := t.peer(id)
			if p == nil {
				t.log.Warn("connection from unknown peer", "peer", id, "remote", c.RemoteAddr().String())
				c.Close()
				return
			}
			t.log.Info("peer connected", "peer", id, "remote", c.RemoteAddr().String())
			p.setConn(c)
			p.read(c)
		}()
	}
}

func (p *peer) setConn(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil && p.conn != c {
		p.conn.Close()
	}
	p.conn = c
	close(p.connCh)
	p.connCh = make(chan struct{})
}

func (p *peer) dropConn(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c.Close()
	if p.conn == c {
		p.conn = nil
		close(p.connCh)
		p.connCh = make(chan struct{})
	}
}

func (p *peer) current() (net.Conn, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn, p.connCh
}

// dialer keeps a connection to a higher-id peer, reconnecting with
// exponential backoff (50 ms to 1 s).
func (p *peer) dialer() {
	defer p.t.wg.Done()
	backoff := 50 * time.Millisecond
	for !p.t.stopped() {
		c, ch := p.current()
		if c != nil {
			select {
			case <-ch:
			case <-p.t.stopc:
				return
			}
			continue
		}
		d := net.Dialer{Timeout: time.Second}
		addr := *p.addr.Load()
		nc, err := d.Dial("tcp", addr)
		if err == nil {
			var hs [12]byte
			copy(hs[:], magic[:])
			binary.BigEndian.PutUint64(hs[4:], p.t.cfg.NodeID)
			nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, err = nc.Write(hs[:])
			nc.SetWriteDeadline(time.Time{})
			if err != nil {
				nc.Close()
			}
		}
		if err != nil {
			if !p.loggedDown {
				p.t.log.Info("peer unreachable; retrying with backoff", "peer", p.id, "addr", addr, "err", err)
				p.loggedDown = true
			}
			p.t.unreachable(p.id)
			select {
			case <-time.After(backoff):
			case <-p.t.stopc:
				return
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		p.loggedDown = false
		backoff = 50 * time.Millisecond
		p.t.log.Info("connected to peer", "peer", p.id, "addr", addr)
		p.setConn(nc)
		p.t.wg.Add(1)
		go func() { defer p.t.wg.Done(); p.read(nc) }()
	}
}

// Liveness: a writer with nothing to send writes an empty frame every
// keepaliveEvery, and a reader that hears nothing for deadAfter drops the
// connection. Under a black-holing partition (packets dropped, no RST) the
// connection would otherwise look alive, and after the heal TCP's
// retransmission backoff (seconds, growing) would delay recovery; a fresh
// connection resumes at once. Follower pairs exchange no Raft traffic at
// all, hence the keepalives.
const (
	keepaliveEvery = 500 * time.Millisecond
	deadAfter      = 3 * time.Second
)

func (p *peer) read(c net.Conn) {
	r := bufio.NewReaderSize(c, 64<<10)
	var buf []byte
	for {
		c.SetReadDeadline(time.Now().Add(deadAfter))
		from, msgs, b, err := ReadFrame(r, buf)
		buf = b
		if err != nil {
			if !p.t.stopped() && !errors.Is(err, net.ErrClosed) {
				p.t.log.Debug("peer connection closed", "peer", p.id, "err", err)
			}
			p.dropConn(c)
			return
		}
		if from != p.id {
			p.t.log.Warn("frame names another sender", "peer", p.id, "from", from)
			p.dropConn(c)
			return
		}
		if len(buf) > 1<<20 {
			buf = nil // do not pin a snapshot-sized buffer
		}
		if len(msgs) > 0 {
			p.t.h(from, msgs)
		}
	}
}

// writer drains the queue onto the current connection, batching whatever
// is queued into one frame, after the configured delay.
func (p *peer) writer() {
	defer p.t.wg.Done()
	var out []byte
	keepalive := time.NewTicker(keepaliveEvery)
	defer keepalive.Stop()
	lastWrite := time.Now()
	for {
		var first queued
		select {
		case first = <-p.q:
		case <-keepalive.C:
			if time.Since(lastWrite) < keepaliveEvery {
				continue
			}
			if c, _ := p.current(); c != nil {
				out, _ = AppendFrame(out[:0], p.t.cfg.NodeID, nil)
				c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write(out); err != nil {
					p.dropConn(c)
				}
				lastWrite = time.Now()
			}
			continue
		case <-p.t.stopc:
			return
		}
		if d := p.t.Delay(); d > 0 {
			if wait := time.Until(first.at.Add(d)); wait > 0 {
				select {
				case <-time.After(wait):
				case <-p.t.stopc:
					return
				}
			}
		}
		msgs := first.msgs
		for len(msgs) < 512 {
			var more queued
			select {
			case more = <-p.q:
			default:
			}
			if more.msgs == nil {
				break
			}
			if d := p.t.Delay(); d > 0 {
				if wait := time.Until(more.at.Add(d)); wait > 0 {
					time.Sleep(wait)
				}
			}
			msgs = append(msgs, more.msgs...)
		}
		c, _ := p.current()
		if c == nil {
			p.t.unreachable(p.id)
			continue // dropped: raft retransmits
		}
		var err error
		out, err = AppendFrame(out[:0], p.t.cfg.NodeID, msgs)
		if err != nil {
			p.t.log.Error("encode frame", "err", err)
			continue
		}
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		lastWrite = time.Now()
		if _, err := c.Write(out); err != nil {
			p.t.log.Debug("write to peer", "peer", p.id, "err", err)
			p.dropConn(c)
			p.t.unreachable(p.id)
		}
		if cap(out) > 1<<20 {
			out = nil
		}
	}
}
