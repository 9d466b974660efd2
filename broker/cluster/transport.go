package cluster

import (
	"context"
	"time"

	"github.com/chronik-chaos/chronik/broker/transport"
)

// GroupMessage is a Raft message addressed to one Raft group. All groups
// share one connection per peer pair, so every message names its group.
// It is declared in broker/transport (an alias here) so the transports can
// implement Transport without importing this package.
type GroupMessage = transport.GroupMessage

// Handler receives the messages a peer sent. It must not block for long:
// it queues messages (including those for groups not created yet) and
// returns.
type Handler = transport.Handler

// Transport carries Raft messages between nodes. The TCP implementation
// lives in broker/transport; tests supply an in-memory one that can drop,
// delay and cut links.
type Transport interface {
	// Start begins accepting peer connections and delivering inbound
	// messages to h. It returns once the listener is open, before any
	// election can happen (a node must hear votes to elect a leader).
	Start(ctx context.Context, h Handler) error
	// Send queues msgs for peer to; it never blocks on the network and
	// drops messages when the peer's queue is full (Raft retransmits).
	Send(to uint64, msgs []GroupMessage)
	// Stop closes the listener and every connection.
	Stop()
}

// UnreachableNotifier is implemented by transports that can tell when a
// peer could not be reached (connection failed or its queue overflowed), so
// the node calls raft's ReportUnreachable and the leader stops pipelining
// appends to that peer until it answers again.
type UnreachableNotifier interface {
	OnUnreachable(func(peer uint64))
}

// DelaySetter is implemented by transports with a delay stage (the chaos
// `delay` nemesis has no netem, so the broker delays its own peer traffic).
type DelaySetter interface {
	SetDelay(d time.Duration)
	Delay() time.Duration
}
