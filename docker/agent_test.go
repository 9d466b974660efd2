package docker

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"net/netip"

	"github.com/chronik-chaos/chronik/nemesis"
	"github.com/moby/moby/client"
)

// TestAgentFaultPath injects every kind of network fault through the fault
// agents (FaultPathAgent) and checks each twice: by its effect, with the
// probes the agents run, and by reading the rules from the host path,
// which proves the agent wrote them into the node's own namespace. A
// restarted node gets a new namespace, and its agent must follow it.
func TestAgentFaultPath(t *testing.T) {
	c := netClusterWith(t, ClusterConfig{Nodes: 3, FaultPath: FaultPathAgent})
	ctx := context.Background()
	hostRules := func(t *testing.T, node string, client bool) []string {
		t.Helper()
		op := NetOp{Op: OpRules}
		if client {
			op.Op = OpClientRules
		}
		res, err := c.hostOp(ctx, node, op)
		if err != nil {
			t.Fatalf("host view of %s: %v", node, err)
		}
		return res.Rules
	}

	t.Run("cut", func(t *testing.T) {
		if err := c.Cut(ctx, "n1", []string{"n2"}); err != nil {
			t.Fatal(err)
		}
		mustBlock(t, c, "n2", "n1")
		mustBlock(t, c, "n1", "n2")
		mustConnect(t, c, "n3", "n1")
		want := []string{"cut: drop 100% from " + c.Addr("n2").String()}
		if r := hostRules(t, "n1", false); !slices.Equal(r, want) {
			t.Errorf("host sees %v, want %v", r, want)
		}
		if r := rules(t, c, "n1"); !slices.Equal(r, want) {
			t.Errorf("agent sees %v, want %v", r, want)
		}
		if err := c.HealNet(ctx, "n1"); err != nil {
			t.Fatal(err)
		}
		mustConnect(t, c, "n2", "n1")
		if r := hostRules(t, "n1", false); len(r) != 0 {
			t.Errorf("rules after heal: %v", r)
		}
	})

	t.Run("loss", func(t *testing.T) {
		if err := c.Loss(ctx, "n2", []string{"n1"}, 50); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := c.HealNet(ctx, "n2"); err != nil {
				t.Error(err)
			}
		}()
		lossy, err := c.ProbeLoss(ctx, "n1", "n2", 200)
		if err != nil {
			t.Fatal(err)
		}
		clean, err := c.ProbeLoss(ctx, "n3", "n2", 200)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("delivery at 50%% loss through the agents: n1->n2 %.3f, n3->n2 %.3f", lossy, clean)
		if lossy < 0.3 || lossy > 0.7 || clean < 0.95 {
			t.Errorf("delivered %.3f on the lossy link, %.3f on the clean one", lossy, clean)
		}
	})

	t.Run("client", func(t *testing.T) {
		if err := c.CutClients(ctx, "n1", nemesis.ClientCut{Mode: nemesis.ClientResponses}); err != nil {
			t.Fatal(err)
		}
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
		clientConnects(t, c, "n2")
		mustConnect(t, c, "n2", "n1") // peers are not clients
		if r, want := hostRules(t, "n1", true), []string{"client_in: count", "client_out: drop 100%"}; !slices.Equal(r, want) {
			t.Errorf("host sees %v, want %v", r, want)
		}
		if err := c.CutClients(ctx, "n1", nemesis.ClientCut{}); err != nil {
			t.Fatal(err)
		}
		clientConnects(t, c, "n1")
	})

	t.Run("agent follows a restarted node", func(t *testing.T) {
		cid := c.AgentContainer("n1")
		if cid == "" {
			t.Fatal("n1 has no agent after the faults above")
		}
		if err := c.Restart(ctx, "n1"); err != nil {
			t.Fatal(err)
		}
		waitAdmin(t, c, "n1")
		if err := c.Cut(ctx, "n1", []string{"n3"}); err != nil {
			t.Fatal(err)
		}
		mustBlock(t, c, "n3", "n1")
		if r := hostRules(t, "n1", false); len(r) != 1 {
			t.Errorf("host sees %v in the restarted node's namespace, want the cut", r)
		}
		if got := c.AgentContainer("n1"); got != cid {
			t.Errorf("agent container changed from %s to %s: it should be restarted, not replaced", cid, got)
		}
		if err := c.HealNet(ctx, "n1"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a node that is down is an error, as on the host path", func(t *testing.T) {
		if err := c.Kill(ctx, "n3"); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitState(ctx, "n3", nemesis.Exited, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := c.Cut(ctx, "n3", []string{"n1"}); err == nil {
			t.Error("cut at a killed node succeeded")
		}
		if err := c.Start(ctx, "n3"); err != nil {
			t.Fatal(err)
		}
		waitAdmin(t, c, "n3")
	})

	t.Run("apply time per path", func(t *testing.T) {
		// Figures for the docs, not assertions: a warm agent's exec
		// against entering the namespace from here.
		const rounds = 10
		for _, path := range []string{FaultPathAgent, FaultPathHost} {
			start := time.Now()
			for range rounds {
				var err error
				if path == FaultPathAgent {
					_, err = c.agentOp(ctx, "n2", NetOp{Op: OpCut, Peers: []netip.Addr{c.Addr("n3")}})
				} else {
					_, err = c.hostOp(ctx, "n2", NetOp{Op: OpCut, Peers: []netip.Addr{c.Addr("n3")}})
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("cut apply via %s: %v per operation (mean of %d)", path, time.Since(start)/rounds, rounds)
		}
		if err := c.HealNet(ctx, "n2"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("close removes the agents", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := c.Close(cctx); err != nil {
			t.Fatal(err)
		}
		list, err := c.eng.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: runFilter(c.RunID())})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 0 {
			t.Errorf("%d labelled containers left after Close", len(list.Items))
		}
	})
}

// TestAgentResultErrors: a failure the agent reports keeps its kind, so a
// kernel without nf_tables fails as clearly through the agent as on the
// host path, and a probe's timeout stays a timeout.
func TestAgentResultErrors(t *testing.T) {
	cases := []struct {
		name      string
		res       NetResult
		wantErr   bool
		noNft     bool
		dialErr   bool
		dialTimes bool
	}{
		{"ok", NetResult{}, false, false, false, false},
		{"failed", NetResult{Error: "netlink: permission denied"}, true, false, false, false},
		{"no nftables", NetResult{Error: "protocol not supported", NoNftables: true}, true, true, false, false},
		{"probe refused", NetResult{DialError: "connection refused"}, false, false, true, false},
		{"probe timed out", NetResult{DialError: "i/o timeout", DialTimeout: true}, false, false, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := agentResultErr(tc.res)
			if (err != nil) != tc.wantErr || errors.Is(err, ErrNoNftables) != tc.noNft {
				t.Errorf("agentResultErr = %v, want error %v, ErrNoNftables %v", err, tc.wantErr, tc.noNft)
			}
			derr := tc.res.dialErr()
			if (derr != nil) != tc.dialErr || isDialTimeout(derr) != tc.dialTimes {
				t.Errorf("dialErr = %v, want error %v, timeout %v", derr, tc.dialErr, tc.dialTimes)
			}
		})
	}
}

// TestRunAgentOpRefusesBadInput: the agent answers garbage and unknown
// operations with an error in its JSON answer, never a crash.
func TestRunAgentOpRefusesBadInput(t *testing.T) {
	for _, raw := range []string{"", "{", `{"op":"explode"}`, `{"op":"loss","percent":101}`, `{"op":"client","mode":"sideways"}`} {
		if res := RunAgentOp(context.Background(), []byte(raw)); res.Error == "" {
			t.Errorf("RunAgentOp(%q) = %+v, want an error", raw, res)
		}
	}
}

func TestLocalEngine(t *testing.T) {
	for host, want := range map[string]bool{
		"unix:///var/run/docker.sock":       true,
		"unix:///run/user/1000/docker.sock": true,
		"tcp://10.0.0.5:2376":               false,
		"ssh://me@box":                      false,
		"npipe:////./pipe/docker_engine":    false,
	} {
		if got := LocalEngine(host); got != want {
			t.Errorf("LocalEngine(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestResolveFaultPath(t *testing.T) {
	cases := []struct{ req, host, want string }{
		{FaultPathHost, "tcp://10.0.0.5:2376", FaultPathHost},
		{FaultPathAgent, "unix:///var/run/docker.sock", FaultPathAgent},
		{FaultPathAuto, "tcp://10.0.0.5:2376", FaultPathAgent},
		{"", "ssh://me@box", FaultPathAgent},
		{"sideways", "unix:///var/run/docker.sock", ""},
	}
	if os.Geteuid() == 0 {
		cases = append(cases, struct{ req, host, want string }{FaultPathAuto, "unix:///var/run/docker.sock", FaultPathHost})
	} else {
		cases = append(cases, struct{ req, host, want string }{FaultPathAuto, "unix:///var/run/docker.sock", FaultPathAgent})
	}
	for _, tc := range cases {
		got, err := ResolveFaultPath(tc.req, tc.host)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("ResolveFaultPath(%q, %q) = %q, %v; want %q", tc.req, tc.host, got, err, tc.want)
		}
	}
}

// TestPublishedAccess reaches the nodes through ports published on
// 127.0.0.1, as clients of a rootless or Docker Desktop engine must: the
// command line advertises the published address, the admin API and the
// client probes go through the port proxy, and a client fault still cuts
// exactly the client traffic, which now reaches the node from wherever
// the engine's proxy connects from.
func TestPublishedAccess(t *testing.T) {
	c := netClusterWith(t, ClusterConfig{Nodes: 2, FaultPath: FaultPathAgent, ClientAccess: AccessPublished})
	ctx := context.Background()
	kafka := c.KafkaAddr("n1")
	if !strings.HasPrefix(kafka, "127.0.0.1:") {
		t.Fatalf("KafkaAddr(n1) = %s, want a published port on 127.0.0.1", kafka)
	}
	args := strings.Join(c.CommandLine("n1"), " ")
	if want := "--advertised-addr 127.0.0.1 --advertised-port " + strings.TrimPrefix(kafka, "127.0.0.1:"); !strings.Contains(args, want) {
		t.Errorf("command line %q lacks %q", args, want)
	}
	clientConnects(t, c, "n1")
	if err := c.CutClients(ctx, "n1", nemesis.ClientCut{Mode: nemesis.ClientBoth}); err != nil {
		t.Fatal(err)
	}
	clientTimesOut(t, c, "n1")
	clientConnects(t, c, "n2")
	mustConnect(t, c, "n2", "n1")
	waitAdmin(t, c, "n1") // the admin port is not a client port
	if err := c.CutClients(ctx, "n1", nemesis.ClientCut{}); err != nil {
		t.Fatal(err)
	}
	clientConnects(t, c, "n1")
}
