package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/nemesis"
	"github.com/google/nftables"
)

// These tests inject every network fault into real containers and check
// the effect in the kernel: probes from inside the namespaces and the rules
// read back over netlink. The nodes run testdata/fakebroker, a stub
// that listens on the broker's ports and serves the admin endpoints the
// nemesis uses, so the tests do not depend on the broker.

// netCluster deploys and starts n fakebroker nodes.
func netCluster(t *testing.T, n int, extra ...string) *Cluster {
	t.Helper()
	return netClusterWith(t, ClusterConfig{Nodes: n, BrokerArgs: extra})
}

// netClusterWith deploys and starts the fakebroker nodes cfg describes
// (RunID and Image are filled in; with FaultPathAgent the agent image is
// built too).
func netClusterWith(t *testing.T, cfg ClusterConfig) *Cluster {
	t.Helper()
	ctx := context.Background()
	eng, err := Connect(ctx)
	if err != nil {
		t.Fatalf("these tests need a Docker engine: %v", err)
	}
	t.Cleanup(func() { eng.Close() })
	log := slog.New(slog.NewTextHandler(netTestWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tag, err := BuildImage(ctx, eng, ImageSpec{Package: "./docker/testdata/fakebroker", Repo: "chronik-fakebroker", Binary: "chronik-server"}, log)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FaultPath == FaultPathAgent {
		cfg.AgentImage, err = BuildImage(ctx, eng, AgentImage(""), log)
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg.RunID = strings.ToLower(fmt.Sprintf("test-netfault-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixMilli()%1e7))
	cfg.Image = tag
	c, err := NewCluster(ctx, eng, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Close(cctx); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	for _, node := range c.Nodes() {
		if err := c.Start(ctx, node); err != nil {
			t.Fatal(err)
		}
	}
	for _, node := range c.Nodes() {
		waitAdmin(t, c, node)
	}
	return c
}

type netTestWriter struct{ t *testing.T }

func (w netTestWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// waitAdmin waits for node's admin port, bounded to 20 s.
func waitAdmin(t *testing.T, c *Cluster, node string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		code, _, err := c.Admin(ctx, node, "GET", "/healthz")
		cancel()
		if err == nil && code == 200 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never answered /healthz", node)
}

const probeTimeout = 500 * time.Millisecond

func mustConnect(t *testing.T, c *Cluster, a, b string) {
	t.Helper()
	// Under 20% loss on both ends one probe gets through with p = 0.64;
	// twenty misses in a row happen with p < 1e-8.
	var err error
	for range 20 {
		if err = c.Probe(context.Background(), a, b, probeTimeout); err == nil {
			return
		}
		var te interface{ Timeout() bool }
		if !errors.As(err, &te) || !te.Timeout() {
			// Refused: a restarted stub is not listening yet.
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Errorf("%s -> %s does not connect: %v", a, b, err)
}

func mustBlock(t *testing.T, c *Cluster, a, b string) {
	t.Helper()
	err := c.Probe(context.Background(), a, b, probeTimeout)
	if err == nil {
		t.Errorf("%s -> %s connected through a cut", a, b)
		return
	}
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() {
		t.Errorf("%s -> %s failed without timing out: %v", a, b, err)
	}
}

func rules(t *testing.T, c *Cluster, node string) []string {
	t.Helper()
	r, err := c.NetRules(context.Background(), node)
	if err != nil {
		t.Fatalf("rules of %s: %v", node, err)
	}
	return r
}

func TestNetFaultPrimitives(t *testing.T) {
	c := netCluster(t, 3)
	ctx := context.Background()

	t.Run("baseline connects", func(t *testing.T) {
		for _, a := range c.Nodes() {
			for _, b := range c.Nodes() {
				if a != b {
					mustConnect(t, c, a, b)
				}
			}
		}
		if r := rules(t, c, "n1"); len(r) != 0 {
			t.Errorf("rules before any fault: %v", r)
		}
	})

	t.Run("cut blocks both directions of one pair only", func(t *testing.T) {
		if err := c.Cut(ctx, "n1", []string{"n2"}); err != nil {
			t.Fatal(err)
		}
		mustBlock(t, c, "n1", "n2")
		mustBlock(t, c, "n2", "n1")
		mustConnect(t, c, "n1", "n3")
		mustConnect(t, c, "n3", "n2")
		// Clients on the host keep reaching the cut node.
		waitAdmin(t, c, "n1")
		if r := rules(t, c, "n1"); !slices.Equal(r, []string{"cut: drop 100% from " + c.Addr("n2").String()}) {
			t.Errorf("rules %v", r)
		}
	})

	t.Run("cut replaces the earlier cut", func(t *testing.T) {
		if err := c.Cut(ctx, "n1", []string{"n3"}); err != nil {
			t.Fatal(err)
		}
		mustConnect(t, c, "n1", "n2")
		mustBlock(t, c, "n1", "n3")
		if r := rules(t, c, "n1"); len(r) != 1 {
			t.Errorf("rules %v, want one", r)
		}
	})

	t.Run("heal removes our table and is idempotent", func(t *testing.T) {
		for range 2 {
			if err := c.HealNet(ctx, "n1"); err != nil {
				t.Fatal(err)
			}
		}
		mustConnect(t, c, "n1", "n3")
		mustConnect(t, c, "n3", "n1")
		if r := rules(t, c, "n1"); len(r) != 0 {
			t.Errorf("rules after heal: %v", r)
		}
	})

	t.Run("loss shows in the delivery rate of the lossy link only", func(t *testing.T) {
		if err := c.Loss(ctx, "n2", []string{"n1"}, 50); err != nil {
			t.Fatal(err)
		}
		lossy, err := c.ProbeLoss(ctx, "n1", "n2", 200)
		if err != nil {
			t.Fatal(err)
		}
		clean, err := c.ProbeLoss(ctx, "n3", "n2", 200)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("delivery at 50%% loss: n1->n2 %.3f, n3->n2 %.3f", lossy, clean)
		// 200 probes at p=0.5: sd 0.035, so these bounds are > 5 sd away.
		if lossy < 0.3 || lossy > 0.7 {
			t.Errorf("n1 -> n2 delivered %.3f at 50%% loss", lossy)
		}
		if clean < 0.95 {
			t.Errorf("n3 -> n2 delivered %.3f without loss", clean)
		}
	})

	t.Run("cut and loss coexist and clear separately", func(t *testing.T) {
		if err := c.Cut(ctx, "n2", []string{"n3"}); err != nil {
			t.Fatal(err)
		}
		if r := rules(t, c, "n2"); len(r) != 2 {
			t.Fatalf("rules %v, want a cut and a loss", r)
		}
		if err := c.Loss(ctx, "n2", nil, 0); err != nil {
			t.Fatal(err)
		}
		mustBlock(t, c, "n3", "n2")
		rate, err := c.ProbeLoss(ctx, "n1", "n2", 100)
		if err != nil {
			t.Fatal(err)
		}
		if rate < 0.95 {
			t.Errorf("n1 -> n2 delivered %.3f after loss removed", rate)
		}
		if err := c.HealNet(ctx, "n2"); err != nil {
			t.Fatal(err)
		}
		mustConnect(t, c, "n3", "n2")
	})

	t.Run("heal leaves other tables alone", func(t *testing.T) {
		// Another tool's table in the same namespace must survive our
		// faults and heals.
		foreign := &nftables.Table{Name: "someone_else", Family: nftables.TableFamilyINet}
		err := c.withNetNSConn(ctx, "n1", func(conn *nftables.Conn) error {
			conn.AddTable(foreign)
			return conn.Flush()
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Cut(ctx, "n1", []string{"n2"}); err != nil {
			t.Fatal(err)
		}
		if err := c.HealNet(ctx, "n1"); err != nil {
			t.Fatal(err)
		}
		var names []string
		err = c.withNetNSConn(ctx, "n1", func(conn *nftables.Conn) error {
			tables, err := conn.ListTables()
			for _, tb := range tables {
				names = append(names, tb.Name)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(names, "someone_else") || slices.Contains(names, chaosTable) {
			t.Errorf("tables after heal: %v, want someone_else and not %s", names, chaosTable)
		}
	})

	t.Run("preflight", func(t *testing.T) {
		s, err := nemesis.NewScheduler(nemesis.Options{Faults: []string{"partition", "loss"}}, c, rand.New(rand.NewPCG(1, 1)), nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.Preflight(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := v["nftables"].([]string); len(got) != 3 {
			t.Errorf("preflight checked nftables on %v, want all three", got)
		}
	})

	t.Run("rules die with the namespace", func(t *testing.T) {
		if err := c.Cut(ctx, "n3", []string{"n1"}); err != nil {
			t.Fatal(err)
		}
		if err := c.Kill(ctx, "n3"); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitState(ctx, "n3", nemesis.Exited, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := c.Cut(ctx, "n3", []string{"n1"}); err == nil {
			t.Error("Cut on a stopped node succeeded")
		}
		if err := c.Start(ctx, "n3"); err != nil {
			t.Fatal(err)
		}
		waitAdmin(t, c, "n3")
		if r := rules(t, c, "n3"); len(r) != 0 {
			t.Errorf("rules survived a restart: %v", r)
		}
		mustConnect(t, c, "n3", "n1")
	})
}

// effectChecker is a nemesis.Recorder that, at each info event, checks
// the fault's effect on the cluster itself (engine state, probes, rules,
// admin API), independently of what the nemesis verified.
type effectChecker struct {
	t      *testing.T
	c      *Cluster
	mu     sync.Mutex
	ops    []string
	cancel func(f string) // called after each info, to stop a run at a point
	onInfo func(f string, v nemesis.Value)
}

func (e *effectChecker) Nemesis(typ, f string, value any) {
	v := value.(nemesis.Value)
	e.mu.Lock()
	e.ops = append(e.ops, typ+" "+f)
	e.mu.Unlock()
	if typ != "info" {
		return
	}
	e.t.Logf("nemesis %s %v", f, v)
	if v["error"] != nil {
		e.t.Errorf("%s failed: %v", f, v["error"])
		return
	}
	if v["skipped"] != nil {
		return
	}
	e.check(f, v)
	if e.onInfo != nil {
		e.onInfo(f, v)
	}
	if e.cancel != nil {
		e.cancel(f)
	}
}

func (e *effectChecker) check(f string, v nemesis.Value) {
	t, c, ctx := e.t, e.c, context.Background()
	nodes, _ := v["nodes"].([]string)
	state := func(n string) nemesis.NodeState {
		st, err := c.State(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	switch f {
	case "kill":
		for _, n := range nodes {
			if st := state(n); st != nemesis.Exited {
				t.Errorf("killed %s is %s", n, st)
			}
		}
	case "restart", "start":
		for _, n := range nodes {
			if st := state(n); st != nemesis.Running {
				t.Errorf("restarted %s is %s", n, st)
			}
		}
	case "pause":
		for _, n := range nodes {
			if st := state(n); st != nemesis.Paused {
				t.Errorf("paused %s is %s", n, st)
			}
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			_, _, err := c.Admin(rctx, n, "GET", "/healthz")
			cancel()
			if err == nil {
				t.Errorf("paused %s answered its admin port", n)
			}
		}
	case "resume":
		for _, n := range nodes {
			if st := state(n); st != nemesis.Running {
				t.Errorf("resumed %s is %s", n, st)
			}
			waitAdmin(t, c, n)
		}
	case "partition":
		cuts := v["cuts"].(map[string][]string)
		for a, drops := range cuts {
			var cutRules []string
			for _, r := range rules(t, c, a) {
				if strings.HasPrefix(r, "cut:") {
					cutRules = append(cutRules, r)
				}
			}
			if len(cutRules) != len(drops) {
				t.Errorf("%s drops %v but has cut rules %v", a, drops, cutRules)
			}
		}
		// Every pair is cut or connects, as the grudge says; probed in
		// parallel because each cut pair waits out a timeout.
		var wg sync.WaitGroup
		for _, a := range c.Nodes() {
			for _, b := range c.Nodes() {
				if a == b || !isLiveNode(t, c, a) || !isLiveNode(t, c, b) {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					if slices.Contains(cuts[a], b) || slices.Contains(cuts[b], a) {
						mustBlock(t, c, a, b)
					} else {
						mustConnect(t, c, a, b)
					}
				}()
			}
		}
		wg.Wait()
	case "heal":
		e.allConnect()
		for _, n := range c.Nodes() {
			for _, r := range rules(t, c, n) {
				if strings.HasPrefix(r, "cut:") {
					t.Errorf("%s keeps %q after heal", n, r)
				}
			}
		}
	case "loss-start":
		rate, err := c.ProbeLoss(ctx, "n1", "n2", 200)
		if err != nil {
			t.Fatal(err)
		}
		pct := v["percent"].(int)
		t.Logf("independent probe at %d%% loss: delivered %.3f", pct, rate)
		if rate > 1-float64(pct)/200 {
			t.Errorf("delivered %.3f at %d%% loss", rate, pct)
		}
	case "loss-stop":
		for _, n := range c.Nodes() {
			for _, r := range rules(t, c, n) {
				if strings.HasPrefix(r, "loss:") {
					t.Errorf("%s keeps %q after loss-stop", n, r)
				}
			}
		}
	case "delay-start", "delay-stop":
		want := 0
		if f == "delay-start" {
			want = v["ms"].(int)
		}
		for _, n := range nodes {
			_, body, err := c.Admin(ctx, n, "GET", "/admin/peer-delay")
			if err != nil || string(body) != fmt.Sprintf(`{"ms":%d}`, want) {
				t.Errorf("%s peer delay %q (%v), want %d", n, body, err, want)
			}
		}
	}
}

func isLiveNode(t *testing.T, c *Cluster, n string) bool {
	st, err := c.State(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return st == nemesis.Running || st == nemesis.Paused
}

func (e *effectChecker) allConnect() {
	for _, a := range e.c.Nodes() {
		for _, b := range e.c.Nodes() {
			if a != b {
				mustConnect(e.t, e.c, a, b)
			}
		}
	}
}

func (e *effectChecker) saw(op string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Contains(e.ops, op)
}

// TestNemesisOnDocker runs the scheduler with each family (and all
// together) against real containers, checking every fault and heal, then
// the final heal.
func TestNemesisOnDocker(t *testing.T) {
	c := netCluster(t, 3, "--fake-leader", "2")
	tests := []struct {
		name  string
		opts  nemesis.Options
		run   time.Duration
		wants []string
	}{
		{"kill", nemesis.Options{Faults: []string{"kill"}, Targets: []string{"leader", "majority"}}, 5 * time.Second, []string{"kill", "restart"}},
		{"pause", nemesis.Options{Faults: []string{"pause"}, Targets: []string{"one", "all"}}, 5 * time.Second, []string{"pause", "resume"}},
		{"partition", nemesis.Options{Faults: []string{"partition"}}, 5 * time.Second, []string{"partition", "heal"}},
		{"loss", nemesis.Options{Faults: []string{"loss"}, LossPercent: 40}, 5 * time.Second, []string{"loss-start", "loss-stop"}},
		{"delay", nemesis.Options{Faults: []string{"delay"}, Delay: 70 * time.Millisecond}, 5 * time.Second, []string{"delay-start", "delay-stop"}},
		{"all", nemesis.Options{Faults: []string{"kill", "pause", "partition", "loss", "delay"}}, 10 * time.Second, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Interval = 1500 * time.Millisecond
			s, err := nemesis.NewScheduler(tt.opts, c, rand.New(rand.NewPCG(uint64(i), 1)), nil)
			if err != nil {
				t.Fatal(err)
			}
			rec := &effectChecker{t: t, c: c}
			ctx, cancel := context.WithTimeout(context.Background(), tt.run)
			defer cancel()
			if err := s.Run(ctx, rec); err != nil {
				t.Fatal(err)
			}
			if err := s.HealAll(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			for _, f := range tt.wants {
				if !rec.saw("info " + f) {
					t.Errorf("no %s in %v", f, rec.ops)
				}
			}
			for _, n := range c.Nodes() {
				if st, _ := c.State(context.Background(), n); st != nemesis.Running {
					t.Errorf("%s is %s after HealAll", n, st)
				}
				if r := rules(t, c, n); len(r) != 0 {
					t.Errorf("%s keeps rules %v after HealAll", n, r)
				}
			}
			rec.allConnect()
		})
	}
}

// TestReapplyAfterRestartDocker: a partition and loss are in effect when
// the isolated leader restarts, by the scheduler's own kill/restart or by
// the harness (then Scheduler.Reapply); both times the new namespace gets
// its rules back, proven by probes and by reading the rules.
func TestReapplyAfterRestartDocker(t *testing.T) {
	c := netCluster(t, 3, "--fake-leader", "2")
	opts := nemesis.Options{
		Faults:   []string{"kill", "partition", "loss"},
		Targets:  []string{"leader"},
		Grudges:  []string{"isolate-leader"},
		Interval: 2 * time.Second,
	}
	// Find a seed whose timetable starts the partition and the loss, then
	// kills and restarts, all before either network fault stops.
	seed := uint64(0)
	for ; seed < 1000; seed++ {
		s, err := nemesis.NewScheduler(opts, c, rand.New(rand.NewPCG(seed, 1)), nil)
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, ev := range s.Plan(time.Minute)[:4] {
			order = append(order, ev.Family)
		}
		if order[2] == "kill" && order[3] == "kill" {
			break
		}
	}
	if seed == 1000 {
		t.Fatal("no seed gives partition, loss, kill, restart")
	}

	checkLeaderCut := func(t *testing.T) {
		t.Helper()
		r := rules(t, c, "n2")
		if len(r) != 4 { // cut n1, n3; loss n1, n3
			t.Errorf("n2 rules after restart: %v", r)
		}
		mustBlock(t, c, "n2", "n1")
		mustBlock(t, c, "n3", "n2")
		rate, err := c.ProbeLoss(context.Background(), "n1", "n3", 200)
		if err != nil {
			t.Fatal(err)
		}
		if rate > 0.9 {
			t.Errorf("n1 -> n3 delivered %.3f with loss in effect", rate)
		}
	}

	s, err := nemesis.NewScheduler(opts, c, rand.New(rand.NewPCG(seed, 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("scheduler restart", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rec := &effectChecker{t: t, c: c, cancel: func(f string) {
			if f == "restart" {
				cancel()
			}
		}}
		if err := s.Run(ctx, rec); err != nil {
			t.Fatal(err)
		}
		want := []string{"info partition", "info loss-start", "info kill", "info restart"}
		for _, w := range want {
			if !rec.saw(w) {
				t.Fatalf("ops %v lack %s", rec.ops, w)
			}
		}
		checkLeaderCut(t)
	})
	t.Run("harness restart", func(t *testing.T) {
		ctx := context.Background()
		if err := c.Kill(ctx, "n2"); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitState(ctx, "n2", nemesis.Exited, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx, "n2"); err != nil {
			t.Fatal(err)
		}
		if r := rules(t, c, "n2"); len(r) != 0 {
			t.Fatalf("rules before Reapply: %v", r)
		}
		v, err := s.Reapply(ctx, "n2")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("reapplied %v", v)
		checkLeaderCut(t)
	})
	if err := s.HealAll(context.Background(), &effectChecker{t: t, c: c}); err != nil {
		t.Fatal(err)
	}
}

// TestGrudgesOnDocker injects every partition shape into five containers
// and checks each cut pair in the kernel, then the heal.
func TestGrudgesOnDocker(t *testing.T) {
	c := netCluster(t, 5, "--fake-leader", "4")
	for i, g := range nemesis.GrudgeNames {
		t.Run(g, func(t *testing.T) {
			opts := nemesis.Options{Faults: []string{"partition"}, Grudges: []string{g}, Interval: 400 * time.Millisecond}
			s, err := nemesis.NewScheduler(opts, c, rand.New(rand.NewPCG(uint64(i), 5)), nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var cuts map[string][]string
			rec := &effectChecker{t: t, c: c, cancel: func(f string) {
				if f == "partition" {
					cancel()
				}
			}}
			rec.onInfo = func(f string, v nemesis.Value) {
				if f == "partition" {
					cuts = v["cuts"].(map[string][]string)
				}
			}
			if err := s.Run(ctx, rec); err != nil {
				t.Fatal(err)
			}
			if cuts == nil {
				t.Fatalf("no partition in %v", rec.ops)
			}
			if g == nemesis.GrudgeIsolateLeader && len(cuts["n4"]) != 4 {
				t.Errorf("isolate-leader cut %v, want n4 cut from everyone", cuts)
			}
			if err := s.HealAll(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			rec.allConnect()
		})
	}
}
