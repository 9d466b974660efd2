package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chronik-chaos/chronik/nemesis"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Default ports of every node (inside its own network namespace, so all
// nodes use the same numbers).
const (
	DefaultKafkaPort = 9092
	DefaultAdminPort = 9644
	DefaultRaftPort  = 9192
)

// ClusterConfig describes the cluster to deploy.
type ClusterConfig struct {
	// RunID labels every object of the run and names the network
	// (chronik-<RunID>) and containers (chronik-<RunID>-nK).
	RunID string
	// Image is the broker image tag (BuildImage).
	Image string
	// Nodes is the number of broker nodes, at least 1.
	Nodes int
	// LogDir receives nK/chronik-server.log; empty disables log files.
	LogDir string
	// BrokerArgs are extra global flags for every node (placed before the
	// raft-cluster subcommand), e.g. --unsafe-ack-before-commit.
	BrokerArgs []string
	// KafkaPort, AdminPort and RaftPort default to 9092, 9644 and 9192.
	KafkaPort, AdminPort, RaftPort int
	// FaultPath is FaultPathHost (the default) or FaultPathAgent: how
	// network faults and probes reach a node's namespace (netpath.go).
	FaultPath string
	// AgentImage is the fault-agent image tag (AgentImage, BuildImage);
	// required with FaultPathAgent.
	AgentImage string
	// ClientAccess is AccessDirect (the default), AccessPublished or
	// AccessAuto (access.go); PublishHost is where published ports are
	// bound and dialled (default 127.0.0.1).
	ClientAccess string
	PublishHost  string
}

func (c *ClusterConfig) validate() error {
	if c.RunID == "" {
		return errors.New("cluster config: RunID is required")
	}
	if c.Image == "" {
		return errors.New("cluster config: Image is required")
	}
	if c.Nodes < 1 || c.Nodes > 200 {
		return fmt.Errorf("cluster config: Nodes must be in 1..200, got %d", c.Nodes)
	}
	if c.KafkaPort == 0 {
		c.KafkaPort = DefaultKafkaPort
	}
	if c.AdminPort == 0 {
		c.AdminPort = DefaultAdminPort
	}
	if c.RaftPort == 0 {
		c.RaftPort = DefaultRaftPort
	}
	switch c.ClientAccess {
	case "":
		c.ClientAccess = AccessDirect
	case AccessDirect, AccessPublished, AccessAuto:
	default:
		return fmt.Errorf("cluster config: ClientAccess must be direct, published or auto, got %q", c.ClientAccess)
	}
	if c.PublishHost == "" {
		c.PublishHost = DefaultPublishHost
	}
	switch c.FaultPath {
	case "", FaultPathHost:
		c.FaultPath = FaultPathHost
	case FaultPathAgent:
		if c.AgentImage == "" {
			return errors.New("cluster config: the agent fault path needs AgentImage")
		}
	default:
		return fmt.Errorf("cluster config: FaultPath must be host or agent, got %q", c.FaultPath)
	}
	return nil
}

// Exit is a container exit the harness did not cause: the broker process
// ended on its own (crash, fatal error, os.Exit).
type Exit struct {
	Node     string
	At       time.Time
	ExitCode int
	OOM      bool
	// Tail holds the node's last log lines at the time of the exit.
	Tail []string
}

// Cluster is a deployed set of broker containers on one bridge network. It
// implements nemesis.Cluster's lifecycle methods; the network-fault methods
// (Cut, Loss, HealNet, Probe, ProbeLoss) live in netfault*.go / probe*.go.
// Its methods are safe for concurrent use.
type Cluster struct {
	eng     *Engine
	cfg     ClusterConfig
	log     *slog.Logger
	netID   string
	subnet  netip.Prefix
	http    *http.Client
	netName string

	// nmu guards nodes, byName and each node's gone: the member nemesis
	// adds and removes nodes while faults and clients read the list.
	nmu    sync.RWMutex
	nodes  []*node
	byName map[string]*node

	stopLogs context.CancelFunc
	logsCtx  context.Context
	logsWG   sync.WaitGroup

	mu    sync.Mutex
	exits []Exit
}

