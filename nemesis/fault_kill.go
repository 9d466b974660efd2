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
	// held holds the nodes this fault killed and has not restarted.
	held
}

func newKillFault() fault { return &killFault{held: held{}} }

func (*killFault) family() history.NemesisFamily { return history.NemesisKill }

func (k *killFault) start(ctx context.Context, s *Scheduler, rec Recorder) error {
	down := func(st NodeState) bool { return st != Running && st != Paused }
	return takeTargets(ctx, s, rec, history.NemesisKill.Start, k.held, s.c.Kill, down, Value{}, nil)
}

func (k *killFault) stop(ctx context.Context, s *Scheduler, rec Recorder) error {
	return restart(ctx, s, rec, history.NemesisKill.Stop, k.held, slices.Sorted(maps.Keys(k.held)), false)
}

// reapply: a killed node stays down until its restart.
func (*killFault) reapply(context.Context, *Scheduler, string, bool) (Value, error) { return nil, nil }

// heal starts every node that is not running or paused, whoever stopped it
// (a broker that exited on its own too), so that the heals after it and the
// recovery wait see the whole cluster.
func (k *killFault) heal(ctx context.Context, s *Scheduler, rec Recorder) error {
	down := s.nodesIn(ctx, func(st NodeState) bool { return !isLive(st) })
	if len(down) == 0 {
		clear(k.held)
		return nil
	}
	if err := restart(ctx, s, rec, history.NemesisKill.Stop, k.held, down, true); err != nil {
		return err
	}
	clear(k.held)
	return nil
}

// restart starts nodes, verifies they run, gives them back from h and,
// unless this is the final heal, has every fault re-apply itself,
// recording one action f. The final heal re-applies nothing: no fault is to
// be in effect any more, so cuts, loss or delay would only come back to be
// removed. Any family whose stop starts the nodes it took down uses it.
func restart(ctx context.Context, s *Scheduler, rec Recorder, f string, h held, nodes []string, final bool) error {
	v := Value{"nodes": nonNil(nodes)}
	if final {
		v["final"] = true
	}
	return action(ctx, rec, f, v, func(ctx context.Context) (Value, error) {
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
			delete(h, n)
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
