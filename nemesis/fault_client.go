package nemesis

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// clientFault cuts the harness's clients from target nodes (start) and
// lets them through again (stop), with nftables rules in the targets'
// namespaces that match only the clients' Kafka traffic (Cluster.CutClients).
// Each start draws a mode (ClientModes): both ways, responses only
// (requests arrive and are applied, the answers are lost, so producers
// retry what the broker already has), or random loss. This is how Jepsen
// found Redpanda's duplicates: faults between brokers alone never make a
// producer retry an applied batch.
//
// Each mode is proven from the clients' side: a connect from the host to
// a target's Kafka port works before; afterwards it times out (both), or
// times out while the target's counting rule shows the SYN arrived
// (responses), or succeeds at a measured lower rate (loss). Stop proves
// the connect works again.
type clientFault struct {
	cut ClientCut
	// nodes are the targets with the cut in effect.
	nodes map[string]bool
}

func newClientFault() fault { return &clientFault{nodes: map[string]bool{}} }

func (*clientFault) family() history.NemesisFamily { return history.NemesisClient }

func (cf *clientFault) active() bool { return len(cf.nodes) > 0 }

// clientSettle bounds the wait for a node's Kafka listener to accept the
// clients' connects (a node restarted a moment ago). A variable so tests
// can shorten it.
var clientSettle = 20 * time.Second

// clientTargets are the target specs a client fault draws from: the
// configured ones but all (clients cut from every node prove nothing a
// smaller cut does not, and stall the run).
func clientTargets(specs []string) []string {
	out := slices.DeleteFunc(slices.Clone(specs), func(t string) bool { return t == TargetAll })
	if len(out) == 0 {
		return []string{TargetOne}
	}
	return out
}

func (cf *clientFault) start(ctx context.Context, s *Scheduler, rec Recorder) error {
	f := history.NemesisClient.Start
	spec := pickOne(s.pick, clientTargets(s.opts.Targets))
	mode := pickOne(s.pick, s.opts.ClientModes)
	v := Value{"target": spec, "mode": mode, "mechanism": "nftables drop of the clients' kafka traffic at the node"}
	leader := ""
	if spec == TargetLeader {
		leader = s.aimAtLeader(ctx, v)
	}
	nodes, fellBack := SelectTargets(spec, len(s.c.Nodes()), s.available(ctx), leader, s.pick)
	pinned, isPinned := s.pinnedNodes(s.available(ctx))
	if isPinned {
		nodes, fellBack = pinned, false
		s.pinnedValue(v)
	}
	if spec == TargetLeader && !isPinned {
		if fellBack {
			v["leader"] = "unknown or unavailable; one random node instead"
		} else {
			v["leader"] = leader
		}
	}
	v["nodes"] = nonNil(nodes)
	cut := ClientCut{Mode: mode}
	if mode == ClientLoss {
		// Above 90% a lossy link cannot be told from a cut one.
		cut.Percent = min(s.opts.LossPercent, 90)
		v["percent"] = cut.Percent
	}
	if len(nodes) == 0 {
		skipped(rec, f, v, "no running node that is not already killed or paused")
		return nil
	}
	return action(ctx, rec, f, v, func(ctx context.Context) (Value, error) {
		verified := Value{}
		for _, n := range nodes {
			// The control: clients reach the node before the cut, or a
			// dead listener would pass for a cut.
			if err := clientConnects(ctx, s, n); err != nil {
				return verified, unverified("control connect clients -> %s before the cut: %v", n, err)
			}
		}
		cf.cut = cut
		for _, n := range nodes {
			cf.nodes[n] = true
			if err := s.c.CutClients(ctx, n, cut); err != nil {
				return verified, fmt.Errorf("cut clients from %s: %w", n, err)
			}
		}
		// Each proof writes its own slot: verified is one map shared by
		// the proofs running at once.
		proofs := make([]Value, len(nodes))
		err := inParallel(len(nodes), func(i int) error {
			var err error
			proofs[i], err = cf.prove(ctx, s, nodes[i])
			return err
		})
		for i, n := range nodes {
			verified[n] = proofs[i]
		}
		return verified, err
	})
}

// prove shows that node's client fault is in effect, as its mode says.
func (cf *clientFault) prove(ctx context.Context, s *Scheduler, node string) (Value, error) {
	switch cf.cut.Mode {
	case ClientLoss:
		th, n := lossProof(cf.cut.Percent, s.opts.LossProbes)
		rate, err := s.c.ProbeClientLoss(ctx, node, n)
		v := Value{"probe": fmt.Sprintf("%d short tcp connects clients -> %s:kafka", n, node),
			"delivered": float64(int(rate*1000)) / 1000, "want": fmt.Sprintf("delivered <= %.3f", th)}
		if err != nil {
			return v, err
		}
		if rate > th {
			return v, unverified("client delivery rate to %s is %.3f, want <= %.3f", node, rate, th)
		}
		return v, nil
	case ClientResponses:
		before, err := s.c.ClientPacketsIn(ctx, node)
		if err != nil {
			return nil, unverified("responses-only cut at %s: %v", node, err)
		}
		if err := clientBlocked(ctx, s, node); err != nil {
			return nil, err
		}
		after, err := s.c.ClientPacketsIn(ctx, node)
		if err != nil {
			return nil, unverified("responses-only cut at %s: %v", node, err)
		}
		v := Value{"probe": "tcp connect clients -> " + node + ":kafka timed out", "requests_arrived": after - before}
		if after <= before {
			return v, unverified("responses-only cut at %s: the probe's packets did not arrive either", node)
		}
		return v, nil
	default:
		if err := clientBlocked(ctx, s, node); err != nil {
			return nil, err
		}
		// The node itself is up: only the clients are cut.
		if err := adminAnswers(ctx, s.c, node); err != nil {
			return nil, err
		}
		return Value{"probe": "tcp connect clients -> " + node + ":kafka timed out", "admin": "GET /healthz answered 200"}, nil
	}
}