// NewCluster creates the run's network and one stopped container per node
// and starts streaming their logs. No node is started: the caller starts
// them (all at once, or staggered). On error everything already created is
// removed.
func NewCluster(ctx context.Context, eng *Engine, cfg ClusterConfig, log *slog.Logger) (_ *Cluster, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Cluster{
		eng:    eng,
		cfg:    cfg,
		log:    log,
		byName: map[string]*node{},
		// No proxy: the admin API is on the run's own bridge network.
		http: &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}},
	}
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = c.Close(cctx)
		}
	}()
	netName := "chronik-" + cfg.RunID
	c.netName = netName
	c.netID, c.subnet, err = createNetwork(ctx, eng, netName, cfg.RunID)
	if err != nil {
		return c, err
	}
	c.resolveAccess()
	for i := 1; i <= cfg.Nodes; i++ {
		n := &node{name: "n" + strconv.Itoa(i), id: i, addr: nodeAddr(c.subnet, i)}
		if err := c.allocPorts(n); err != nil {
			return c, err
		}
		c.nodes = append(c.nodes, n)
		c.byName[n.name] = n
	}
	for _, n := range c.nodes {
		if err := c.createContainer(ctx, netName, n); err != nil {
			return c, err
		}
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.stopLogs = cancel
	c.logsCtx = lctx
	for _, n := range c.nodes {
		if err := c.followLogs(n); err != nil {
			return c, err
		}
	}
	log.Info("cluster created", "network", netName, "subnet", c.subnet, "nodes", cfg.Nodes, "image", cfg.Image)
	return c, nil
}

// followLogs opens node's log file and starts streaming its output there.
func (c *Cluster) followLogs(n *node) error {
	if c.cfg.LogDir != "" {
		dir := filepath.Join(c.cfg.LogDir, n.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create log dir: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(dir, "chronik-server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open node log: %w", err)
		}
		n.logFile = f
	}
	c.logsWG.Add(1)
	go c.streamLogs(c.logsCtx, n)
	return nil
}

// CommandLine is node's broker command line (without the program name):
// global flags, the extra broker args, then raft-cluster with every other
// node as a peer, addressed by IP so that no DNS is involved. A node added
// at run time (AddNode) keeps the command line it was created with:
// raft-cluster --join with the members of that time as peers.
func (c *Cluster) CommandLine(name string) []string {
	c.nmu.RLock()
	defer c.nmu.RUnlock()
	n := c.byName[name]
	if n == nil {
		return nil
	}
	if n.args != nil {
		return n.args
	}
	args := []string{"--kafka-port", strconv.Itoa(c.cfg.KafkaPort)}
	args = append(args, c.advertiseArgs(n)...)
	args = append(args,
		"--node-id", strconv.Itoa(n.id),
		// Each node is its own rack, so that a consumer naming a node's
		// name as its rack reads from that node (KIP-392).
		"--rack", name,
		"--data-dir", "/data",
		"--admin-port", strconv.Itoa(c.cfg.AdminPort),
	)
	args = append(args, c.cfg.BrokerArgs...)
	var peers []string
	for _, p := range c.nodes {
		if p != n && p.id <= c.cfg.Nodes {
			peers = append(peers, fmt.Sprintf("%d@%s:%d", p.id, p.addr, c.cfg.RaftPort))
		}
	}
	args = append(args, "raft-cluster", "--raft-addr", fmt.Sprintf("0.0.0.0:%d", c.cfg.RaftPort))
	if len(peers) > 0 {
		args = append(args, "--peers", strings.Join(peers, ","))
	}
	return args
}

func (c *Cluster) createContainer(ctx context.Context, netName string, n *node) error {
	labels := runLabels(c.cfg.RunID)
	labels[LabelNode] = n.name
	exposed, bindings, err := c.portBindings(n)
	if err != nil {
		return fmt.Errorf("create container %s: %w", n.name, err)
	}
	res, err := c.eng.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: "chronik-" + c.cfg.RunID + "-" + n.name,
		Config: &container.Config{
			Hostname:     n.name,
			Image:        c.cfg.Image,
			Cmd:          c.CommandLine(n.name),
			Labels:       labels,
			ExposedPorts: exposed,
		},
		HostConfig: &container.HostConfig{
			NetworkMode: container.NetworkMode(netName),
			// Faults are applied from the host into the namespace, so no
			// capability is strictly needed; NET_ADMIN lets a future
			// in-container tool manage its own rules.
			CapAdd:       []string{"NET_ADMIN"},
			PortBindings: bindings,
			LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{
				"max-size": "200m",
			}},
		},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			netName: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: n.addr}, Aliases: []string{n.name}},
		}},
	})
	if err != nil {
		return fmt.Errorf("create container %s: %w", n.name, err)
	}
	n.cid = res.ID
	return nil
}

