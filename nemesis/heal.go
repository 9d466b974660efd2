package nemesis

import (
	"context"
	"fmt"
)

// HealAll is the final generator: every fault, in the fixed order of
// newFaults, undoes what may be in effect and verifies it, each step
// recorded as a nemesis action with "final" and bounded by ActionTimeout.
// Paused nodes are resumed and every node that is not running is started
// (whoever stopped it); then partitions and loss are removed and delay is
// switched off, on every node. Network healing and delay are only touched
// when their families are in Options.Faults (so a run without network
// faults never needs nftables). Nodes that come back here get nothing
// re-applied: no fault is to be in effect any more. It stops at the first
// step that fails.
func (s *Scheduler) HealAll(ctx context.Context, rec Recorder) error {
	rec = orNop(rec)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		actx, cancel := context.WithTimeout(ctx, s.opts.ActionTimeout)
		err := f.heal(actx, s, rec)
		cancel()
		if err != nil {
			return fmt.Errorf("final heal: %w", err)
		}
	}
	return nil
}
