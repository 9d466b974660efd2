package nemesis

import (
	"context"
	"fmt"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// pauseFault freezes target nodes with the cgroup freezer (start) and thaws
// them (stop). The kernel keeps answering TCP handshakes for a frozen
// container, so the pause is proven at the application level: an admin
// request must time out.
type pauseFault struct{ nodeFault }

func newPauseFault() fault {
	return &pauseFault{nodeFault{fam: history.NemesisPause, held: held{}}}
}

func (p *pauseFault) start(ctx context.Context, s *Scheduler, rec Recorder) error {
	frozen := func(st NodeState) bool { return st == Paused }
	verified := Value{"admin": fmt.Sprintf("GET /healthz timed out after %v", pauseTimeout)}
	// Each proof waits out a timeout, so prove all nodes at once.
	hangs := func(ctx context.Context, nodes []string) error {
		return inParallel(len(nodes), func(i int) error { return adminHangs(ctx, s.c, nodes[i]) })
	}
	return p.take(ctx, s, rec, s.c.Pause, frozen, verified, hangs)
}

func (p *pauseFault) stop(ctx context.Context, s *Scheduler, rec Recorder) error {
	return p.resume(ctx, s, rec, p.taken(), false)
}

// reapply: a frozen node stays frozen until its resume; a restarted one is
// no longer frozen, and resolveTargets sees it running again.
func (*pauseFault) reapply(context.Context, *Scheduler, string, bool) (Value, error) { return nil, nil }

// heal thaws every paused node, whoever froze it.
func (p *pauseFault) heal(ctx context.Context, s *Scheduler, rec Recorder) error {
	frozen := s.nodesIn(ctx, func(st NodeState) bool { return st == Paused })
	if len(frozen) > 0 {
		if err := p.resume(ctx, s, rec, frozen, true); err != nil {
			return err
		}
	}
	clear(p.held)
	return nil
}

// resume thaws nodes and proves each answers its admin port again. Outside
// the final heal each resumed node then catches up with the faults in
// effect (see fault.reapply); the final heal leaves that to the heals after
// it.
func (p *pauseFault) resume(ctx context.Context, s *Scheduler, rec Recorder, nodes []string, final bool) error {
	return p.stopAction(ctx, rec, nodes, final, func(ctx context.Context) (Value, error) {
		states, reapplied := Value{}, Value{}
		verified := Value{"state": states, "admin": "GET /healthz answered 200"}
		for _, n := range nodes {
			if err := s.c.Unpause(ctx, n); err != nil {
				return verified, fmt.Errorf("unpause %s: %w", n, err)
			}
			delete(p.held, n)
		}
		for _, n := range nodes {
			st, err := waitState(ctx, s.c, n, func(st NodeState) bool { return st == Running })
			states[n] = string(st)
			if err != nil {
				return verified, err
			}
			if err := adminAnswers(ctx, s.c, n); err != nil {
				return verified, err
			}
			if final {
				continue
			}
			r, err := s.reapply(ctx, n, false)
			if len(r) > 0 {
				reapplied[n] = r
				verified["reapplied"] = reapplied
			}
			if err != nil {
				return verified, err
			}
		}
		return verified, nil
	})
}
