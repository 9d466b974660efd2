package nemesis

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// pauseFault freezes target nodes with the cgroup freezer (start) and thaws
// them (stop). The kernel keeps answering TCP handshakes for a frozen
// container, so the pause is proven at the application level: an admin
// request must time out.
type pauseFault struct {
	// paused holds the nodes this fault froze and has not thawed.
	paused map[string]bool
}

func newPauseFault() fault { return &pauseFault{paused: map[string]bool{}} }

func (*pauseFault) family() history.NemesisFamily { return history.NemesisPause }

func (p *pauseFault) active() bool { return len(p.paused) > 0 }

func (p *pauseFault) holds(node string) bool { return p.paused[node] }

func (p *pauseFault) start(ctx context.Context, s *Scheduler, rec Recorder) error {
	f := history.NemesisPause.Start
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
			p.paused[n] = true
			if err := s.c.Pause(ctx, n); err != nil {
				return nil, fmt.Errorf("pause %s: %w", n, err)
			}
		}
		states := Value{}
		verified := Value{"state": states, "admin": fmt.Sprintf("GET /healthz timed out after %v", pauseTimeout)}
		for _, n := range nodes {
			st, err := waitState(ctx, s.c, n, func(st NodeState) bool { return st == Paused })
			states[n] = string(st)
			if err != nil {
				return verified, err
			}
		}
		// Each proof waits out a timeout, so prove all nodes at once.
		return verified, inParallel(len(nodes), func(i int) error { return adminHangs(ctx, s.c, nodes[i]) })
	})
}

func (p *pauseFault) stop(ctx context.Context, s *Scheduler, rec Recorder) error {
	return p.resume(ctx, s, rec, slices.Sorted(maps.Keys(p.paused)), false)
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
	clear(p.paused)
	return nil
}

// resume thaws nodes and proves each answers its admin port again. Outside
// the final heal each resumed node then catches up with the faults in
// effect (see fault.reapply); the final heal leaves that to the heals after
// it.
func (p *pauseFault) resume(ctx context.Context, s *Scheduler, rec Recorder, nodes []string, final bool) error {
	v := Value{"nodes": nonNil(nodes)}
	if final {
		v["final"] = true
	}
	return action(ctx, rec, history.NemesisPause.Stop, v, func(ctx context.Context) (Value, error) {
		states, reapplied := Value{}, Value{}
		verified := Value{"state": states, "admin": "GET /healthz answered 200"}
		for _, n := range nodes {
			if err := s.c.Unpause(ctx, n); err != nil {
				return verified, fmt.Errorf("unpause %s: %w", n, err)
			}
			delete(p.paused, n)
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
