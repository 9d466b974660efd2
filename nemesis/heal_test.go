package nemesis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// TestFaultPerScheduledFamily: the table's scheduled rows and the faults
// of newFaults are the same families, one fault each.
func TestFaultPerScheduledFamily(t *testing.T) {
	var got []string
	for _, mk := range newFaults {
		got = append(got, mk().family().Name)
	}
	slices.Sort(got)
	want := scheduledFamilies()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("faults %v, scheduled families %v", got, want)
	}
}

// TestHealAllUndoesEveryFault puts every family in effect at once, then
// heals: each family's final heal must run, in the fixed order, verify and
// leave the fake clean. Each broken row makes one heal fail to take effect,
// which HealAll must report as unverified instead of passing.
func TestHealAllUndoesEveryFault(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(c *fakeCluster)
	}{
		{"all heals work", func(*fakeCluster) {}},
		{"network never heals", func(c *fakeCluster) { c.stickyNet = true }},
		{"node never restarts", func(c *fakeCluster) { c.neverStart = true }},
		{"node never thaws", func(c *fakeCluster) { c.neverUnpause = true }},
		{"delay sticks", func(c *fakeCluster) { c.stickyDelay = true }},
		{"clients stay cut", func(c *fakeCluster) { c.ignoreClient = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c := newFake(5, Running)
			c.leader = "n1"
			s := newSched(t, c, 1, Options{Faults: []string{"kill", "pause", "partition", "loss", "delay", "client"},
				Targets: []string{"leader"}, Grudges: []string{"majority"}})
			rec := &recorder{}
			for _, f := range []string{"client", "delay", "loss", "partition", "kill"} {
				if err := s.fault(f).start(ctx, s, rec); err != nil {
					t.Fatal(err)
				}
			}
			// The leader is down now; the pause falls back to one node.
			if err := s.fault("pause").start(ctx, s, rec); err != nil {
				t.Fatal(err)
			}
			for _, f := range s.faults {
				if s.configured(f.family().Name) && !f.active() && !f.family().Instant() {
					t.Fatalf("%s not in effect before the heal", f.family().Name)
				}
			}
			tt.break_(c)
			from := len(rec.ops)
			err := s.HealAll(ctx, rec)
			if tt.name != "all heals work" {
				if !errors.Is(err, ErrUnverified) {
					t.Fatalf("HealAll = %v, want ErrUnverified", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var fs []string
			for _, o := range rec.ops[from:] {
				if o.Type != "info" {
					continue
				}
				fs = append(fs, o.F)
				if o.Value["final"] != true || o.Value["verified"] == nil || o.Value["reapplied"] != nil {
					t.Errorf("final %s: %v", o.F, o.Value)
				}
			}
			want := []string{"resume", "restart", "heal", "loss-stop", "delay-stop", "client-heal"}
			if !slices.Equal(fs, want) {
				t.Errorf("final heal recorded %v, want %v", fs, want)
			}
			for _, f := range s.faults {
				if f.active() {
					t.Errorf("%s still in effect after HealAll", f.family().Name)
				}
			}
			for _, n := range c.nodes {
				if c.state[n] != Running || len(c.cuts[n]) > 0 || c.loss[n] > 0 || c.delay[n] > 0 || c.client[n].Mode != "" {
					t.Errorf("%s not restored: %s cut %v loss %d delay %d client %v", n, c.state[n], c.cuts[n], c.loss[n], c.delay[n], c.client[n])
				}
			}
		})
	}
}

// TestHealAllOnlyConfigured: nodes that are down or frozen come back
// whoever stopped them, but network and delay heals run only for their
// configured families, so a kill-only run never needs nftables.
func TestHealAllOnlyConfigured(t *testing.T) {
	ctx := context.Background()
	c := newFake(3, Running)
	c.noNftables = true
	c.state["n1"], c.state["n2"] = Exited, Paused // not the nemesis's doing
	s := newSched(t, c, 1, Options{Faults: []string{"kill"}})
	rec := &recorder{}
	if err := s.HealAll(ctx, rec); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range rec.infos() {
		got = append(got, fmt.Sprint(o.F, " ", o.Value["nodes"]))
	}
	if want := []string{"resume [n2]", "restart [n1]"}; !slices.Equal(got, want) {
		t.Errorf("final heal %v, want %v", got, want)
	}
	if countState(c, Running) != 3 {
		t.Errorf("states %v", c.state)
	}
}

// TestResumeRetellsDelay: a node frozen while the delay started missed it;
// its resume tells it, and records so.
func TestResumeRetellsDelay(t *testing.T) {
	ctx := context.Background()
	c := newFake(3, Running)
	c.leader = "n2"
	s := newSched(t, c, 1, Options{Faults: []string{"pause", "delay"}, Targets: []string{"leader"}})
	rec := &recorder{}
	for _, f := range []string{"pause", "delay"} {
		if err := s.fault(f).start(ctx, s, rec); err != nil {
			t.Fatal(err)
		}
	}
	if c.delay["n2"] != 0 {
		t.Fatalf("frozen n2 got delay %d", c.delay["n2"])
	}
	if err := s.fault("pause").stop(ctx, s, rec); err != nil {
		t.Fatal(err)
	}
	if c.delay["n2"] != 100 {
		t.Errorf("resumed n2 has delay %d, want 100", c.delay["n2"])
	}
	last := rec.ops[len(rec.ops)-1]
	if last.F != history.NemesisPause.Stop || last.Value["verified"].(map[string]any)["reapplied"] == nil {
		t.Errorf("resume without reapplied: %v", last)
	}
}
