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

	// CutClients installs a client fault at node: the harness's clients
	// (on the host) lose their Kafka traffic with node as cut says,
	// replacing any earlier client fault there; the zero ClientCut
	// removes it. Peer traffic and the admin port are never affected.
	CutClients(ctx context.Context, node string, cut ClientCut) error
	// ClientPacketsIn counts the client packets that reached node's Kafka
	// port since its client fault was installed (an error without one).
	ClientPacketsIn(ctx context.Context, node string) (uint64, error)
	// ProbeClient opens a TCP connection from the host to node's Kafka
	// port, the path client traffic takes, within timeout.
	ProbeClient(ctx context.Context, node string, timeout time.Duration) error
	// ProbeClientLoss makes n short such connects and returns the
	// fraction that connected.
	ProbeClientLoss(ctx context.Context, node string, n int) (float64, error)

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

// ClientCut is a client fault at one node: what happens to the Kafka
// traffic between the harness's clients and the node.
type ClientCut struct {
	// Mode is ClientBoth, ClientResponses or ClientLoss; empty means no
	// fault.
	Mode string
	// Percent is the share of client packets ClientLoss drops, each way.
	Percent int
}

// Client fault modes.
const (
	// ClientBoth drops client packets both ways: the node is gone for
	// the clients, while its peers still reach it.
	ClientBoth = "both"
	// ClientResponses lets requests arrive and drops what the node
	// sends back: a produce is applied but its producer never hears of
	// it, and retries.
	ClientResponses = "responses"
	// ClientLoss drops a random share of client packets each way.
	ClientLoss = "loss"
)

// ClientModes lists the client fault modes, the order a start draws from.
var ClientModes = []string{ClientBoth, ClientResponses, ClientLoss}
