package docker

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Fault paths: how a NetOp reaches a node's network namespace.
const (
	// FaultPathHost enters the namespace from the harness process through
	// /proc/<pid>/ns/net: the fastest path, but it needs root on the
	// engine's own host.
	FaultPathHost = "host"
	// FaultPathAgent runs the operation in the node's fault-agent
	// container over the Docker API (agent.go): any engine, no root.
	FaultPathAgent = "agent"
	// FaultPathAuto picks the agent when the harness is not root or the
	// engine is not a local unix socket, the host path otherwise.
	FaultPathAuto = "auto"
)

// FaultPaths lists the values --fault-path accepts.
var FaultPaths = []string{FaultPathHost, FaultPathAgent, FaultPathAuto}

// ResolveFaultPath turns a requested fault path into the one a run uses:
// host or agent unchanged, auto as FaultPathAuto says; an empty request is
// auto. host names the engine's address (Engine.Host).
func ResolveFaultPath(requested, host string) (string, error) {
	switch requested {
	case FaultPathHost, FaultPathAgent:
		return requested, nil
	case "", FaultPathAuto:
		if os.Geteuid() != 0 || !LocalEngine(host) {
			return FaultPathAgent, nil
		}
		return FaultPathHost, nil
	}
	return "", fmt.Errorf("unknown fault path %q (want %s)", requested, strings.Join(FaultPaths, ", "))
}

// LocalEngine reports whether the engine address is a unix socket on this
// machine: only then do its containers' processes live in this machine's
// /proc and its bridge networks route from here.
func LocalEngine(host string) bool {
	u, err := url.Parse(host)
	return err == nil && u.Scheme == "unix"
}

// netOp runs op in node's network namespace over the configured fault path.
func (c *Cluster) netOp(ctx context.Context, node string, op NetOp) (NetResult, error) {
	if c.cfg.FaultPath == FaultPathAgent {
		return c.agentOp(ctx, node, op)
	}
	return c.hostOp(ctx, node, op)
}

// hostOp enters the network namespace of node's broker process from here.
// The namespace fd stays open until the operation ends, so the namespace
// cannot be swapped under us mid-transaction; if the node restarts
// meanwhile we act on the old, dying namespace, which is why
// re-application happens after a restart, not before.
func (c *Cluster) hostOp(ctx context.Context, node string, op NetOp) (NetResult, error) {
	pid, err := c.PID(ctx, node)
	if err != nil {
		return NetResult{}, err
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return NetResult{}, fmt.Errorf("open network namespace of %s (pid %d): %w", node, pid, err)
	}
	defer unix.Close(fd)
	ns := netNS{
		conn: func() (*nftables.Conn, error) { return nftables.New(nftables.WithNetNSFd(fd)) },
		run:  func(do func()) error { return runInNetNS(netns.NsHandle(fd), do) },
	}
	return op.run(ctx, ns)
}

// agentResultErr turns a failure the agent reported into an error,
// ErrNoNftables included.
func agentResultErr(res NetResult) error {
	if res.Error == "" {
		return nil
	}
	if res.NoNftables {
		return fmt.Errorf("%w (reported by the fault agent): %s", ErrNoNftables, res.Error)
	}
	return errors.New(res.Error)
}
