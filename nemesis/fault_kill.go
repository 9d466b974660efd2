package nemesis

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// killFault SIGKILLs target brokers (start) and starts them again (stop).
// Network faults die with a container's namespace, so a restart re-applies
// whatever partition, loss or delay is in effect.
type killFault struct{}

func (killFault) Name() string { return FamilyKill }

func (killFault) active(s *Scheduler) bool { return len(s.killed) > 0 }

func (killFault) start(ctx context.Context, s *Scheduler, rec Recorder) error {
	nodes, v, err := s.resolveTargets(ctx)
	if err != nil {
		return err
	}
	if len(nodes) == 0 {
		skipped(rec, "kill", v, "no running node that is not already killed or paused")
		return nil
	}
	return action(ctx, rec, "kill", v, func(ctx context.Context) (Value, error) {
		for _, n := range nodes {
			// Mark before killing: if the kill half-works, the final heal
			// still restarts the node.
			s.killed[n] = true
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

func (killFault) stop(ctx context.Context, s *Scheduler, rec Recorder) error {
	nodes := slices.Sorted(maps.Keys(s.killed))
	return s.restart(ctx, rec, nodes, false)
}

// restart starts nodes, verifies they run and re-applies active network
// faults and delay, recording one "restart" action.
func (s *Scheduler) restart(ctx context.Context, rec Recorder, nodes []string, final bool) error {
	v := Value{"nodes": nonNil(nodes)}
	if final {
		v["final"] = true
	}
	return action(ctx, rec, "restart", v, func(ctx context.Context) (Value, error) {
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
			delete(s.killed, n)
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
		// measured against a peer with rules; now they all have theirs.
		return verified, s.proveDeferredLoss(ctx, verified)
	})
}
