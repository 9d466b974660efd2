package nemesis

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// killFault SIGKILLs target brokers (start) and starts them again (stop).
// Network faults die with a container's namespace and a broker forgets its
// runtime settings, so a restart has every fault re-apply itself.
type killFault struct {
	// killed holds the nodes this fault killed and has not restarted.
	killed map[string]bool
}

func newKillFault() fault { return &killFault{killed: map[string]bool{}} }

func (*killFault) family() history.NemesisFamily { return history.NemesisKill }

func (k *killFault) active() bool { return len(k.killed) > 0 }

func (k *killFault) holds(node string) bool { return k.killed[node] }

func (k *killFault) start(ctx context.Context, s *Scheduler, rec Recorder) error {
	f := history.NemesisKill.Start
	nodes, v, err := s.resolveTargets(ctx)
	if err != nil {
		return err
	}
	if len(nodes) == 0 {
		skipped(rec, f, v, "no running node that is not already killed or paused")
		return nil
	}
	return action(ctx, rec, f, v, func(ctx context.Context) (Value, error) {
		for _, n := range nodes {
			// Mark before killing: if the kill half-works, the final heal
			// still restarts the node.
			k.killed[n] = true
			if err := s.c.Kill(ctx, n); err != nil {
				return nil, fmt.Errorf("kill %s: %w", n, err)
			}
		}
		states := Value{}
		for _, n := range nodes {
			st, err := waitState(ctx, s.c, n, func(st NodeState) bool { return st != Running && st != Paused })
			states[n] = string(st)
			if err != nil {
				return Value{"state": states}, err
			}
		}
		return Value{"state": states}, nil
	})
}

func (k *killFault) stop(ctx context.Context, s *Scheduler, rec Recorder) error {
	return k.restart(ctx, s, rec, slices.Sorted(maps.Keys(k.killed)), false)
}

// reapply: a killed node stays down until its restart.
func (*killFault) reapply(context.Context, *Scheduler, string, bool) (Value, error) { return nil, nil }

// heal starts every node that is not running or paused, whoever stopped it
// (a broker that exited on its own too), so that the heals after it and the
// recovery wait see the whole cluster.
func (k *killFault) heal(ctx context.Context, s *Scheduler, rec Recorder) error {
	down := s.nodesIn(ctx, func(st NodeState) bool { return !isLive(st) })
	if len(down) == 0 {
		clear(k.killed)
		return nil
	}
	if err := k.restart(ctx, s, rec, down, true); err != nil {
		return err
	}
	clear(k.killed)
	return nil
}

// restart starts nodes, verifies they run and, unless this is the final
// heal, has every fault re-apply itself, recording one restart action. The
// final heal re-applies nothing: no fault is to be in effect any more, so
// cuts, loss or delay would only come back to be removed.
func (k *killFault) restart(ctx context.Context, s *Scheduler, rec Recorder, nodes []string, final bool) error {
	v := Value{"nodes": nonNil(nodes)}
	if final {
		v["final"] = true
	}
	return action(ctx, rec, history.NemesisKill.Stop, v, func(ctx context.Context) (Value, error) {
		states, reapplied := Value{}, Value{}
		verified := Value{"state": states}
		for _, n := range nodes {
			s.pending[n] = true
		}
		defer clear(s.pending)
		for _, n := range nodes {
			if err := s.c.Start(ctx, n); err != nil {
				return verified, fmt.Errorf("start %s: %w", n, err)
			}
			st, err := waitState(ctx, s.c, n, func(st NodeState) bool { return st == Running })
			states[n] = string(st)
			if err != nil {
				return verified, err
			}
			delete(k.killed, n)
		}
		if final {
			return verified, nil
		}
		for _, n := range nodes {
			r, err := s.reapply(ctx, n, true)
			delete(s.pending, n)
			if len(r) > 0 {
				reapplied[n] = r
				verified["reapplied"] = reapplied
			}
			if err != nil {
				return verified, err
			}
		}
		// A node restarted together with all its uncut peers could not be
		// measured against a peer with its faults; now they all have them.
		return verified, s.proveDeferred(ctx, verified)
	})
}
