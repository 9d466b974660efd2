package docker

import (
	"bufio"
	"context"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// streamLogs appends node's output to its log file for the whole run. The
// engine's follow stream ends whenever the container stops, so the loop
// re-attaches after every start; Since plus the per-line timestamps make
// each attachment continue exactly where the previous one ended. After each
// stream ends it checks whether the container exited on its own. When ctx
// is cancelled it does one last non-following fetch, so that the final
// lines of a stopped node are not lost, and returns.
func (c *Cluster) streamLogs(ctx context.Context, n *node) {
	defer c.logsWG.Done()
	var since time.Time
	for {
		final := ctx.Err() != nil
		callCtx := ctx
		var cancel context.CancelFunc = func() {}
		if final {
			callCtx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		}
		opts := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true, Follow: !final}
		if !since.IsZero() {
			opts.Since = since.UTC().Format(time.RFC3339Nano)
		}
		rc, err := c.eng.cli.ContainerLogs(callCtx, n.cid, opts)
		if err == nil {
			since = c.copyLogLines(rc, n, since)
			rc.Close()
		}
		cancel()
		if final || c.isGone(n) {
			return
		}
		c.checkExit(ctx, n)
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// copyLogLines demultiplexes the engine's stream, drops lines at or before
// since (the engine's since filter is inclusive), writes the rest without
// the timestamp prefix and returns the last timestamp seen.
func (c *Cluster) copyLogLines(rc io.Reader, n *node, since time.Time) time.Time {
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, rc)
		pw.CloseWithError(err)
	}()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		ts, msg, ok := strings.Cut(line, " ")
		if t, err := time.Parse(time.RFC3339Nano, ts); ok && err == nil {
			if !t.After(since) {
				continue
			}
			since = t
		} else {
			msg = line
		}
		n.addTail(msg)
		if n.logFile != nil {
			_, _ = n.logFile.WriteString(msg + "\n")
		}
	}
	pr.Close()
	return since
}

// checkExit records an exit the harness did not cause.
func (c *Cluster) checkExit(ctx context.Context, n *node) {
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := c.eng.cli.ContainerInspect(ictx, n.cid, client.ContainerInspectOptions{})
	if err != nil || res.Container.State == nil {
		return
	}
	s := res.Container.State
	if s.Running || s.Paused || s.Restarting || s.Status == "created" {
		return
	}
	n.mu.Lock()
	seen := s.FinishedAt == n.lastExit
	n.lastExit = s.FinishedAt
	expected := n.expectDown || slices.Contains(n.expectCodes, s.ExitCode)
	n.mu.Unlock()
	if seen || expected {
		return
	}
	e := Exit{Node: n.name, At: time.Now(), ExitCode: s.ExitCode, OOM: s.OOMKilled, Tail: n.tail(30)}
	c.mu.Lock()
	c.exits = append(c.exits, e)
	c.mu.Unlock()
	c.log.Warn("node exited on its own", "node", n.name, "exit_code", s.ExitCode, "oom", s.OOMKilled)
}

// isGone reports whether RemoveNode removed n's container.
func (c *Cluster) isGone(n *node) bool {
	c.nmu.RLock()
	defer c.nmu.RUnlock()
	return n.gone
}
