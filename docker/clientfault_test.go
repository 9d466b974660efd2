package docker

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/nemesis"
)

// clientTimesOut requires a connect from the host to node's Kafka port to
// time out (a refusal would mean packets got through).
func clientTimesOut(t *testing.T, c *Cluster, node string) {
	t.Helper()
	err := c.ProbeClient(context.Background(), node, probeTimeout)
	var te interface{ Timeout() bool }
	if err == nil || !errors.As(err, &te) || !te.Timeout() {
		t.Errorf("clients -> %s: %v, want a timeout", node, err)
	}
}

func clientConnects(t *testing.T, c *Cluster, node string) {
	t.Helper()
	var err error
	for range 20 {
		if err = c.ProbeClient(context.Background(), node, probeTimeout); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("clients -> %s do not connect: %v", node, err)
}

func clientRules(t *testing.T, c *Cluster, node string) []string {
	t.Helper()
	r, err := c.ClientRules(context.Background(), node)
	if err != nil {
		t.Fatalf("client rules of %s: %v", node, err)
	}
	return r
}

// TestClientFaultPrimitives installs each client fault mode in a real
// container and checks its effect from the host (where the harness's
// clients run), that peers and the admin port are untouched, and that the
// partition's heal and the client heal leave each other's rules alone.
func TestClientFaultPrimitives(t *testing.T) {
	c := netCluster(t, 2)
	ctx := context.Background()
	cut := func(t *testing.T, mode string, pct int) {
		t.Helper()
		if err := c.CutClients(ctx, "n1", nemesis.ClientCut{Mode: mode, Percent: pct}); err != nil {
			t.Fatal(err)
		}
	}
	heal := func(t *testing.T) {
		t.Helper()
		if err := c.CutClients(ctx, "n1", nemesis.ClientCut{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("both ways: clients cut from n1 only, peers and admin untouched", func(t *testing.T) {
		cut(t, nemesis.ClientBoth, 0)
		defer heal(t)
		clientTimesOut(t, c, "n1")
		clientConnects(t, c, "n2")
		mustConnect(t, c, "n2", "n1")
		waitAdmin(t, c, "n1")
		if got, want := clientRules(t, c, "n1"), []string{"client_in: count", "client_in: drop 100%", "client_out: drop 100%"}; !slices.Equal(got, want) {
			t.Errorf("rules %v, want %v", got, want)
		}
	})
	t.Run("responses only: requests arrive, answers are dropped", func(t *testing.T) {
		cut(t, nemesis.ClientResponses, 0)
		defer heal(t)
		before, err := c.ClientPacketsIn(ctx, "n1")
		if err != nil {
			t.Fatal(err)
		}
		clientTimesOut(t, c, "n1")
		after, err := c.ClientPacketsIn(ctx, "n1")
		if err != nil {
			t.Fatal(err)
		}
		if after <= before {
			t.Errorf("counter %d -> %d: the probe's SYN did not arrive", before, after)
		}
		if got, want := clientRules(t, c, "n1"), []string{"client_in: count", "client_out: drop 100%"}; !slices.Equal(got, want) {
			t.Errorf("rules %v, want %v", got, want)
		}
	})
	t.Run("loss shows in the clients' delivery rate", func(t *testing.T) {
		cut(t, nemesis.ClientLoss, 50)
		defer heal(t)
		rate, err := c.ProbeClientLoss(ctx, "n1", 400)
		if err != nil {
			t.Fatal(err)
		}
		// (1-0.5)^2 = 0.25 expected; 400 probes put 0.5 eight standard
		// deviations away.
		if rate > 0.5 || rate == 0 {
			t.Errorf("delivered %.3f at 50%% client loss each way", rate)
		}
		if r, _ := c.ProbeClientLoss(ctx, "n2", 200); r < 0.95 {
			t.Errorf("n2 delivered %.3f without a fault", r)
		}
	})
	t.Run("heal removes the client table, and only it", func(t *testing.T) {
		cut(t, nemesis.ClientBoth, 0)
		if err := c.Cut(ctx, "n1", []string{"n2"}); err != nil {
			t.Fatal(err)
		}
		// The partition's heal leaves the clients cut.
		if err := c.HealNet(ctx, "n1"); err != nil {
			t.Fatal(err)
		}
		clientTimesOut(t, c, "n1")
		mustConnect(t, c, "n2", "n1")
		heal(t)
		heal(t) // idempotent
		clientConnects(t, c, "n1")
		if r := clientRules(t, c, "n1"); len(r) != 0 {
			t.Errorf("rules left after the heal: %v", r)
		}
		if _, err := c.ClientPacketsIn(ctx, "n1"); err == nil {
			t.Error("a packet counter without a client fault")
		}
	})
}

// TestClientNemesisOnDocker runs the client family on its schedule against
// real containers: every cut and heal verifies itself, and the final heal
// leaves every node reachable by the clients.
func TestClientNemesisOnDocker(t *testing.T) {
	c := netCluster(t, 3, "--fake-leader", "2")
	opts := nemesis.Options{Faults: []string{"client"}, Targets: []string{"one", "leader", "minority", "majority"}, Interval: time.Second, LossPercent: 40}
	s, err := nemesis.NewScheduler(opts, c, rand.New(rand.NewPCG(7, 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &effectChecker{t: t, c: c}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if err := s.Run(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.HealAll(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"client-cut", "client-heal"} {
		if !rec.saw("info " + f) {
			t.Errorf("no %s in %v", f, rec.ops)
		}
	}
	for _, n := range c.Nodes() {
		clientConnects(t, c, n)
		if r := clientRules(t, c, n); len(r) != 0 {
			t.Errorf("%s keeps client rules %v after HealAll", n, r)
		}
	}
}
