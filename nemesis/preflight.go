package nemesis

import (
	"context"
	"slices"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// Preflight checks, once the cluster is up and before the workload, that
// the configured faults can be injected and verified here, so that a
// missing kernel feature fails the run at once and clearly instead of at
// the first fault: for the families that install network rules
// (history.NemesisFamily.Network: partition, loss) it installs and removes
// the nemesis's nftables table in every running node's namespace (HealNet)
// and proves a probe connects between two nodes; then each fault with a
// check of its own runs it (delay reads the admin API's peer delay). The
// error wraps ErrUnverified (exit code 4). It returns what it checked.
func (s *Scheduler) Preflight(ctx context.Context) (Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := Value{}
	running := s.answering(ctx)
	net := slices.ContainsFunc(s.opts.Faults, func(name string) bool {
		fam, _ := history.NemesisFamilyNamed(name)
		return fam.Network
	})
	if net {
		for _, n := range running {
			if err := s.c.HealNet(ctx, n); err != nil {
				return v, unverified("network faults cannot be injected at %s (nftables in its network namespace): %v", n, err)
			}
		}
		v["nftables"] = running
		if len(running) >= 2 {
			a, b := running[0], running[1]
			if err := connects(ctx, s.c, a, b, s.opts.ProbeTimeout); err != nil {
				return v, unverified("probe %s -> %s (from inside the namespace) does not connect: %v", a, b, err)
			}
			v["probe"] = a + "->" + b
		}
	}
	for _, f := range s.faults {
		if p, ok := f.(preflighter); ok {
			if err := p.preflight(ctx, s, running, v); err != nil {
				return v, err
			}
		}
	}
	return v, nil
}
