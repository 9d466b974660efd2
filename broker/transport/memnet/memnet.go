// Package memnet is an in-memory peer network for in-process broker tests:
// every node gets an Endpoint (a cluster.Transport) and the test cuts,
// delays or randomly drops links. Random choices come from one seeded
// source so a failing schedule replays.
package memnet

import (
	"context"
	"math/rand"
	"sync"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/chronik-chaos/chronik/broker/transport"
)

type link struct{ from, to uint64 }

type linkFault struct {
	cut   bool
	drop  float64
	delay time.Duration
}

// Network connects Endpoints.
type Network struct {
	mu        sync.Mutex
	rng       *rand.Rand
	endpoints map[uint64]*Endpoint
	faults    map[link]linkFault
}

// New returns an empty network whose random drops derive from seed.
func New(seed int64) *Network {
	return &Network{rng: rand.New(rand.NewSource(seed)), endpoints: map[uint64]*Endpoint{}, faults: map[link]linkFault{}}
}

// Endpoint returns a fresh endpoint for node id (replacing a stopped one,
// as a restarted node gets a new transport).
func (n *Network) Endpoint(id uint64) *Endpoint {
	return &Endpoint{net: n, id: id}
}

// Cut blocks both directions between a and b.
func (n *Network) Cut(a, b uint64) {
	n.update(a, b, func(f *linkFault) { f.cut = true })
	n.update(b, a, func(f *linkFault) { f.cut = true })
}

// Isolate cuts id from every other id in ids.
func (n *Network) Isolate(id uint64, ids ...uint64) {
	for _, o := range ids {
		if o != id {
			n.Cut(id, o)
		}
	}
}

// SetDrop drops messages from a to b with probability p.
func (n *Network) SetDrop(a, b uint64, p float64) { n.update(a, b, func(f *linkFault) { f.drop = p }) }

// SetDelay delays messages from a to b by d.
func (n *Network) SetDelay(a, b uint64, d time.Duration) {
	n.update(a, b, func(f *linkFault) { f.delay = d })
}

// Heal removes every fault.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults = map[link]linkFault{}
}

func (n *Network) update(a, b uint64, f func(*linkFault)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	lf := n.faults[link{a, b}]
	f(&lf)
	n.faults[link{a, b}] = lf
}

// route decides a message's fate: deliver after delay, or drop.
func (n *Network) route(from, to uint64) (*Endpoint, time.Duration, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ep := n.endpoints[to]
	if ep == nil {
		return nil, 0, false
	}
	f := n.faults[link{from, to}]
	if f.cut || (f.drop > 0 && n.rng.Float64() < f.drop) {
		return nil, 0, false
	}
	return ep, f.delay, true
}

// reachable returns the destination endpoint unless the link is cut.
func (n *Network) reachable(from, to uint64) *Endpoint {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.faults[link{from, to}].cut {
		return nil
	}
	return n.endpoints[to]
}

// Endpoint is one node's attachment (implements cluster.Transport).
type Endpoint struct {
	net   *Network
	id    uint64
	mu    sync.Mutex
	h     transport.Handler
	queue map[uint64]chan delivery
	stopc chan struct{}
	wg    sync.WaitGroup
	delay time.Duration
	unrch func(uint64)
}

type delivery struct {
	due  time.Time
	msgs []transport.GroupMessage
}

// Start attaches the endpoint to the network.
func (e *Endpoint) Start(_ context.Context, h transport.Handler) error {
	e.mu.Lock()
	e.h = h
	e.queue = map[uint64]chan delivery{}
	e.stopc = make(chan struct{})
	e.mu.Unlock()
	e.net.mu.Lock()
	e.net.endpoints[e.id] = e
	e.net.mu.Unlock()
	return nil
}

// Stop detaches the endpoint; queued messages are lost.
func (e *Endpoint) Stop() {
	e.net.mu.Lock()
	if e.net.endpoints[e.id] == e {
		delete(e.net.endpoints, e.id)
	}
	e.net.mu.Unlock()
	e.mu.Lock()
	if e.stopc != nil {
		select {
		case <-e.stopc:
		default:
			close(e.stopc)
		}
	}
	e.mu.Unlock()
	e.wg.Wait()
}

// OnUnreachable registers the unreachable callback.
func (e *Endpoint) OnUnreachable(f func(uint64)) { e.mu.Lock(); e.unrch = f; e.mu.Unlock() }

// SetDelay delays all outbound traffic (the node's own delay stage).
func (e *Endpoint) SetDelay(d time.Duration) { e.mu.Lock(); e.delay = d; e.mu.Unlock() }

// Delay returns the outbound delay.
func (e *Endpoint) Delay() time.Duration { e.mu.Lock(); defer e.mu.Unlock(); return e.delay }

// Send copies msgs (as a real network would) and queues them on the link.
func (e *Endpoint) Send(to uint64, msgs []transport.GroupMessage) {
	_, d, ok := e.net.route(e.id, to)
	if !ok {
		return
	}
	cp := make([]transport.GroupMessage, len(msgs))
	for i, m := range msgs {
		cp[i] = transport.GroupMessage{Group: m.Group, Msg: proto.Clone(m.Msg).(*pb.Message)}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopc == nil {
		return
	}
	select {
	case <-e.stopc:
		return
	default:
	}
	q := e.queue[to]
	if q == nil {
		q = make(chan delivery, 4096)
		e.queue[to] = q
		e.wg.Add(1)
		go e.pump(to, q)
	}
	select {
	case q <- delivery{due: time.Now().Add(d + e.delay), msgs: cp}:
	default:
		if e.unrch != nil {
			go e.unrch(to)
		}
	}
}

// pump delivers one link's messages in order, each at its due time, to
// whatever endpoint currently holds the destination id.
func (e *Endpoint) pump(to uint64, q chan delivery) {
	defer e.wg.Done()
	for {
		select {
		case <-e.stopc:
			return
		case d := <-q:
			if w := time.Until(d.due); w > 0 {
				select {
				case <-time.After(w):
				case <-e.stopc:
					return
				}
			}
			// Re-check the link at delivery: a cut made while the
			// message was in flight drops it.
			dst := e.net.reachable(e.id, to)
			if dst == nil {
				continue
			}
			dst.mu.Lock()
			h := dst.h
			dst.mu.Unlock()
			if h != nil {
				h(e.id, d.msgs)
			}
		}
	}
}
