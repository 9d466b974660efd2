package nemesis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// lossFault drops a percentage of the packets every broker node receives
// from its peers (start) and stops dropping (stop), with an nftables
// "numgen random mod 100 < pct" rule in each node's namespace. A single TCP
// connect hides loss (the kernel retransmits the SYN), so the effect is
// measured as the delivery rate of many short probes, each shorter than the
// first SYN retransmission.
type lossFault struct {
	// pct is the loss in effect; 0 when there is none.
	pct int
	// unproven holds nodes whose loss rule was re-installed while no live
	// peer with rules was reachable (a partition cut them off, or every
	// peer restarted with them), so no probe could measure it; the end of
	// the restart or the partition's heal measures it (proveDeferred).
	unproven map[string]bool
}

func newLossFault() fault { return &lossFault{unproven: map[string]bool{}} }

func (*lossFault) family() history.NemesisFamily { return history.NemesisLoss }

func (l *lossFault) active() bool { return l.pct > 0 }

// healedRate is what a healed link must deliver: nearly everything.
const healedRate = 0.95

// healSettle bounds the wait for a healed link's far end to accept
// connections before its delivery rate is measured.
const healSettle = 15 * time.Second

// lossProof says how to prove that loss is in effect on a link whose two
// ends both drop pct percent: a probe (SYN in, SYN-ACK back) then gets
// through with probability (1-p)^2 instead of 1. The threshold is the
// midpoint, and the probe count (at least minProbes, at most 2000) puts it
// at least four standard deviations from the lossy outcome.
func lossProof(pct, minProbes int) (threshold float64, probes int) {
	p := float64(pct) / 100
	both := (1 - p) * (1 - p)
	threshold = (both + 1) / 2
	half := (1 - both) / 2
	n := int(math.Ceil(16 * both * (1 - both) / (half * half)))
	return threshold, min(max(n, minProbes), 2000)
}

// ownLossProof measures whether node's own loss rule works, from node to a
// peer that has a loss rule too: with both rules a probe gets through with
// probability (1-p)^2, with the peer's alone 1-p. The threshold is the
// midpoint, and the probe count is chosen so that the midpoint is at least
// four standard deviations from either outcome (capped at 2000 probes).
func ownLossProof(pct int) (threshold float64, probes int) {
	p := float64(pct) / 100
	both, one := (1-p)*(1-p), 1-p
	threshold = (both + one) / 2
	half := (one - both) / 2
	if half <= 0 {
		return threshold, 2000
	}
	variance := max(both*(1-both), one*(1-one))
	n := int(math.Ceil(16 * variance / (half * half)))
	return threshold, min(max(n, 100), 2000)
}

func (l *lossFault) start(ctx context.Context, s *Scheduler, rec Recorder) error {
	f := history.NemesisLoss.Start
	pct := s.opts.LossPercent
	live := s.live(ctx)
	v := Value{"nodes": nonNil(live), "percent": pct, "mechanism": "nftables numgen random drop of peer packets"}
	a, b, ok := s.uncutPair(ctx, nil)
	if !ok {
		skipped(rec, f, v, "no live pair outside a partition to measure loss on")
		return nil
	}
	return action(ctx, rec, f, v, func(ctx context.Context) (Value, error) {
		// The pair must connect before the loss, or a dead listener
		// would pass for packet loss.
		if err := connects(ctx, s.c, a, b, s.opts.ProbeTimeout); err != nil {
			return nil, unverified("control probe %s -> %s before loss: %v", a, b, err)
		}
		l.pct = pct
		for _, n := range live {
			if err := s.c.Loss(ctx, n, peersOf(s.c.Nodes(), n), pct); err != nil {
				return nil, fmt.Errorf("loss at %s: %w", n, err)
			}
		}
		th, n := lossProof(pct, s.opts.LossProbes)
		return measureLoss(ctx, s, a, b, n, func(rate float64) bool { return rate <= th },
			fmt.Sprintf("delivered <= %.3f", th))
	})
}

func (l *lossFault) stop(ctx context.Context, s *Scheduler, rec Recorder) error {
	live := s.live(ctx)
	return action(ctx, rec, history.NemesisLoss.Stop, Value{"nodes": nonNil(live)}, func(ctx context.Context) (Value, error) {
		l.pct = 0
		clear(l.unproven)
		for _, n := range live {
			// No peers removes this fault's rules only: a cut in effect
			// on the node stays.
			if err := s.c.Loss(ctx, n, nil, 0); err != nil {
				return nil, fmt.Errorf("remove loss at %s: %w", n, err)
			}
		}
		a, b, ok := s.uncutPair(ctx, nil)
		if !ok {
			// Every live pair is inside a partition: the final heal
			// measures the link again.
			return Value{"probe": "skipped: no live pair outside a partition"}, nil
		}
		return measureHealed(ctx, s, a, b)
	})
}

