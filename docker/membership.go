package docker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/nemesis"

	"github.com/moby/moby/client"
)

// maxNodeID bounds the ids AddNode hands out: node K has address .10+K on
// the run's /24.
const maxNodeID = 240

// AddNode creates (without starting) a container for a new broker on the
// run's network: the next unused id K (ids are never reused, so a replaced
// node comes back under a new one), name nK, address .10+K, labelled like
// the others so teardown and `chaos clean` remove it, running
// raft-cluster --join with the current nodes as peers and an empty data
// dir. The caller asks a member to add it (POST /admin/members) and starts
// it; until it is added it waits.
func (c *Cluster) AddNode(ctx context.Context) (string, error) {
	c.nmu.Lock()
	id := len(c.nodes) + 1
	if id > maxNodeID {
		c.nmu.Unlock()
		return "", fmt.Errorf("add node: id %d exceeds %d", id, maxNodeID)
	}
	n := &node{name: "n" + strconv.Itoa(id), id: id, addr: nodeAddr(c.subnet, id)}
	if err := c.allocPorts(n); err != nil {
		c.nmu.Unlock()
		return "", fmt.Errorf("add node: %w", err)
	}
	var peers []string
	for _, p := range c.nodes {
		if !p.gone {
			peers = append(peers, fmt.Sprintf("%d@%s:%d", p.id, p.addr, c.cfg.RaftPort))
		}
	}
	n.args = append([]string{"--kafka-port", strconv.Itoa(c.cfg.KafkaPort)}, c.advertiseArgs(n)...)
	n.args = append(n.args,
		"--node-id", strconv.Itoa(n.id),
		"--data-dir", "/data",
		"--admin-port", strconv.Itoa(c.cfg.AdminPort))
	n.args = append(n.args, c.cfg.BrokerArgs...)
	n.args = append(n.args, "raft-cluster", "--join", "--raft-addr", fmt.Sprintf("0.0.0.0:%d", c.cfg.RaftPort),
		"--peers", strings.Join(peers, ","))
	c.nodes = append(c.nodes, n)
	c.byName[n.name] = n
	c.nmu.Unlock()
	if err := c.createContainer(ctx, c.netName, n); err != nil {
		return n.name, err
	}
	if err := c.followLogs(n); err != nil {
		return n.name, err
	}
	c.log.Info("node added", "node", n.name, "addr", n.addr)
	return n.name, nil
}

// RaftAddr is node's peer (Raft) address as host:port.
func (c *Cluster) RaftAddr(name string) string {
	return fmt.Sprintf("%s:%d", c.Addr(name), c.cfg.RaftPort)
}

// RemoveNode kills node's broker and removes its container, data dir
// included (the node's disk is gone: its id is never used again). Its log
// file stays in the run directory. Nodes no longer lists it.
func (c *Cluster) RemoveNode(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return fmt.Errorf("remove node: %w", err)
	}
	n.setExpectDown(true)
	// Kill first and let the log stream end on its own, so the node's last
	// lines reach its log file before the container is gone.
	if err := c.Kill(ctx, name); err != nil && !isNotRunning(err) && !isNotFound(err) {
		return fmt.Errorf("remove node: %w", err)
	}
	if err := c.WaitState(ctx, name, nemesis.Exited, 30*time.Second); err != nil {
		return fmt.Errorf("remove node: %w", err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := c.removeAgent(ctx, n); err != nil {
		return fmt.Errorf("remove node: %w", err)
	}
	if _, err := c.eng.cli.ContainerRemove(ctx, n.cid, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove node %s: %w", name, err)
	}
	c.nmu.Lock()
	n.gone = true
	c.nmu.Unlock()
	c.log.Info("node removed", "node", name)
	return nil
}
