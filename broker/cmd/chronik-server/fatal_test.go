package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestExitCodes runs the binary: a lone raft-cluster node retries forever
// by default, but with the seeded --unsafe-registration-attempts bug it
// gives up and exits 1 (the node's Fatal channel); SIGTERM stops a node
// cleanly with 0.
func TestExitCodes(t *testing.T) {
	bin := buildBinary(t)
	ports := freePorts(t, 5)
	args := func(extra ...string) []string {
		a := []string{"--kafka-port", "0", "--admin-port", "0", "--listen-host", "127.0.0.1",
			"--advertised-addr", "127.0.0.1", "--data-dir", t.TempDir(), "--node-id", "1"}
		a = append(a, extra...)
		return append(a, "raft-cluster", "--raft-addr", fmt.Sprintf("127.0.0.1:%d", ports[0]),
			"--peers", fmt.Sprintf("2@127.0.0.1:%d,3@127.0.0.1:%d", ports[1], ports[2]))
	}

	t.Run("registration bug exits 1", func(t *testing.T) {
		p := spawnProc(t, bin, args("--unsafe-registration-attempts=2")...)
		defer p.cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(60 * time.Second):
			t.Fatalf("node with the registration bug still running after 60s:\n%s", p.logs())
		}
		if code := p.cmd.ProcessState.ExitCode(); code != 1 {
			t.Fatalf("exit code %d, want 1:\n%s", code, p.logs())
		}
		if !strings.Contains(p.logs(), "UNSAFE") {
			t.Fatalf("seeded bug not logged loudly:\n%s", p.logs())
		}
	})

	t.Run("without the bug a lone node keeps retrying, SIGTERM exits 0", func(t *testing.T) {
		p := spawnProc(t, bin, args()...)
		defer p.cmd.Process.Kill()
		select {
		case <-p.exited:
			t.Fatalf("lone node exited on its own:\n%s", p.logs())
		case <-time.After(5 * time.Second):
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			t.Fatal("node did not stop within 30s of SIGTERM")
		}
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("exit code %d after SIGTERM, want 0:\n%s", code, p.logs())
		}
	})
}