// Nodes lists the names of the cluster's current nodes in order (n1..nN,
// then the nodes AddNode created, without those RemoveNode removed).
func (c *Cluster) Nodes() []string {
	c.nmu.RLock()
	defer c.nmu.RUnlock()
	out := make([]string, 0, len(c.nodes))
	for _, n := range c.nodes {
		if !n.gone {
			out = append(out, n.name)
		}
	}
	return out
}

// StartedNodes lists every node that was ever started, removed ones
// included: each left a log. A node AddNode created whose addition the
// broker refused never ran.
func (c *Cluster) StartedNodes() []string {
	c.nmu.RLock()
	defer c.nmu.RUnlock()
	var out []string
	for _, n := range c.nodes {
		if n.started {
			out = append(out, n.name)
		}
	}
	return out
}

// RunID is the run id the cluster's objects are labelled with.
func (c *Cluster) RunID() string { return c.cfg.RunID }

// Subnet is the run network's subnet.
func (c *Cluster) Subnet() netip.Prefix { return c.subnet }

// Addr is node's fixed IPv4 address on the run network (the zero Addr for
// an unknown node).
func (c *Cluster) Addr(name string) netip.Addr {
	c.nmu.RLock()
	defer c.nmu.RUnlock()
	if n, ok := c.byName[name]; ok {
		return n.addr
	}
	return netip.Addr{}
}

// NodeID is node's Raft/Kafka node id (n3 -> 3), 0 for an unknown node.
func (c *Cluster) NodeID(name string) int {
	c.nmu.RLock()
	defer c.nmu.RUnlock()
	if n, ok := c.byName[name]; ok {
		return n.id
	}
	return 0
}

// RaftPort is the peer (Raft) port every node listens on.
func (c *Cluster) RaftPort() int { return c.cfg.RaftPort }

// KafkaAddr is node's Kafka listener as host:port, as the harness's
// clients reach it (the container's address, or the published port).
func (c *Cluster) KafkaAddr(name string) string {
	ap, err := c.clientAddrPort(name)
	if err != nil {
		return netip.AddrPortFrom(netip.Addr{}, uint16(c.cfg.KafkaPort)).String()
	}
	return ap.String()
}

// KafkaAddrs lists every current node's Kafka listener (seed brokers for
// clients).
func (c *Cluster) KafkaAddrs() []string {
	var out []string
	for _, n := range c.Nodes() {
		out = append(out, c.KafkaAddr(n))
	}
	return out
}

// Exits returns the container exits the harness did not cause, in order.
func (c *Cluster) Exits() []Exit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Exit(nil), c.exits...)
}

// LogTail returns up to n of node's most recent log lines.
func (c *Cluster) LogTail(name string, n int) []string {
	c.nmu.RLock()
	nd, ok := c.byName[name]
	c.nmu.RUnlock()
	if !ok {
		return nil
	}
	return nd.tail(n)
}

func (c *Cluster) node(name string) (*node, error) {
	c.nmu.RLock()
	n, ok := c.byName[name]
	c.nmu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown node %q", name)
	}
	return n, nil
}

// Close stops every node, flushes their logs to the log files, and removes
// the run's containers and network. Only objects labelled with this run's
// id are removed. Safe to call more than once and on a partly built
// cluster.
func (c *Cluster) Close(ctx context.Context) error {
	var errs []error
	c.nmu.RLock()
	nodes := slices.Clone(c.nodes)
	c.nmu.RUnlock()
	for _, n := range nodes {
		if n.cid == "" {
			continue
		}
		n.setExpectDown(true)
		// SIGKILL: the run is over, a graceful stop only costs time.
		if _, err := c.eng.cli.ContainerKill(ctx, n.cid, client.ContainerKillOptions{Signal: "KILL"}); err != nil && !isNotRunning(err) {
			c.log.Debug("kill on close", "node", n.name, "err", err)
		}
	}
	if c.stopLogs != nil {
		c.stopLogs()
		c.logsWG.Wait()
		c.stopLogs = nil
	}
	for _, n := range nodes {
		if n.logFile != nil {
			_ = n.logFile.Close()
			n.logFile = nil
		}
	}
	if err := removeRun(ctx, c.eng, c.cfg.RunID, c.log); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func isNotRunning(err error) bool {
	s := err.Error()
	return strings.Contains(s, "is not running") || strings.Contains(s, "No such container")
}

// Cluster is the nemeses' view of a deployed cluster (the network-fault
// methods are in netfault*.go and probe*.go).
var _ nemesis.Cluster = (*Cluster)(nil)
