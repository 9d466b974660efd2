package nemesis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// pauseFault freezes target nodes with the cgroup freezer (start) and thaws
// them (stop). The kernel keeps answering TCP handshakes for a frozen
// container, so the pause is proven at the application level: an admin
// request must time out.
type pauseFault struct{}

func (pauseFault) Name() string { return FamilyPause }

func (pauseFault) active(s *Scheduler) bool { return len(s.paused) > 0 }

func (pauseFault) start(ctx context.Context, s *Scheduler, rec Recorder) error {
	nodes, v, err := s.resolveTargets(ctx)
	if err != nil {
		return err
	}
	if len(nodes) == 0 {
		skipped(rec, "pause", v, "no running node that is not already killed or paused")
		return nil
	}
	return action(ctx, rec, "pause", v, func(ctx context.Context) (Value, error) {
		for _, n := range nodes {
			s.paused[n] = true
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
		errs := make([]error, len(nodes))
		var wg sync.WaitGroup
		for i, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = adminHangs(ctx, s.c, n)
			}()
		}
		wg.Wait()
		return verified, errors.Join(errs...)
	})
}

func (pauseFault) stop(ctx context.Context, s *Scheduler, rec Recorder) error {
	return s.resume(ctx, rec, slices.Sorted(maps.Keys(s.paused)), false)
}

// resume thaws nodes and proves each answers its admin port again.
func (s *Scheduler) resume(ctx context.Context, rec Recorder, nodes []string, final bool) error {
	v := Value{"nodes": nonNil(nodes)}
	if final {
		v["final"] = true
	}
	return action(ctx, rec, "resume", v, func(ctx context.Context) (Value, error) {
		states, reapplied := Value{}, Value{}
		verified := Value{"state": states, "admin": "GET /healthz answered 200"}
		for _, n := range nodes {
			if err := s.c.Unpause(ctx, n); err != nil {
				return verified, fmt.Errorf("unpause %s: %w", n, err)
			}
			delete(s.paused, n)
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
			// The namespace survived the pause, so only the delay (which a
			// frozen broker could not be told about) may need catching up.
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
