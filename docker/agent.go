package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// The fault agent: with FaultPathAgent every NetOp of a node runs in a
// small container of its own that shares the node's network namespace
// (NetworkMode container:<node>) and holds CAP_NET_ADMIN, so nftables rules
// and probes work without the harness being root or even on the engine's
// machine (Docker Desktop, rootless, DOCKER_HOST=ssh:// or tcp://). The
// image is FROM scratch with the static chaos binary (AgentImage); the
// container runs `chaos agent wait`, which only waits for its stop signal.
//
// Each operation is a Docker exec of `/chaos agent net <json>` in the
// agent container, answering one JSON NetResult on stdout. An exec rather
// than a long-lived agent reading commands: every operation is a fresh
// process with its own exit status and output, the engine frames them (no
// protocol of ours to keep in step across versions), an agent that dies
// mid-operation cannot leave a half-read command behind, and the agent
// process holds no state a restart could lose. An exec costs tens of
// milliseconds, which the nemeses' seconds-long intervals absorb.
//
// A container joined to another's namespace stays in that namespace when
// the node's container stops, and a restarted node gets a new one; so an
// agent is bound to one start of its node (the node's StartedAt) and is
// restarted, which joins it to the node's current namespace, before the
// first operation after the node restarted. Agents carry the run's labels
// (LabelRole=agent, LabelNode=<node>), so Close and `chaos clean` remove
// them with everything else.

// LabelRole marks a container's role when it is not a broker node:
// RoleAgent for fault agents.
const (
	LabelRole = "chronik-chaos.role"
	RoleAgent = "agent"
)

// AgentImage is the spec of the fault-agent image: the chaos binary (exe,
// when it is a static Linux binary, else built from ./harness/cmd/chaos)
// as /chaos in a FROM scratch image.
func AgentImage(exe string) ImageSpec {
	spec := ImageSpec{Package: "./harness/cmd/chaos", Repo: "chronik-chaos-agent", Binary: "chaos"}
	if exe != "" {
		if data, err := os.ReadFile(exe); err == nil && checkStaticELF(data) == nil {
			spec.Prebuilt = exe
		}
	}
	return spec
}

// agentState is one node's fault agent (node.agentMu guards it).
type agentState struct {
	cid string
	// boundTo is the node's StartedAt the agent joined the namespace of.
	boundTo string
}

// agentOp runs op in node's fault agent, starting or rebinding the agent
// first if need be. An exec that fails (the agent died) rebinds once.
func (c *Cluster) agentOp(ctx context.Context, name string, op NetOp) (NetResult, error) {
	n, err := c.node(name)
	if err != nil {
		return NetResult{}, err
	}
	raw, err := json.Marshal(op)
	if err != nil {
		return NetResult{}, fmt.Errorf("encode network operation: %w", err)
	}
	cmd := []string{"/chaos", "agent", "net", string(raw)}
	var lastErr error
	for attempt := range 2 {
		cid, err := c.ensureAgent(ctx, n, attempt > 0)
		if err != nil {
			return NetResult{}, err
		}
		start := time.Now()
		out, err := c.execIn(ctx, cid, "agent of "+name, cmd)
		if err != nil {
			lastErr = err
			continue
		}
		var res NetResult
		if jerr := json.Unmarshal(out.Stdout, &res); jerr != nil {
			lastErr = fmt.Errorf("fault agent of %s: exit %d, unreadable answer %q: %v (stderr %q)",
				name, out.ExitCode, strings.TrimSpace(string(out.Stdout)), jerr, strings.TrimSpace(string(out.Stderr)))
			if out.ExitCode == 126 || out.ExitCode == 127 || out.ExitCode == 137 {
				continue // the agent's process could not run or was killed: rebind
			}
			return NetResult{}, lastErr
		}
		c.log.Debug("agent op", "node", name, "op", op.Op, "took", time.Since(start).Round(time.Microsecond))
		return res, agentResultErr(res)
	}
	return NetResult{}, lastErr
}

