package nemesis

import (
	"context"
	"time"
)

// Cluster is what faults need from a deployed cluster. The docker package
// implements it for containers; tests implement it with fakes. Node names are
// "n1".."nN". Every method blocks at most until ctx is done.
type Cluster interface {
	// Nodes lists the cluster's node names in order.
	Nodes() []string

	// Start starts a stopped or killed node (no-op if running).
	Start(ctx context.Context, node string) error
	// Kill sends SIGKILL to the node's broker process.
	Kill(ctx context.Context, node string) error
	// Pause freezes every process of the node (cgroup freezer).
	Pause(ctx context.Context, node string) error
	// Unpause thaws a paused node.
	Unpause(ctx context.Context, node string) error
	// State reports the container state as the engine sees it.
	State(ctx context.Context, node string) (NodeState, error)

	// Cut drops, inside node's network namespace, every packet from the
	// listed peers (broker nodes only; clients on the host keep reaching
	// every node). Cut replaces any earlier cut of that node.
	Cut(ctx context.Context, node string, from []string) error
	// Loss drops pct percent of packets from the listed peers at node.
	Loss(ctx context.Context, node string, from []string, pct int) error
	// HealNet removes every network fault of node (the harness's own
	// nftables table), leaving Docker's rules alone.
	HealNet(ctx context.Context, node string) error
	// Probe opens a TCP connection from inside from's network namespace to
	// to's peer (Raft) port and reports whether it connected within timeout.
	Probe(ctx context.Context, from, to string, timeout time.Duration) error
	// ProbeLoss sends n short probes (each a fresh TCP connect with a short
	// timeout, or UDP) from from to to and returns the fraction delivered.
	ProbeLoss(ctx context.Context, from, to string, n int) (float64, error)

	// Admin performs an HTTP request against the node's admin port from the
	// host and returns the status code and body.
	Admin(ctx context.Context, node, method, path string) (int, []byte, error)
}

// NodeState is a container's state as the engine reports it.
type NodeState string

// Container states of interest.
const (
	Running NodeState = "running"
	Paused  NodeState = "paused"
	Exited  NodeState = "exited"
	Missing NodeState = "missing"
)