// reapply re-installs node's loss rule after a restart (the namespace
// survives a pause) and measures it against a peer that drops too. With no
// such peer in reach the proof waits for proveDeferred.
func (l *lossFault) reapply(ctx context.Context, s *Scheduler, node string, fresh bool) (Value, error) {
	if !fresh || l.pct == 0 {
		return nil, nil
	}
	peer, havePeer := s.proofPeer(ctx, node)
	if havePeer {
		// Control before the rule: node reaches the peer.
		if err := connects(ctx, s.c, node, peer, s.opts.ProbeTimeout); err != nil {
			return nil, unverified("control probe %s -> %s after restart: %v", node, peer, err)
		}
	}
	if err := s.c.Loss(ctx, node, peersOf(s.c.Nodes(), node), l.pct); err != nil {
		return nil, fmt.Errorf("re-apply loss at %s: %w", node, err)
	}
	if !havePeer {
		l.unproven[node] = true
		return Value{"loss": Value{"percent": l.pct, "probe": "deferred: no live peer with its rules outside a partition; measured when there is one"}}, nil
	}
	lv, err := l.measureOwn(ctx, s, node, peer)
	lv["percent"] = l.pct
	return Value{"loss": lv}, err
}

// proveDeferred measures the loss of nodes re-applied while they were cut
// off from every peer (see unproven), now that they can be reached.
func (l *lossFault) proveDeferred(ctx context.Context, s *Scheduler, v Value) error {
	if l.pct == 0 {
		clear(l.unproven)
		return nil
	}
	proven := Value{}
	for _, n := range slices.Sorted(maps.Keys(l.unproven)) {
		peer, ok := s.proofPeer(ctx, n)
		if !ok {
			continue
		}
		lv, err := l.measureOwn(ctx, s, n, peer)
		proven[n] = lv
		v["loss_reapplied"] = proven
		if err != nil {
			return err
		}
		delete(l.unproven, n)
	}
	return nil
}

// heal removes every network fault of every node (whoever installed it)
// and proves a live pair delivers nearly everything. It touches nftables
// only when the family is configured.
func (l *lossFault) heal(ctx context.Context, s *Scheduler, rec Recorder) error {
	l.pct = 0
	clear(l.unproven)
	if !s.configured(history.NemesisLoss.Name) {
		return nil
	}
	all := s.inService()
	return action(ctx, rec, history.NemesisLoss.Stop, Value{"nodes": all, "final": true}, func(ctx context.Context) (Value, error) {
		if err := healNet(ctx, s.c, all); err != nil {
			return nil, err
		}
		a, b, ok := s.uncutPair(ctx, nil)
		if !ok {
			return nil, unverified("no live pair to measure delivery on")
		}
		return measureHealed(ctx, s, a, b)
	})
}

// measureHealed proves a -> b delivers nearly everything. A probe that
// misses its deadline on a loaded machine looks like a lost packet, so one
// failed measurement is repeated before the heal counts as unproven.
func measureHealed(ctx context.Context, s *Scheduler, a, b string) (Value, error) {
	ok := func(rate float64) bool { return rate >= healedRate }
	want := fmt.Sprintf("delivered >= %.2f", healedRate)
	// b may have been restarted a moment ago (the final heal restarts
	// killed nodes first): its listener is not up yet and every probe
	// would be refused. connects retries refusals until it is.
	// A freshly restarted node can also take a few seconds to open its
	// peer listener (it opens its store first) while its new namespace
	// settles, so keep trying, bounded, before measuring.
	settle, cancel := context.WithTimeout(ctx, healSettle)
	for settle.Err() == nil && connects(settle, s.c, a, b, s.opts.ProbeTimeout) != nil {
		sleep(settle, 500*time.Millisecond)
	}
	cancel()
	v, err := measureLoss(ctx, s, a, b, s.opts.LossProbes, ok, want)
	if !errors.Is(err, ErrUnverified) {
		return v, err
	}
	v2, err := measureLoss(ctx, s, a, b, s.opts.LossProbes, ok, want)
	v2["first_attempt"] = v["delivered"]
	return v2, err
}

// measureOwn proves node's own loss rule (see ownLossProof) by probing
// from node to peer.
func (l *lossFault) measureOwn(ctx context.Context, s *Scheduler, node, peer string) (Value, error) {
	th, n := ownLossProof(l.pct)
	return measureLoss(ctx, s, node, peer, n, func(r float64) bool { return r <= th },
		fmt.Sprintf("delivered <= %.3f (both ends drop)", th))
}

// measureLoss probes a -> b n times and checks the delivery rate.
func measureLoss(ctx context.Context, s *Scheduler, a, b string, n int, ok func(float64) bool, want string) (Value, error) {
	rate, err := s.c.ProbeLoss(ctx, a, b, n)
	v := Value{
		"probe":     fmt.Sprintf("%d short tcp connects %s -> %s (each under the SYN retransmission time)", n, a, b),
		"delivered": math.Round(rate*1000) / 1000,
		"want":      want,
	}
	if err != nil {
		return v, fmt.Errorf("probe loss %s -> %s: %w", a, b, err)
	}
	if !ok(rate) {
		return v, unverified("delivery rate %s -> %s is %.3f, want %s", a, b, rate, want)
	}
	return v, nil
}

func peersOf(nodes []string, node string) []string {
	return slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == node })
}