// ensureAgent returns the container id of node's agent bound to the node's
// current start: created on first use, (re)started when the node started
// again since, or when force says the last exec failed. The node must be
// running or paused, as for the host path.
func (c *Cluster) ensureAgent(ctx context.Context, n *node, force bool) (string, error) {
	n.agentMu.Lock()
	defer n.agentMu.Unlock()
	info, err := c.Inspect(ctx, n.name)
	if err != nil {
		return "", fmt.Errorf("fault agent: %w", err)
	}
	if info.PID == 0 {
		return "", fmt.Errorf("fault agent of %s: node is %s", n.name, info.State)
	}
	if n.agent.cid != "" && n.agent.boundTo == info.StartedAt && !force {
		return n.agent.cid, nil
	}
	start := time.Now()
	if n.agent.cid == "" {
		cid, err := c.createAgent(ctx, n)
		if err != nil {
			return "", err
		}
		n.agent.cid = cid
		if _, err := c.eng.cli.ContainerStart(ctx, cid, client.ContainerStartOptions{}); err != nil {
			return "", fmt.Errorf("start fault agent of %s: %w", n.name, err)
		}
	} else {
		// Restarting joins the node's current namespace.
		zero := 0
		if _, err := c.eng.cli.ContainerRestart(ctx, n.agent.cid, client.ContainerRestartOptions{Timeout: &zero}); err != nil {
			return "", fmt.Errorf("restart fault agent of %s: %w", n.name, err)
		}
	}
	n.agent.boundTo = info.StartedAt
	c.log.Debug("fault agent bound", "node", n.name, "node_started", info.StartedAt, "took", time.Since(start).Round(time.Millisecond))
	return n.agent.cid, nil
}

// createAgent creates node's agent container, joined to the node's network
// namespace.
func (c *Cluster) createAgent(ctx context.Context, n *node) (string, error) {
	if c.cfg.AgentImage == "" {
		return "", fmt.Errorf("fault agent of %s: no agent image configured (ClusterConfig.AgentImage)", n.name)
	}
	labels := runLabels(c.cfg.RunID)
	labels[LabelNode] = n.name
	labels[LabelRole] = RoleAgent
	res, err := c.eng.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: "chronik-" + c.cfg.RunID + "-" + n.name + "-agent",
		Config: &container.Config{
			Image:  c.cfg.AgentImage,
			Cmd:    []string{"agent", "wait"},
			Labels: labels,
		},
		HostConfig: &container.HostConfig{
			NetworkMode: container.NetworkMode("container:" + n.cid),
			CapAdd:      []string{"NET_ADMIN"},
			LogConfig:   container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m"}},
		},
	})
	if err != nil {
		return "", fmt.Errorf("create fault agent of %s: %w", n.name, err)
	}
	return res.ID, nil
}

// removeAgent removes node's agent container, if any (RemoveNode).
func (c *Cluster) removeAgent(ctx context.Context, n *node) error {
	n.agentMu.Lock()
	defer n.agentMu.Unlock()
	if n.agent.cid == "" {
		return nil
	}
	if _, err := c.eng.cli.ContainerRemove(ctx, n.agent.cid, client.ContainerRemoveOptions{Force: true}); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove fault agent of %s: %w", n.name, err)
	}
	n.agent = agentState{}
	return nil
}

// AgentContainer is the container id of node's fault agent, empty when it
// has none yet (for tests and diagnostics).
func (c *Cluster) AgentContainer(name string) string {
	n, err := c.node(name)
	if err != nil {
		return ""
	}
	n.agentMu.Lock()
	defer n.agentMu.Unlock()
	return n.agent.cid
}

// FaultPath is the fault path the cluster uses (host or agent).
func (c *Cluster) FaultPath() string {
	if c.cfg.FaultPath == FaultPathAgent {
		return FaultPathAgent
	}
	return FaultPathHost
}
