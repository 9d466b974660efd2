package nemesis

import (
	"context"
	"fmt"
	"slices"
)

// Preflight checks, once the cluster is up and before the workload, that
// the configured faults can be injected and verified here, so that a
// missing kernel feature fails the run at once and clearly instead of at
// the first partition: for partition and loss it installs and removes the
// nemesis's nftables table in every running node's namespace (HealNet) and
// proves a probe connects between two nodes; for delay it reads the admin
// API's peer delay. The error wraps ErrUnverified (exit code 4). It returns
// what it checked.
func (s *Scheduler) Preflight(ctx context.Context) (Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := Value{}
	running := s.answering(ctx)
	net := slices.Contains(s.opts.Faults, FamilyPartition) || slices.Contains(s.opts.Faults, FamilyLoss)
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
	if slices.Contains(s.opts.Faults, FamilyDelay) && len(running) > 0 {
		n := running[0]
		rctx, cancel := context.WithTimeout(ctx, statusTimeout)
		defer cancel()
		code, body, err := s.c.Admin(rctx, n, "GET", "/admin/peer-delay")
		if err != nil || code != 200 {
			return v, unverified("delay needs GET /admin/peer-delay on the broker; %s answered %d (%v)", n, code, err)
		}
		ms, err := parseDelay(body)
		if err != nil {
			return v, unverified("delay: %s: %v", n, err)
		}
		v["peer_delay_ms"] = fmt.Sprintf("%s: %d", n, ms)
	}
	return v, nil
}
