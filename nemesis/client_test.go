package nemesis

import (
	"context"
	"errors"
	"testing"
)

// TestClientFaultModes: each mode is installed on its target, proven from
// the clients' side, recorded, and lifted by stop; a cut that does not take
// effect is unverified, never passed.
func TestClientFaultModes(t *testing.T) {
	tests := []struct {
		mode   string
		ignore bool
	}{
		{ClientBoth, false}, {ClientResponses, false}, {ClientLoss, false},
		{ClientBoth, true}, {ClientResponses, true}, {ClientLoss, true},
	}
	for _, tt := range tests {
		name := tt.mode
		if tt.ignore {
			name += " not taking effect"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := newFake(3, Running)
			c.leader = "n2"
			c.ignoreClient = tt.ignore
			s := newSched(t, c, 1, Options{Faults: []string{"client"}, Targets: []string{"leader"}, ClientModes: []string{tt.mode}})
			rec := &recorder{}
			err := s.fault("client").start(ctx, s, rec)
			if tt.ignore {
				if !errors.Is(err, ErrUnverified) {
					t.Fatalf("start = %v, want ErrUnverified", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.client["n2"].Mode; got != tt.mode {
				t.Fatalf("n2 client cut %q, want %q", got, tt.mode)
			}
			if len(c.client) != 1 {
				t.Fatalf("cut more than the target: %v", c.client)
			}
			info := rec.infos()[0]
			if info.F != "client-cut" || info.Value["mode"] != tt.mode || info.Value["verified"] == nil {
				t.Fatalf("recorded %v", info)
			}
			if err := s.fault("client").stop(ctx, s, rec); err != nil {
				t.Fatal(err)
			}
			if len(c.client) != 0 || s.fault("client").active() {
				t.Fatalf("still cut after stop: %v", c.client)
			}
		})
	}
}

// TestClientFaultReappliedAfterRestart: a target killed and restarted
// while its clients are cut gets the cut back in its new namespace.
func TestClientFaultReappliedAfterRestart(t *testing.T) {
	ctx := context.Background()
	c := newFake(3, Running)
	c.leader = "n1"
	s := newSched(t, c, 1, Options{Faults: []string{"client", "kill"}, Targets: []string{"leader"}, ClientModes: []string{ClientBoth}})
	rec := &recorder{}
	for _, f := range []string{"client", "kill"} {
		if err := s.fault(f).start(ctx, s, rec); err != nil {
			t.Fatal(err)
		}
	}
	delete(c.client, "n1") // the rules died with the container
	if err := s.fault("kill").stop(ctx, s, rec); err != nil {
		t.Fatal(err)
	}
	if c.client["n1"].Mode != ClientBoth {
		t.Fatalf("n1 restarted without its client cut: %v", c.client)
	}
}

// TestClientFaultOnSeveralNodes: a cut of a majority is proven on its
// nodes at once and each proof lands under its node (the proofs run in
// parallel; `go test -race` sees a shared write).
func TestClientFaultOnSeveralNodes(t *testing.T) {
	for _, mode := range []string{ClientBoth, ClientResponses, ClientLoss} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			c := newFake(3, Running)
			s := newSched(t, c, 1, Options{Faults: []string{"client"}, Targets: []string{"majority"}, ClientModes: []string{mode}})
			rec := &recorder{}
			if err := s.fault("client").start(ctx, s, rec); err != nil {
				t.Fatal(err)
			}
			info := rec.infos()[0].Value
			verified, _ := info["verified"].(map[string]any)
			nodes, _ := info["nodes"].([]any)
			if len(nodes) != 2 {
				t.Fatalf("cut %v, want a majority of 3", nodes)
			}
			for _, n := range nodes {
				if verified[n.(string)] == nil {
					t.Fatalf("no proof for %s: %v", n, verified)
				}
			}
		})
	}
}