// clientBlocked requires a connect from the clients to node to time out: a
// refusal would mean packets got through.
func clientBlocked(ctx context.Context, s *Scheduler, node string) error {
	err := s.c.ProbeClient(ctx, node, s.opts.ProbeTimeout)
	if err == nil {
		return unverified("clients -> %s connected through the cut", node)
	}
	if !isTimeout(err) {
		return unverified("clients -> %s failed without timing out: %v", node, err)
	}
	return nil
}

// clientConnects waits, bounded by clientSettle, until a connect from the
// clients to node's Kafka port succeeds: a broker restarted a moment ago
// refuses until it listens.
func clientConnects(ctx context.Context, s *Scheduler, node string) error {
	ctx, cancel := context.WithTimeout(ctx, clientSettle)
	defer cancel()
	var err error
	for {
		if err = s.c.ProbeClient(ctx, node, s.opts.ProbeTimeout); err == nil {
			return nil
		}
		if !sleep(ctx, 3*pollEvery) {
			return err
		}
	}
}

func (cf *clientFault) stop(ctx context.Context, s *Scheduler, rec Recorder) error {
	nodes := slices.Sorted(maps.Keys(cf.nodes))
	return action(ctx, rec, history.NemesisClient.Stop, Value{"nodes": nonNil(nodes), "mode": cf.cut.Mode}, func(ctx context.Context) (Value, error) {
		v, err := cf.lift(ctx, s, nodes)
		clear(cf.nodes)
		cf.cut = ClientCut{}
		return v, err
	})
}

// lift removes the client fault from the nodes that are still live (a
// stopped container's rules died with it) and proves the running ones
// accept the clients again.
func (cf *clientFault) lift(ctx context.Context, s *Scheduler, nodes []string) (Value, error) {
	live := s.live(ctx)
	running := s.answering(ctx)
	v := Value{}
	for _, n := range nodes {
		if !slices.Contains(live, n) {
			v[n] = "not running: its rules died with its container"
			continue
		}
		if err := s.c.CutClients(ctx, n, ClientCut{}); err != nil {
			return v, fmt.Errorf("lift client cut at %s: %w", n, err)
		}
		if !slices.Contains(running, n) {
			v[n] = "removed; paused, so its listener cannot answer yet"
			continue
		}
		if err := clientConnects(ctx, s, n); err != nil {
			return v, unverified("clients -> %s after the heal: %v", n, err)
		}
		// One connect gets through a lossy link too: the heal is proven
		// by the delivery rate, measured twice before it counts as
		// unproven (a loaded machine misses probe deadlines).
		rate, err := s.c.ProbeClientLoss(ctx, n, s.opts.LossProbes)
		if err == nil && rate < healedRate {
			rate, err = s.c.ProbeClientLoss(ctx, n, s.opts.LossProbes)
		}
		v[n] = Value{"probe": fmt.Sprintf("%d short tcp connects clients -> %s:kafka", s.opts.LossProbes, n),
			"delivered": float64(int(rate*1000)) / 1000, "want": fmt.Sprintf("delivered >= %.2f", healedRate)}
		if err != nil {
			return v, err
		}
		if rate < healedRate {
			return v, unverified("clients -> %s deliver %.3f after the heal, want >= %.2f", n, rate, healedRate)
		}
	}
	return v, nil
}

// reapply re-installs the cut on a target that restarted (its namespace is
// new) and proves it; a resumed node kept its rules.
func (cf *clientFault) reapply(ctx context.Context, s *Scheduler, node string, fresh bool) (Value, error) {
	if !fresh || !cf.nodes[node] {
		return nil, nil
	}
	if err := clientConnects(ctx, s, node); err != nil {
		return nil, unverified("control connect clients -> %s after restart: %v", node, err)
	}
	if err := s.c.CutClients(ctx, node, cf.cut); err != nil {
		return nil, fmt.Errorf("re-apply client cut at %s: %w", node, err)
	}
	pv, err := cf.prove(ctx, s, node)
	return Value{"client": Value{"mode": cf.cut.Mode, "verified": pv}}, err
}

// heal removes client faults from every live node, whoever installed them,
// and proves every running node accepts the clients. It touches nftables
// only when the family is configured.
func (cf *clientFault) heal(ctx context.Context, s *Scheduler, rec Recorder) error {
	clear(cf.nodes)
	cf.cut = ClientCut{}
	if !s.configured(history.NemesisClient.Name) {
		return nil
	}
	all := s.c.Nodes()
	return action(ctx, rec, history.NemesisClient.Stop, Value{"nodes": all, "final": true}, func(ctx context.Context) (Value, error) {
		return cf.lift(ctx, s, all)
	})
}
