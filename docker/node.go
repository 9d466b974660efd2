package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/chronik-chaos/chronik/nemesis"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// node is one broker container.
type node struct {
	name string
	id   int
	addr netip.Addr
	cid  string
	// kafkaHostPort and adminHostPort are the published host ports
	// (AccessPublished only, access.go).
	kafkaHostPort, adminHostPort int
	// args is the command line of a node added at run time (nil: the
	// bootstrap command line of CommandLine). gone marks a node RemoveNode
	// removed (Cluster.nmu guards it).
	args    []string
	gone    bool
	started bool // Start started it at least once (Cluster.nmu guards it)

	logFile *os.File

	// agentMu guards agent, the node's fault agent (agent.go).
	agentMu sync.Mutex
	agent   agentState

	mu         sync.Mutex
	expectDown bool // the harness stopped or killed it; an exit is not a crash
	// expectCodes are exit codes a fault made the broker exit with on its
	// own (a power loss, a crash point, a refused store): not a crash.
	expectCodes []int
	lastExit    string   // FinishedAt of the last exit examined, to report each exit once
	tailBuf     []string // ring of recent log lines
}

const tailLines = 200

func (n *node) setExpectDown(v bool) {
	n.mu.Lock()
	n.expectDown = v
	n.mu.Unlock()
}

func (n *node) setExpectCodes(codes []int) {
	n.mu.Lock()
	n.expectCodes = slices.Clone(codes)
	n.mu.Unlock()
}

func (n *node) addTail(line string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.tailBuf) >= tailLines {
		n.tailBuf = append(n.tailBuf[:0], n.tailBuf[len(n.tailBuf)-tailLines/2:]...)
	}
	n.tailBuf = append(n.tailBuf, line)
}

func (n *node) tail(k int) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if k > len(n.tailBuf) {
		k = len(n.tailBuf)
	}
	return append([]string(nil), n.tailBuf[len(n.tailBuf)-k:]...)
}

// Start starts a created, stopped or killed node; a running node is left
// alone. The container keeps its filesystem, so the broker's data dir
// survives kills and restarts.
func (c *Cluster) Start(ctx context.Context, name string) error {
	return c.start(ctx, name, nil)
}

