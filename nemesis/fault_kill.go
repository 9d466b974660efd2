package nemesis

import (
	"context"
	"fmt"
	"slices"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// killFault SIGKILLs target brokers (start) and starts them again (stop).
// Network faults die with a container's namespace and a broker forgets its
// runtime settings, so a restart has every fault re-apply itself.
type killFault struct{ nodeFault }

func newKillFault() fault {
	return &killFault{nodeFault{fam: history.NemesisKill, held: held{}}}
}

func (k *killFault) start(ctx context.Context, s *Scheduler, rec Recorder) error {
	down := func(st NodeState) bool { return st != Running && st != Paused }
	return k.take(ctx, s, rec, s.c.Kill, down, Value{}, nil)
}

func (k *killFault) stop(ctx context.Context, s *Scheduler, rec Recorder) error {
	return k.restart(ctx, s, rec, k.taken(), false)
}

// reapply: a killed node stays down until its restart.
func (*killFault) reapply(context.Context, *Scheduler, string, bool) (Value, error) { return nil, nil }

// heal starts every node that is not running or paused, whoever stopped it
// (a broker that exited on its own too), except the nodes that refused
// their store (they stay down, see Scheduler.Refused), so that the heals after it and the
// recovery wait see the whole cluster.
func (k *killFault) heal(ctx context.Context, s *Scheduler, rec Recorder) error {
	down := slices.DeleteFunc(s.nodesIn(ctx, func(st NodeState) bool { return !isLive(st) }), s.isRefused)
	if len(down) == 0 {
		clear(k.held)
		return nil
	}
	if err := k.restart(ctx, s, rec, down, true); err != nil {
		return err
	}
	clear(k.held)
	return nil
}

// restart is the stop of a family that takes nodes down (kill, and any
// whose stop starts the nodes again): it starts nodes, verifies they run,
// gives them back and, unless this is the final heal, has every fault
// re-apply itself, recording one action of the family's stop. The final
// heal re-applies nothing: no fault is to be in effect any more, so cuts,
// loss or delay would only come back to be removed.
func (nf *nodeFault) restart(ctx context.Context, s *Scheduler, rec Recorder, nodes []string, final bool) error {
	return nf.stopAction(ctx, rec, nodes, final, func(ctx context.Context) (Value, error) {
		verified := Value{}
		return verified, nf.startNodes(ctx, s, nodes, final, verified)
	})
}

// startNodes starts nodes, verifies they run, gives them back and, unless
// final, has every fault re-apply itself to them; what it verified goes
// into verified ("state", "reapplied").
func (nf *nodeFault) startNodes(ctx context.Context, s *Scheduler, nodes []string, final bool, verified Value) error {
	states, reapplied := Value{}, Value{}
	verified["state"] = states
	for _, n := range nodes {
		s.pending[n] = true
	}
	defer clear(s.pending)
	for _, n := range nodes {
		if err := s.c.Start(ctx, n); err != nil {
			return fmt.Errorf("start %s: %w", n, err)
		}
		st, err := waitState(ctx, s.c, n, func(st NodeState) bool { return st == Running })
		states[n] = string(st)
		if err != nil {
			return err
		}
		delete(nf.held, n)
	}
	if final {
		return nil
	}
	for _, n := range nodes {
		r, err := s.reapply(ctx, n, true)
		delete(s.pending, n)
		if len(r) > 0 {
			reapplied[n] = r
			verified["reapplied"] = reapplied
		}
		if err != nil {
			return err
		}
	}
	// A node restarted together with all its uncut peers could not be
	// measured against a peer with its faults; now they all have them.
	return s.proveDeferred(ctx, verified)
}
