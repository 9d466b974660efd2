package docker

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/nemesis"
	"github.com/moby/moby/client"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func connect(t *testing.T) *Engine {
	t.Helper()
	eng, err := Connect(context.Background())
	if err != nil {
		t.Fatalf("these tests need a Docker engine: %v", err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

// fakeCluster deploys n fakebroker nodes (see testdata/fakebroker).
func fakeCluster(t *testing.T, eng *Engine, n int, extra ...string) (*Cluster, string) {
	t.Helper()
	ctx := context.Background()
	log := testLogger(t)
	tag, err := BuildImage(ctx, eng, ImageSpec{Package: "./docker/testdata/fakebroker", Repo: "chronik-fakebroker", Binary: "chronik-server"}, log)
	if err != nil {
		t.Fatal(err)
	}
	runID := "test-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + time.Now().Format("150405.000")
	runID = strings.ReplaceAll(runID, ".", "")
	logDir := t.TempDir()
	c, err := NewCluster(ctx, eng, ClusterConfig{RunID: runID, Image: tag, Nodes: n, LogDir: logDir, BrokerArgs: extra}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c, logDir
}

func TestConnectUnreachableEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	_, err := Connect(context.Background())
	if !errors.Is(err, ErrNoEngine) {
		t.Fatalf("Connect with no engine = %v, want ErrNoEngine", err)
	}
	if !strings.Contains(err.Error(), "start dockerd") {
		t.Errorf("error does not say what to start: %v", err)
	}
}

func TestClusterLifecycle(t *testing.T) {
	eng := connect(t)
	ctx := context.Background()
	c, logDir := fakeCluster(t, eng, 3)

	if got := c.Nodes(); len(got) != 3 || got[0] != "n1" || got[2] != "n3" {
		t.Fatalf("Nodes() = %v", got)
	}
	cmd := strings.Join(c.CommandLine("n1"), " ")
	for _, want := range []string{"--node-id 1", "--rack n1", "--advertised-addr " + c.Addr("n1").String(), "raft-cluster", "2@" + c.Addr("n2").String() + ":9192"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("command line %q lacks %q", cmd, want)
		}
	}
	for _, n := range c.Nodes() {
		if err := c.Start(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	waitReady(t, c, "n1")

	t.Run("kill", func(t *testing.T) {
		if err := c.Kill(ctx, "n2"); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitState(ctx, "n2", nemesis.Exited, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PID(ctx, "n2"); err == nil {
			t.Error("PID of a killed node succeeded")
		}
		if err := c.Start(ctx, "n2"); err != nil {
			t.Fatal(err)
		}
		waitReady(t, c, "n2")
	})
	t.Run("pause", func(t *testing.T) {
		if err := c.Pause(ctx, "n3"); err != nil {
			t.Fatal(err)
		}
		if st, _ := c.State(ctx, "n3"); st != nemesis.Paused {
			t.Fatalf("state after pause = %s", st)
		}
		actx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, _, err := c.Admin(actx, "n3", "GET", "/readyz")
		cancel()
		if err == nil {
			t.Error("admin request to a paused node answered")
		}
		if err := c.Unpause(ctx, "n3"); err != nil {
			t.Fatal(err)
		}
		waitReady(t, c, "n3")
	})
	t.Run("exec", func(t *testing.T) {
		// The image is FROM scratch: the broker binary is the only program.
		if res, err := c.Exec(ctx, "n1", []string{"/bin/sh", "-c", "true"}); err == nil && res.ExitCode == 0 {
			t.Error("exec of /bin/sh succeeded in a scratch image")
		}
		res, err := c.Exec(ctx, "n1", []string{"/chronik-server", "--exit-after", "1ms"})
		if err != nil || res.ExitCode != 3 || !strings.Contains(string(res.Stdout), "fakebroker starting") {
			t.Errorf("exec of the image's own binary = %+v, %v", res, err)
		}
	})
	t.Run("pid", func(t *testing.T) {
		pid, err := c.PID(ctx, "n1")
		if err != nil || pid <= 0 {
			t.Fatalf("PID = %d, %v", pid, err)
		}
	})
	t.Run("logs across restart", func(t *testing.T) {
		time.Sleep(1500 * time.Millisecond)
		b, err := os.ReadFile(filepath.Join(logDir, "n2", "chronik-server.log"))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(string(b), "fakebroker starting"); got != 2 {
			t.Errorf("n2 log has %d start lines, want 2 (kill + restart):\n%s", got, b)
		}
	})
	if ex := c.Exits(); len(ex) != 0 {
		t.Errorf("harness-caused exits reported as unexpected: %+v", ex)
	}

	// Close must also remove a paused node.
	if err := c.Pause(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	runID := c.RunID()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	assertNothingLabelled(t, eng, runID)
}

func TestUnexpectedExitRecorded(t *testing.T) {
	eng := connect(t)
	ctx := context.Background()
	c, _ := fakeCluster(t, eng, 1, "--exit-after", "500ms")
	if err := c.Start(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(c.Exits()) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	ex := c.Exits()
	if len(ex) != 1 || ex[0].Node != "n1" || ex[0].ExitCode != 3 {
		t.Fatalf("Exits() = %+v, want one exit of n1 with code 3", ex)
	}
	if !strings.Contains(strings.Join(ex[0].Tail, "\n"), "giving up") {
		t.Errorf("exit tail lacks the last log line: %q", ex[0].Tail)
	}
}

func TestCleanRemovesOnlyLabelled(t *testing.T) {
	eng := connect(t)
	ctx := context.Background()
	c, _ := fakeCluster(t, eng, 1)
	// An unlabelled network must survive Clean.
	res, err := eng.cli.NetworkCreate(ctx, "chronik-test-unlabelled-"+time.Now().Format("150405"), client.NetworkCreateOptions{Driver: "bridge"})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.cli.NetworkRemove(ctx, res.ID, client.NetworkRemoveOptions{})
	// Scoped to this test's run: other tests may have clusters up right now.
	got, err := Clean(ctx, eng, CleanOptions{RunID: c.RunID()}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if got.Containers < 1 || got.Networks < 1 {
		t.Errorf("Clean removed %+v, want at least the run's container and network", got)
	}
	assertNothingLabelled(t, eng, c.RunID())
	if _, err := eng.cli.NetworkInspect(ctx, res.ID, client.NetworkInspectOptions{}); err != nil {
		t.Errorf("Clean removed an unlabelled network: %v", err)
	}
}

func waitReady(t *testing.T, c *Cluster, node string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		code, _, err := c.Admin(ctx, node, "GET", "/readyz")
		cancel()
		if err == nil && code == 200 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became ready; log tail: %q", node, c.LogTail(node, 10))
}

func assertNothingLabelled(t *testing.T, eng *Engine, runID string) {
	t.Helper()
	ctx := context.Background()
	cs, err := eng.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: runFilter(runID)})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := eng.cli.NetworkList(ctx, client.NetworkListOptions{Filters: runFilter(runID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Items) != 0 || len(ns.Items) != 0 {
		t.Errorf("run %s left %d containers and %d networks", runID, len(cs.Items), len(ns.Items))
	}
}
