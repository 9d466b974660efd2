package nemesis

import (
	"context"
	"fmt"
	"slices"
)

// HealAll is the final generator: it resumes paused nodes, starts every
// node that is not running (whoever stopped it), removes partitions and
// loss, and switches delay off, verifying each step and recording it as a
// nemesis action. Network healing and delay are only touched when their
// families are in Options.Faults (so a run without network faults never
// needs nftables). It stops at the first step that fails.
func (s *Scheduler) HealAll(ctx context.Context, rec Recorder) error {
	rec = orNop(rec)
	s.mu.Lock()
	defer s.mu.Unlock()
	step := func(do func(ctx context.Context) error) error {
		actx, cancel := context.WithTimeout(ctx, s.opts.ActionTimeout)
		defer cancel()
		return do(actx)
	}
	// Nothing is to be in effect any more: restarted and resumed nodes
	// must not get cuts, loss or delay back only to have them removed.
	s.grudge, s.lossPct, s.delayMS = nil, 0, 0
	clear(s.lossUnproven)
	states := s.states(ctx)
	var paused, down []string
	for _, n := range s.c.Nodes() {
		switch states[n] {
		case Running:
		case Paused:
			paused = append(paused, n)
		default:
			down = append(down, n)
		}
	}
	if len(paused) > 0 {
		if err := step(func(ctx context.Context) error { return s.resume(ctx, rec, paused, true) }); err != nil {
			return fmt.Errorf("final heal: %w", err)
		}
	}
	clear(s.paused)
	if len(down) > 0 {
		if err := step(func(ctx context.Context) error { return s.restart(ctx, rec, down, true) }); err != nil {
			return fmt.Errorf("final heal: %w", err)
		}
	}
	clear(s.killed)
	all := s.c.Nodes()
	healNet := func(ctx context.Context) error {
		for _, n := range all {
			if err := s.c.HealNet(ctx, n); err != nil {
				return fmt.Errorf("heal network at %s: %w", n, err)
			}
		}
		return nil
	}
	if slices.Contains(s.opts.Faults, FamilyPartition) {
		err := step(func(ctx context.Context) error {
			return action(ctx, rec, "heal", Value{"nodes": all, "final": true}, func(ctx context.Context) (Value, error) {
				s.grudge = nil
				if err := healNet(ctx); err != nil {
					return nil, err
				}
				return probeMatrix(ctx, s.c, all, nil, s.opts.ProbeTimeout)
			})
		})
		if err != nil {
			return fmt.Errorf("final heal: %w", err)
		}
	}
	if slices.Contains(s.opts.Faults, FamilyLoss) {
		err := step(func(ctx context.Context) error {
			return action(ctx, rec, "loss-stop", Value{"nodes": all, "final": true}, func(ctx context.Context) (Value, error) {
				s.lossPct = 0
				clear(s.lossUnproven)
				s.grudge = nil
				if err := healNet(ctx); err != nil {
					return nil, err
				}
				a, b, ok := s.uncutPair(ctx, nil)
				if !ok {
					return nil, unverified("no live pair to measure delivery on")
				}
				return measureHealed(ctx, s, a, b)
			})
		})
		if err != nil {
			return fmt.Errorf("final heal: %w", err)
		}
	}
	if slices.Contains(s.opts.Faults, FamilyDelay) {
		err := step(func(ctx context.Context) error {
			v := Value{"nodes": all, "final": true, "mechanism": DelayMechanism}
			return action(ctx, rec, "delay-stop", v, func(ctx context.Context) (Value, error) {
				s.delayMS = 0
				return s.setDelay(ctx, all, 0)
			})
		})
		if err != nil {
			return fmt.Errorf("final heal: %w", err)
		}
	}
	return nil
}
