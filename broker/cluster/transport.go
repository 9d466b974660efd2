package cluster

import (
	"context"

	"go.etcd.io/raft/v3/raftpb"
)

// GroupMessage is a Raft message addressed to one Raft group. All groups
// share one connection per peer pair, so every message names its group.
type GroupMessage struct {
	Group uint64
	Msg   raftpb.Message
}

// Handler receives the messages a peer sent. It must not block for long:
// it queues messages (including those for groups not created yet) and
// returns.
type Handler func(from uint64, msgs []GroupMessage)

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
