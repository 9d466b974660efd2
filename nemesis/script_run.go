package nemesis

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// RunScript carries out sc instead of the seeded timetable: each action at
// base + At (base is the history's time zero, so offsets are the recorded
// ones), on the action's nodes and, for a partition, with its cuts,
// instead of drawing targets. A node of the action that is not available
// when it runs (down, held by another family) is left out, as a drawn
// target would have been; a start left with no node is recorded as
// skipped. Other random choices of a family (a crash point, a corruption,
// a membership change, a client fault's mode) are still drawn from the
// seeded generator. An action due while another runs waits for it, and
// starts as soon as it can. Returns as Run does: nil when ctx ends, the
// error of a fault that failed or could not be verified.
func (s *Scheduler) RunScript(ctx context.Context, rec Recorder, sc Schedule, base time.Time) error {
	rec = orNop(rec)
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("nemesis script: %w", err)
	}
	for _, a := range sc.Actions {
		if !s.configured(a.Family) {
			return fmt.Errorf("nemesis script: %s is not among the configured families %v", a.Family, s.opts.Faults)
		}
	}
	for _, a := range sc.Actions {
		if !sleep(ctx, time.Until(base.Add(a.At))) {
			break
		}
		if err := s.doScripted(ctx, a, rec); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// doScripted carries out one scripted action. A stop of a fault that is
// not in effect (its start found no node) does nothing, nor does a start of
// one already in effect.
func (s *Scheduler) doScripted(ctx context.Context, a Action, rec Recorder) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ActionTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fault(a.Family)
	if a.Stop {
		if !f.active() {
			s.log.Info("nemesis script: stop of a fault not in effect", "fault", a.Family, "at", a.At)
			return nil
		}
		s.log.Info("nemesis script stops fault", "fault", a.Family, "at", a.At)
		return f.stop(actx, s, rec)
	}
	if f.active() && !f.family().Instant() {
		s.log.Info("nemesis script: start of a fault already in effect", "fault", a.Family, "at", a.At)
		return nil
	}
	s.log.Info("nemesis script starts fault", "fault", a.Family, "at", a.At, "nodes", a.Nodes)
	s.pin = &a
	defer func() { s.pin = nil }()
	return f.start(actx, s, rec)
}

// pinnedNodes returns the nodes the scripted action in progress names,
// those of avail only, and whether an action pins nodes at all.
func (s *Scheduler) pinnedNodes(avail []string) ([]string, bool) {
	if s.pin == nil || s.pin.Nodes == nil {
		return nil, false
	}
	var out []string
	for _, n := range s.pin.Nodes {
		if slices.Contains(avail, n) {
			out = append(out, n)
		}
	}
	return out, true
}

// pinnedValue is what a scripted start records of its pin.
func (s *Scheduler) pinnedValue(v Value) {
	v["scripted"] = Value{"nodes": nonNil(s.pin.Nodes), "at": s.pin.At.String()}
	if s.pin.Target != "" {
		v["target"] = s.pin.Target
	}
}

// pinnedGrudge returns the scripted partition's cuts, restricted to the
// cluster's nodes; nil when no scripted action pins them.
func (s *Scheduler) pinnedGrudge() Grudge {
	if s.pin == nil || len(s.pin.Cuts) == 0 {
		return nil
	}
	all := s.c.Nodes()
	g := Grudge{}
	for n, drops := range s.pin.Cuts {
		if !slices.Contains(all, n) {
			continue
		}
		for _, d := range drops {
			if slices.Contains(all, d) {
				g[n] = append(g[n], d)
			}
		}
	}
	if len(g) == 0 {
		return nil
	}
	return g
}
