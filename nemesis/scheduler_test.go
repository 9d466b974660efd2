package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// The fake cluster changes state at once; keep the waits for what it
	// never does short.
	stateWait = 200 * time.Millisecond
	adminWait = 200 * time.Millisecond
	clientSettle = 200 * time.Millisecond
	pollEvery = 5 * time.Millisecond
	pauseTimeout = 20 * time.Millisecond
	os.Exit(m.Run())
}

func newSched(t *testing.T, c Cluster, seed uint64, opts Options) *Scheduler {
	t.Helper()
	s, err := NewScheduler(opts, c, rand.New(rand.NewPCG(seed, seed)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var allFaultOpts = Options{Faults: []string{"kill", "pause", "partition", "loss", "delay"}, Interval: 10 * time.Second}

func TestPlanDeterministicPerSeed(t *testing.T) {
	tests := []struct {
		name string
		a, b uint64
		same bool
	}{
		{"same seed", 7, 7, true},
		{"other seed", 7, 8, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pa := newSched(t, newFake(5, Running), tt.a, allFaultOpts).Plan(10 * time.Minute)
			pb := newSched(t, newFake(5, Running), tt.b, allFaultOpts).Plan(10 * time.Minute)
			if got := fmt.Sprint(pa) == fmt.Sprint(pb); got != tt.same {
				t.Errorf("plans equal = %v, want %v\n%v\n%v", got, tt.same, pa[:5], pb[:5])
			}
		})
	}
}

// TestPlanFamilyIndependent: a family's ticks do not move when another
// family is added, so schedules stay comparable across --nemesis lists.
func TestPlanFamilyIndependent(t *testing.T) {
	only := newSched(t, newFake(3, Running), 3, Options{Faults: []string{"kill"}}).Plan(5 * time.Minute)
	both := newSched(t, newFake(3, Running), 3, Options{Faults: []string{"partition", "kill"}}).Plan(5 * time.Minute)
	var kills []Event
	for _, ev := range both {
		if ev.Family == "kill" {
			kills = append(kills, ev)
		}
	}
	if fmt.Sprint(only) != fmt.Sprint(kills) {
		t.Errorf("kill ticks moved when partition was added:\n%v\n%v", only, kills)
	}
}

func TestPlanGapsAndOverlap(t *testing.T) {
	interval := 10 * time.Second
	plan := newSched(t, newFake(5, Running), 1, allFaultOpts).Plan(30 * time.Minute)
	last := map[string]time.Duration{}
	active := map[string]bool{}
	overlapped := false
	for i, ev := range plan {
		if i > 0 && ev.At < plan[i-1].At {
			t.Fatalf("event %d at %v before previous %v", i, ev.At, plan[i-1].At)
		}
		gap := ev.At - last[ev.Family]
		if gap < interval/2 || gap >= 3*interval/2 {
			t.Errorf("%s gap %v outside [%v, %v)", ev.Family, gap, interval/2, 3*interval/2)
		}
		last[ev.Family] = ev.At
		active[ev.Family] = !active[ev.Family]
		n := 0
		for _, on := range active {
			if on {
				n++
			}
		}
		overlapped = overlapped || n >= 2
	}
	if len(last) != 5 {
		t.Errorf("families in plan: %v, want all five", last)
	}
	if !overlapped {
		t.Error("no two families were ever active at once")
	}
}

func TestPlanRotation(t *testing.T) {
	opts := allFaultOpts
	opts.Mixes = [][]string{{"kill"}, {"partition", "loss"}}
	opts.MixPeriod = time.Minute
	plan := newSched(t, newFake(5, Running), 1, opts).Plan(5 * time.Minute)
	var rotations []string
	for _, ev := range plan {
		if ev.Family == "" {
			rotations = append(rotations, fmt.Sprint(ev.At, ev.Mix))
			continue
		}
		slot := int(ev.At / time.Minute)
		if want := opts.Mixes[slot%2]; !slices.Equal(ev.Mix, want) {
			t.Errorf("event at %v has mix %v, want %v", ev.At, ev.Mix, want)
		}
	}
	want := []string{"1m0s [partition loss]", "2m0s [kill]", "3m0s [partition loss]", "4m0s [kill]", "5m0s [partition loss]"}
	if !slices.Equal(rotations, want) {
		t.Errorf("rotations %v, want %v", rotations, want)
	}
}

func TestOptionsRejected(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"unknown fault", Options{Faults: []string{"clock"}}},
		{"unknown target", Options{Faults: []string{"kill"}, Targets: []string{"two"}}},
		{"unknown grudge", Options{Faults: []string{"partition"}, Grudges: []string{"triangle"}}},
		{"loss over 100", Options{Faults: []string{"loss"}, LossPercent: 101}},
		{"mix outside faults", Options{Faults: []string{"kill"}, Mixes: [][]string{{"pause"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewScheduler(tt.opts, newFake(3, Running), rand.New(rand.NewPCG(1, 1)), nil); err == nil {
				t.Error("NewScheduler accepted the options")
			}
		})
	}
}

// runFor runs s against its cluster for d and returns the recorder.
func runFor(t *testing.T, s *Scheduler, d time.Duration) (*recorder, error) {
	t.Helper()
	rec := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := s.Run(ctx, rec)
	return rec, err
}

func opSummary(ops []recOp) []string {
	var out []string
	for _, o := range ops {
		out = append(out, fmt.Sprintf("%s %s %v", o.Type, o.F, o.Value["nodes"]))
	}
	return out
}

// TestRunSameSeedSameOps runs the whole scheduler twice on identical fakes:
// the same seed must give the same faults on the same nodes.
func TestRunSameSeedSameOps(t *testing.T) {
	opts := allFaultOpts
	opts.Interval = 4 * time.Millisecond
	var runs [2][]string
	for i := range runs {
		rec, err := runFor(t, newSched(t, newFake(5, Running), 42, opts), 400*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = opSummary(rec.ops)
	}
	n := min(len(runs[0]), len(runs[1]))
	if n < 20 {
		t.Fatalf("only %d ops recorded", n)
	}
	if !slices.Equal(runs[0][:n], runs[1][:n]) {
		t.Errorf("same seed, different ops:\n%v\n%v", runs[0][:n], runs[1][:n])
	}
	other, err := runFor(t, newSched(t, newFake(5, Running), 43, opts), 400*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	o := opSummary(other.ops)
	if m := min(n, len(o)); slices.Equal(runs[0][:m], o[:m]) {
		t.Error("different seeds gave the same ops")
	}
}

// TestRunThenHealAll runs every family against the fake, then checks that
// every op pair is well-formed and HealAll restores everything.
func TestRunThenHealAll(t *testing.T) {
	for _, n := range []int{3, 5, 7} {
		t.Run(fmt.Sprintf("%d nodes", n), func(t *testing.T) {
			c := newFake(n, Running)
			c.unluckyLoss = true // connect checks must see through loss
			opts := allFaultOpts
			opts.Interval = 3 * time.Millisecond
			s := newSched(t, c, uint64(n), opts)
			rec, err := runFor(t, s, 300*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for i, o := range rec.ops {
				seen[o.F] = true
				if o.Type == "invoke" && (i+1 >= len(rec.ops) || rec.ops[i+1].Type != "info" || rec.ops[i+1].F != o.F) {
					t.Fatalf("invoke %s not followed by its info", o.F)
				}
				if o.Type == "info" && o.Value["skipped"] == nil && o.Value["verified"] == nil {
					t.Errorf("info %s without verified: %v", o.F, o.Value)
				}
			}
			for _, f := range []string{"kill", "restart", "pause", "resume", "partition", "heal", "loss-start", "loss-stop", "delay-start", "delay-stop"} {
				if !seen[f] {
					t.Errorf("no %s op in %d ops", f, len(rec.ops))
				}
			}
			if err := s.HealAll(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			for _, node := range c.nodes {
				if c.state[node] != Running {
					t.Errorf("%s is %s after HealAll", node, c.state[node])
				}
				if len(c.cuts[node]) > 0 || c.loss[node] > 0 || c.delay[node] > 0 {
					t.Errorf("%s still has cut %v loss %d delay %d", node, c.cuts[node], c.loss[node], c.delay[node])
				}
			}
		})
	}
}

// TestFaultEffects starts and stops each family once and checks the
// fake's state between.
func TestFaultEffects(t *testing.T) {
	tests := []struct {
		fault   string
		opts    Options
		started func(c *fakeCluster) error
	}{
		{"kill", Options{Faults: []string{"kill"}, Targets: []string{"majority"}}, func(c *fakeCluster) error {
			if n := countState(c, Exited); n != 3 {
				return fmt.Errorf("%d exited nodes, want 3", n)
			}
			return nil
		}},
		{"kill", Options{Faults: []string{"kill"}, Targets: []string{"leader"}}, func(c *fakeCluster) error {
			if c.state[c.leader] != Exited || countState(c, Exited) != 1 {
				return fmt.Errorf("leader %s is %s", c.leader, c.state[c.leader])
			}
			return nil
		}},
		{"pause", Options{Faults: []string{"pause"}, Targets: []string{"all"}}, func(c *fakeCluster) error {
			if n := countState(c, Paused); n != 5 {
				return fmt.Errorf("%d paused nodes, want 5", n)
			}
			return nil
		}},
		{"partition", Options{Faults: []string{"partition"}, Grudges: []string{"isolate-leader"}}, func(c *fakeCluster) error {
			if len(c.cuts[c.leader]) != 4 {
				return fmt.Errorf("leader %s drops %v", c.leader, c.cuts[c.leader])
			}
			return nil
		}},
		{"loss", Options{Faults: []string{"loss"}, LossPercent: 30}, func(c *fakeCluster) error {
			for _, n := range c.nodes {
				if c.loss[n] != 30 {
					return fmt.Errorf("%s loss %d, want 30", n, c.loss[n])
				}
			}
			return nil
		}},
		{"delay", Options{Faults: []string{"delay"}, Delay: 250 * time.Millisecond}, func(c *fakeCluster) error {
			for _, n := range c.nodes {
				if c.delay[n] != 250 {
					return fmt.Errorf("%s delay %d, want 250", n, c.delay[n])
				}
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fault+"/"+fmt.Sprint(tt.opts.Targets, tt.opts.Grudges), func(t *testing.T) {
			c := newFake(5, Running)
			c.leader = "n2"
			s := newSched(t, c, 1, tt.opts)
			f := s.fault(tt.fault)
			rec := &recorder{}
			ctx := context.Background()
			if err := f.start(ctx, s, rec); err != nil {
				t.Fatal(err)
			}
			if !f.active() {
				t.Fatal("fault not active after start")
			}
			if err := tt.started(c); err != nil {
				t.Fatal(err)
			}
			if err := f.stop(ctx, s, rec); err != nil {
				t.Fatal(err)
			}
			if f.active() {
				t.Fatal("fault active after stop")
			}
			for _, n := range c.nodes {
				if c.state[n] != Running || len(c.cuts[n]) > 0 || c.loss[n] > 0 || c.delay[n] > 0 {
					t.Errorf("%s not restored: %s cut %v loss %d delay %d", n, c.state[n], c.cuts[n], c.loss[n], c.delay[n])
				}
			}
			infos := rec.infos()
			if len(infos) != 2 {
				t.Fatalf("%d infos, want 2: %v", len(infos), rec.ops)
			}
			for _, o := range infos {
				if o.Value["verified"] == nil || o.Value["error"] != nil {
					t.Errorf("%s: %v", o.F, o.Value)
				}
			}
		})
	}
}

func countState(c *fakeCluster, st NodeState) int {
	n := 0
	for _, s := range c.state {
		if s == st {
			n++
		}
	}
	return n
}

// TestUnverifiedFault: a fault that does not take effect must stop the run
// with ErrUnverified, never pass.
func TestUnverifiedFault(t *testing.T) {
	tests := []struct {
		name   string
		fault  string
		break_ func(c *fakeCluster)
	}{
		{"kill ignored", "kill", func(c *fakeCluster) { c.ignoreKill = true }},
		{"cut ignored", "partition", func(c *fakeCluster) { c.ignoreCut = true }},
		{"loss ignored", "loss", func(c *fakeCluster) { c.ignoreLoss = true }},
		{"paused node answers", "pause", func(c *fakeCluster) { c.pauseAnswers = true }},
		{"loss never heals", "loss", func(c *fakeCluster) { c.stickyNet = true }},
		{"cut never heals", "partition", func(c *fakeCluster) { c.stickyNet = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFake(3, Running)
			tt.break_(c)
			s := newSched(t, c, 1, Options{Faults: []string{tt.fault}, Interval: time.Millisecond})
			rec, err := runFor(t, s, 5*time.Second)
			if !errors.Is(err, ErrUnverified) {
				t.Fatalf("Run = %v, want ErrUnverified", err)
			}
			last := rec.ops[len(rec.ops)-1]
			if last.Type != "info" || last.Value["error"] == nil {
				t.Errorf("last op %v does not carry the error", last)
			}
		})
	}
}

// TestNoNftables: without nf_tables a network fault fails clearly.
func TestNoNftables(t *testing.T) {
	c := newFake(3, Running)
	c.noNftables = true
	s := newSched(t, c, 1, Options{Faults: []string{"partition"}, Interval: time.Millisecond})
	_, err := runFor(t, s, 5*time.Second)
	if err == nil {
		t.Fatal("Run succeeded without nftables")
	}
}

// TestReapplyAfterRestart: cuts, loss and delay die with a node; both the
// scheduler's own restart and a harness restart (Reapply) bring them back.
func TestReapplyAfterRestart(t *testing.T) {
	ctx := context.Background()
	for _, via := range []string{"scheduler", "harness"} {
		t.Run(via, func(t *testing.T) {
			c := newFake(5, Running)
			c.leader = "n3"
			s := newSched(t, c, 1, Options{Faults: []string{"kill", "partition", "loss", "delay"}, Grudges: []string{"isolate-leader"}, Targets: []string{"leader"}})
			rec := &recorder{}
			for _, f := range []string{"partition", "loss", "delay"} {
				if err := s.fault(f).start(ctx, s, rec); err != nil {
					t.Fatal(err)
				}
			}
			want := slices.Clone(c.cuts["n3"])
			switch via {
			case "scheduler":
				if err := s.fault("kill").start(ctx, s, rec); err != nil {
					t.Fatal(err)
				}
				if c.state["n3"] != Exited || c.cuts["n3"] != nil {
					t.Fatalf("n3 %s with cuts %v after kill", c.state["n3"], c.cuts["n3"])
				}
				if err := s.fault("kill").stop(ctx, s, rec); err != nil {
					t.Fatal(err)
				}
				last := rec.ops[len(rec.ops)-1]
				if last.Value["verified"].(map[string]any)["reapplied"] == nil {
					t.Errorf("restart info without reapplied: %v", last.Value)
				}
			case "harness":
				_ = c.Kill(ctx, "n3")
				_ = c.Start(ctx, "n3")
				v, err := s.Reapply(ctx, "n3")
				if err != nil {
					t.Fatal(err)
				}
				if v["cut"] == nil || v["loss"] == nil || v["peer_delay_ms"] != 100 {
					t.Errorf("Reapply value %v", v)
				}
			}
			if !slices.Equal(c.cuts["n3"], want) || c.loss["n3"] != DefaultLossPercent || c.delay["n3"] != 100 {
				t.Errorf("after restart n3 has cut %v (want %v) loss %d delay %d", c.cuts["n3"], want, c.loss["n3"], c.delay["n3"])
			}
		})
	}
}

func TestStaggeredStart(t *testing.T) {
	order := func(seed uint64) []string {
		c := newFake(5, Exited)
		rec := &recorder{}
		if err := StaggeredStart(context.Background(), c, time.Millisecond, rand.New(rand.NewPCG(seed, 0)), rec); err != nil {
			t.Fatal(err)
		}
		for _, n := range c.nodes {
			if c.state[n] != Running {
				t.Errorf("%s is %s", n, c.state[n])
			}
		}
		var got []string
		for _, o := range rec.infos() {
			if o.F != "start" || o.Value["verified"] == nil {
				t.Errorf("unexpected op %v", o)
			}
			got = append(got, fmt.Sprint(o.Value["nodes"]))
		}
		if fmt.Sprint(c.calls) != fmt.Sprint(startCalls(got)) {
			t.Errorf("recorded %v, cluster saw %v", got, c.calls)
		}
		return got
	}
	a, b, other := order(9), order(9), order(10)
	if !slices.Equal(a, b) {
		t.Errorf("same seed, orders %v and %v", a, b)
	}
	if slices.Equal(a, other) {
		t.Errorf("seeds 9 and 10 both give %v", a)
	}
	if len(a) != 5 {
		t.Errorf("%d starts, want 5", len(a))
	}
}

func startCalls(nodes []string) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, "start "+n[1:len(n)-1])
	}
	return out
}

func TestStaggeredStartUnverified(t *testing.T) {
	c := &neverStarts{newFake(3, Exited)}
	err := StaggeredStart(context.Background(), c, -1, rand.New(rand.NewPCG(1, 0)), nil)
	if !errors.Is(err, ErrUnverified) {
		t.Errorf("StaggeredStart = %v, want ErrUnverified", err)
	}
}

// neverStarts accepts Start but the node stays down.
type neverStarts struct{ *fakeCluster }

func (neverStarts) Start(context.Context, string) error { return nil }

// TestDeferredLossProof: a node restarted while a partition cuts it off
// from every peer gets its loss rule back, but no probe can measure it
// then; the partition's heal measures it, and fails if the rule is gone.
func TestDeferredLossProof(t *testing.T) {
	for _, lossWorks := range []bool{true, false} {
		t.Run(fmt.Sprint("loss works ", lossWorks), func(t *testing.T) {
			ctx := context.Background()
			c := newFake(3, Running)
			c.leader = "n1"
			s := newSched(t, c, 1, Options{Faults: []string{"kill", "partition", "loss"}, Grudges: []string{"isolate-leader"}, Targets: []string{"leader"}})
			rec := &recorder{}
			for _, f := range []string{"partition", "loss", "kill"} {
				if err := s.fault(f).start(ctx, s, rec); err != nil {
					t.Fatal(err)
				}
			}
			c.ignoreLoss = !lossWorks
			if err := s.fault("kill").stop(ctx, s, rec); err != nil {
				t.Fatal(err)
			}
			err := s.fault("partition").stop(ctx, s, rec)
			last := rec.ops[len(rec.ops)-1]
			if lossWorks {
				if err != nil {
					t.Fatal(err)
				}
				if last.Value["verified"].(map[string]any)["loss_reapplied"] == nil {
					t.Errorf("heal did not measure the deferred loss: %v", last.Value)
				}
			} else if !errors.Is(err, ErrUnverified) {
				t.Errorf("heal = %v, want ErrUnverified for a loss rule that vanished", err)
			}
		})
	}
}

func TestPreflight(t *testing.T) {
	tests := []struct {
		name   string
		faults []string
		break_ func(c *fakeCluster)
		ok     bool
	}{
		{"network faults available", []string{"partition", "loss"}, func(*fakeCluster) {}, true},
		{"no nftables", []string{"partition"}, func(c *fakeCluster) { c.noNftables = true }, false},
		{"kill needs no nftables", []string{"kill"}, func(c *fakeCluster) { c.noNftables = true }, true},
		{"delay readable", []string{"delay"}, func(*fakeCluster) {}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFake(3, Running)
			tt.break_(c)
			s := newSched(t, c, 1, Options{Faults: tt.faults})
			_, err := s.Preflight(context.Background())
			if tt.ok && err != nil {
				t.Errorf("Preflight = %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrUnverified) {
				t.Errorf("Preflight = %v, want ErrUnverified", err)
			}
		})
	}
}

// TestPartitionAroundDownNodes: a shape that would only cut a down node is
// drawn over the live nodes instead, so a partition still happens.
func TestPartitionAroundDownNodes(t *testing.T) {
	for seed := uint64(0); seed < 30; seed++ {
		c := newFake(3, Running)
		c.state["n1"] = Exited
		s := newSched(t, c, seed, Options{Faults: []string{"partition"}, Grudges: []string{"one", "bridge", "isolate-leader", "majority"}})
		c.leader = "n1" // a stale leader: down
		rec := &recorder{}
		if err := s.fault("partition").start(context.Background(), s, rec); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		info := rec.infos()[0]
		if info.Value["skipped"] != nil {
			t.Fatalf("seed %d: partition skipped: %v", seed, info.Value)
		}
		if !slices.Contains(c.cuts["n2"], "n3") && !slices.Contains(c.cuts["n3"], "n2") {
			t.Errorf("seed %d: n2 and n3 not cut: %v (%v)", seed, c.cuts, info.Value)
		}
	}
	c := newFake(3, Running)
	c.state["n1"], c.state["n2"] = Exited, Exited
	s := newSched(t, c, 1, Options{Faults: []string{"partition"}})
	rec := &recorder{}
	if err := s.fault("partition").start(context.Background(), s, rec); err != nil {
		t.Fatal(err)
	}
	if rec.infos()[0].Value["skipped"] == nil || s.fault("partition").active() {
		t.Errorf("partition with one live node was not skipped: %v", rec.ops)
	}
}

// TestConnectsUnderLoss: single probes over a lossy link keep timing out,
// yet the pair is connected; a cut pair is not.
func TestConnectsUnderLoss(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(c *fakeCluster)
		connect bool
	}{
		{"clean", func(c *fakeCluster) {}, true},
		{"lossy", func(c *fakeCluster) { c.loss["n1"], c.loss["n2"] = 60, 60 }, true},
		{"cut", func(c *fakeCluster) { c.cuts["n2"] = []string{"n1"} }, false},
		{"cut and lossy", func(c *fakeCluster) { c.loss["n1"] = 30; c.cuts["n2"] = []string{"n1"} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFake(3, Running)
			c.unluckyLoss = true
			tt.setup(c)
			err := connects(context.Background(), c, "n1", "n2", time.Millisecond)
			if (err == nil) != tt.connect {
				t.Errorf("connects = %v, want connected %v", err, tt.connect)
			}
		})
	}
}

// TestRotationStopsAndGates: a rotation boundary stops families the new mix
// leaves out, and a family outside the current mix does not start.
func TestRotationStopsAndGates(t *testing.T) {
	ctx := context.Background()
	c := newFake(3, Running)
	s := newSched(t, c, 1, Options{Faults: []string{"kill", "partition"}, Mixes: [][]string{{"kill"}, {"partition"}}})
	rec := &recorder{}
	steps := []struct {
		ev         Event
		killActive bool
		partActive bool
	}{
		{Event{Family: "kill", Mix: []string{"kill"}}, true, false},
		{Event{Family: "partition", Mix: []string{"kill"}}, true, false}, // gated
		{Event{Mix: []string{"partition"}}, false, false},                // boundary stops kill
		{Event{Family: "kill", Mix: []string{"partition"}}, false, false},
		{Event{Family: "partition", Mix: []string{"partition"}}, false, true},
		{Event{Mix: []string{"kill"}}, false, false},
	}
	for i, st := range steps {
		if err := s.do(ctx, st.ev, rec); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if s.fault("kill").active() != st.killActive || s.fault("partition").active() != st.partActive {
			t.Errorf("step %d (%+v): kill active %v, partition active %v; want %v, %v",
				i, st.ev, s.fault("kill").active(), s.fault("partition").active(), st.killActive, st.partActive)
		}
	}
	if n := countState(c, Running); n != 3 {
		t.Errorf("%d nodes running after the rotation stopped kill, want 3", n)
	}
}

// TestStartGaps: the long wait falls before a majority has started, so the
// nodes up then wait without quorum; every other wait is the short gap.
func TestStartGaps(t *testing.T) {
	tests := []struct {
		nodes int
		long  time.Duration
		// wantLongAt are the starts the long wait may precede.
		wantLongAt []int
	}{
		{1, time.Minute, nil},
		{3, time.Minute, []int{1}},
		{5, time.Minute, []int{1, 2}},
		{7, time.Minute, []int{1, 2, 3}},
		{5, 0, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d nodes long %v", tt.nodes, tt.long), func(t *testing.T) {
			seen := map[int]bool{}
			for seed := range uint64(40) {
				gaps := StartGaps(tt.nodes, time.Second, tt.long, rand.New(rand.NewPCG(seed, 0)))
				if len(gaps) != tt.nodes || gaps[0] != 0 {
					t.Fatalf("gaps %v", gaps)
				}
				longs := 0
				for i, g := range gaps[1:] {
					switch g {
					case tt.long:
						longs++
						seen[i+1] = true
						if !slices.Contains(tt.wantLongAt, i+1) {
							t.Fatalf("long wait before start %d: %v", i+1, gaps)
						}
					case time.Second:
					default:
						t.Fatalf("gap %v in %v", g, gaps)
					}
				}
				if want := min(1, len(tt.wantLongAt)); longs != want {
					t.Fatalf("%d long waits in %v, want %d", longs, gaps, want)
				}
			}
			if len(seen) != len(tt.wantLongAt) {
				t.Errorf("long wait fell before starts %v, want each of %v", seen, tt.wantLongAt)
			}
		})
	}
}