// start starts a node with the exits of codes expected (and no other).
func (c *Cluster) start(ctx context.Context, name string, codes []int) error {
	n, err := c.node(name)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	st, err := c.State(ctx, name)
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	switch st {
	case nemesis.Running:
		return nil
	case nemesis.Paused:
		return fmt.Errorf("start %s: node is paused (unpause it instead)", name)
	}
	n.setExpectDown(false)
	n.setExpectCodes(codes)
	c.nmu.Lock()
	n.started = true
	c.nmu.Unlock()
	if _, err := c.eng.cli.ContainerStart(ctx, n.cid, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	c.log.Debug("node started", "node", name)
	return nil
}

// Kill sends SIGKILL to node's broker process (the container's init).
func (c *Cluster) Kill(ctx context.Context, name string) error {
	return c.Signal(ctx, name, "KILL")
}

// Signal sends sig (a name like "KILL", "TERM", "STOP") to node's broker
// process. Signals that end the process mark the exit as expected.
func (c *Cluster) Signal(ctx context.Context, name, sig string) error {
	n, err := c.node(name)
	if err != nil {
		return fmt.Errorf("signal: %w", err)
	}
	switch sig {
	case "KILL", "SIGKILL", "TERM", "SIGTERM", "INT", "SIGINT", "9", "15":
		n.setExpectDown(true)
	}
	if _, err := c.eng.cli.ContainerKill(ctx, n.cid, client.ContainerKillOptions{Signal: sig}); err != nil {
		return fmt.Errorf("signal %s %s: %w", sig, name, err)
	}
	return nil
}

// Stop stops node gracefully (SIGTERM, then SIGKILL after timeout).
func (c *Cluster) Stop(ctx context.Context, name string, timeout time.Duration) error {
	n, err := c.node(name)
	if err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	n.setExpectDown(true)
	secs := int(timeout / time.Second)
	if _, err := c.eng.cli.ContainerStop(ctx, n.cid, client.ContainerStopOptions{Timeout: &secs}); err != nil {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	return nil
}

// Restart kills node and starts it again, waiting for the container to have
// stopped in between.
func (c *Cluster) Restart(ctx context.Context, name string) error {
	if err := c.Kill(ctx, name); err != nil && !isNotRunning(err) {
		return fmt.Errorf("restart: %w", err)
	}
	if err := c.WaitState(ctx, name, nemesis.Exited, 30*time.Second); err != nil {
		return fmt.Errorf("restart %s: %w", name, err)
	}
	if err := c.Start(ctx, name); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	return nil
}

// Pause freezes every process of node with the cgroup freezer.
func (c *Cluster) Pause(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	if _, err := c.eng.cli.ContainerPause(ctx, n.cid, client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause %s: %w", name, err)
	}
	return nil
}

// Unpause thaws a paused node.
func (c *Cluster) Unpause(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return fmt.Errorf("unpause: %w", err)
	}
	if _, err := c.eng.cli.ContainerUnpause(ctx, n.cid, client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("unpause %s: %w", name, err)
	}
	return nil
}

// NodeInfo is what the engine reports about a node's container.
type NodeInfo struct {
	State    nemesis.NodeState
	PID      int // host PID of the broker process, 0 unless running or paused
	Addr     netip.Addr
	ExitCode int
	// StartedAt and FinishedAt are the engine's RFC 3339 timestamps.
	StartedAt, FinishedAt string
	OOMKilled             bool
}

// Inspect reports node's container state, broker PID and address.
func (c *Cluster) Inspect(ctx context.Context, name string) (NodeInfo, error) {
	n, err := c.node(name)
	if err != nil {
		return NodeInfo{}, fmt.Errorf("inspect: %w", err)
	}
	res, err := c.eng.cli.ContainerInspect(ctx, n.cid, client.ContainerInspectOptions{})
	if err != nil {
		if isNotFound(err) {
			return NodeInfo{State: nemesis.Missing, Addr: n.addr}, nil
		}
		return NodeInfo{}, fmt.Errorf("inspect %s: %w", name, err)
	}
	info := NodeInfo{Addr: n.addr, State: nemesis.Exited}
	if s := res.Container.State; s != nil {
		switch {
		case s.Paused:
			info.State = nemesis.Paused
		case s.Running || s.Restarting:
			info.State = nemesis.Running
		}
		info.PID, info.ExitCode, info.OOMKilled = s.Pid, s.ExitCode, s.OOMKilled
		info.StartedAt, info.FinishedAt = s.StartedAt, s.FinishedAt
	}
	return info, nil
}

// State reports node's container state: running, paused, exited (which
// includes created-but-never-started) or missing.
func (c *Cluster) State(ctx context.Context, name string) (nemesis.NodeState, error) {
	info, err := c.Inspect(ctx, name)
	if err != nil {
		return "", err
	}
	return info.State, nil
}

// WaitState polls until node is in state want, for at most timeout.
func (c *Cluster) WaitState(ctx context.Context, name string, want nemesis.NodeState, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		st, err := c.State(ctx, name)
		if err == nil && st == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s to be %s (last %q): %w", name, want, st, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PID is the host PID of node's broker process, for entering its network
// namespace (/proc/<pid>/ns/net). It fails unless the node is running or
// paused.
func (c *Cluster) PID(ctx context.Context, name string) (int, error) {
	info, err := c.Inspect(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("pid: %w", err)
	}
	if info.PID == 0 {
		return 0, fmt.Errorf("pid of %s: node is %s", name, info.State)
	}
	return info.PID, nil
}

// Admin performs an HTTP request against node's admin port from the host.
// The caller bounds it with ctx.
func (c *Cluster) Admin(ctx context.Context, name, method, path string) (int, []byte, error) {
	return c.AdminBody(ctx, name, method, path, nil)
}

// AdminBody is Admin with a JSON request body (nil: none).
func (c *Cluster) AdminBody(ctx context.Context, name, method, path string, body []byte) (int, []byte, error) {
	n, err := c.node(name)
	if err != nil {
		return 0, nil, fmt.Errorf("admin: %w", err)
	}
	url := fmt.Sprintf("http://%s/%s", c.adminAddrPort(n), trimSlash(path))
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("admin %s %s: %w", method, url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("admin %s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, out, fmt.Errorf("admin %s %s: read body: %w", method, url, err)
	}
	return resp.StatusCode, out, nil
}

func trimSlash(p string) string {
	for len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	return p
}

// ExecResult is the outcome of Exec.
type ExecResult struct {
	ExitCode       int
	Stdout, Stderr []byte
}

// Exec runs cmd inside node's container and waits for it. A program that
// does not exist in the image is not an error of Exec: it shows as the
// runtime's exit code (126 or 127) with its message on stderr. The broker image
// is FROM scratch and has no shell or tools, so only programs that exist in
// the image can run (there is just /chronik-server); network faults
// therefore run from the host or from the node's fault agent (agent.go).
// Kept generic for images that have tools.
func (c *Cluster) Exec(ctx context.Context, name string, cmd []string) (ExecResult, error) {
	n, err := c.node(name)
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec: %w", err)
	}
	return c.execIn(ctx, n.cid, name, cmd)
}

// execIn runs cmd in container cid (what names it in errors) and waits.
func (c *Cluster) execIn(ctx context.Context, cid, what string, cmd []string) (ExecResult, error) {
	cr, err := c.eng.cli.ExecCreate(ctx, cid, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %v in %s: %w", cmd, what, err)
	}
	att, err := c.eng.cli.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %v in %s: attach: %w", cmd, what, err)
	}
	defer att.Close()
	var out, errb bytes.Buffer
	done := make(chan error, 1)
	go func() { _, err := stdcopy.StdCopy(&out, &errb, att.Reader); done <- err }()
	select {
	case err = <-done:
	case <-ctx.Done():
		return ExecResult{}, fmt.Errorf("exec %v in %s: %w", cmd, what, ctx.Err())
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return ExecResult{}, fmt.Errorf("exec %v in %s: read output: %w", cmd, what, err)
	}
	ins, err := c.eng.cli.ExecInspect(ctx, cr.ID, client.ExecInspectOptions{})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %v in %s: inspect: %w", cmd, what, err)
	}
	return ExecResult{ExitCode: ins.ExitCode, Stdout: out.Bytes(), Stderr: errb.Bytes()}, nil
}

func isNotFound(err error) bool {
	return err != nil && (cerrdefsIsNotFound(err) || bytes.Contains([]byte(err.Error()), []byte("No such container")))
}

// Describe renders node's command line for logs and test.json.
func (c *Cluster) Describe(name string) string {
	return "chronik-server " + quoteArgs(c.CommandLine(name))
}

func quoteArgs(args []string) string {
	var b bytes.Buffer
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a == "" || bytes.ContainsAny([]byte(a), " \"',") {
			b.WriteString(strconv.Quote(a))
		} else {
			b.WriteString(a)
		}
	}
	return b.String()
}
