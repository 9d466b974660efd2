package nemesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Scheduler runs the fault families of Options on a staggered, seeded
// schedule (Run), heals everything at the end (HealAll) and re-applies
// network faults to nodes restarted behind its back (Reapply). Actions are
// serialized, as by Jepsen's single nemesis process: families overlap in
// time, never in mid-action. A Scheduler is safe for concurrent use.
type Scheduler struct {
	opts Options
	c    Cluster
	log  *slog.Logger
	// timing seeds the planner, so Run's timetable depends on the seed
	// alone; pick draws targets and shapes as actions run.
	timing [2]uint64
	pick   *rand.Rand

	// mu serializes actions; the fields below are what is in effect.
	mu      sync.Mutex
	killed  map[string]bool
	paused  map[string]bool
	grudge  Grudge // nil: no partition
	lossPct int    // 0: no loss
	// lossUnproven holds nodes whose loss rule was re-installed while no
	// live peer with rules was reachable (a partition cut them off, or
	// every peer restarted with them), so no probe could measure it; the
	// end of the restart or the partition's heal measures it.
	lossUnproven map[string]bool
	// pending holds nodes restarted in the current action whose rules are
	// not re-installed yet: no good peer to prove another node's loss.
	pending map[string]bool
	delayMS int // 0: no delay
}

// NewScheduler validates opts and prepares a scheduler drawing every random
// choice from rng (seeded by --seed, so a schedule can be replayed). It
// consumes a fixed amount of rng at construction. log may be nil.
func NewScheduler(opts Options, c Cluster, rng *rand.Rand, log *slog.Logger) (*Scheduler, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("nemesis options: %w", err)
	}
	if c == nil || len(c.Nodes()) == 0 {
		return nil, errors.New("nemesis: cluster has no nodes")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{
		opts:   o,
		c:      c,
		log:    log,
		timing: [2]uint64{rng.Uint64(), rng.Uint64()},
		pick:   rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())),
		killed: map[string]bool{},
		paused: map[string]bool{},

		lossUnproven: map[string]bool{},
		pending:      map[string]bool{},
	}
	return s, nil
}

// Options returns the scheduler's options with defaults filled in, for
// test.json and the report.
func (s *Scheduler) Options() Options { return s.opts }

// Run carries out the schedule until ctx is done, then returns nil, leaving
// whatever is in effect for HealAll. Ticks come in Plan's order; the
// timetable pauses while an action runs past the next tick. An action in progress when ctx ends is
// finished (each action has its own deadline, ActionTimeout). A fault that
// fails or cannot be verified ends Run with its error (wrapping
// ErrUnverified when verification failed).
func (s *Scheduler) Run(ctx context.Context, rec Recorder) error {
	rec = orNop(rec)
	if len(s.opts.Faults) == 0 {
		<-ctx.Done()
		return nil
	}
	p := s.planner()
	base := time.Now()
	for {
		ev := p.next()
		if !sleep(ctx, time.Until(base.Add(ev.At))) {
			return nil
		}
		if err := s.do(ctx, ev, rec); err != nil {
			return err
		}
		// The timetable stands still while an action runs: a slow action
		// (restarting five nodes and re-proving their faults) would
		// otherwise leave overdue ticks that start and stop faults back to
		// back. Shifting every later tick alike keeps Plan's order, and so
		// the seed's replay, and every drawn gap.
		if now := time.Since(base); now > ev.At {
			base = base.Add(now - ev.At)
		}
	}
}

// do carries out one planned event.
func (s *Scheduler) do(ctx context.Context, ev Event, rec Recorder) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ActionTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.Family == "" {
		// Rotation: stop families that the new mix leaves out.
		for _, name := range s.opts.Faults {
			f := faultByName(name)
			if f.active(s) && !slices.Contains(ev.Mix, name) {
				s.log.Info("nemesis rotation stops fault", "fault", name, "mix", ev.Mix)
				if err := f.stop(actx, s, rec); err != nil {
					return err
				}
			}
		}
		return nil
	}
	f := faultByName(ev.Family)
	if f.active(s) {
		s.log.Info("nemesis stops fault", "fault", ev.Family)
		return f.stop(actx, s, rec)
	}
	if ev.Mix != nil && !slices.Contains(ev.Mix, ev.Family) {
		return nil
	}
	s.log.Info("nemesis starts fault", "fault", ev.Family)
	return f.start(actx, s, rec)
}

// Reapply re-installs the network faults in effect (cut, loss) and the peer
// delay on node, for a restart the harness did itself: rules live in the
// container's network namespace and die with it. It returns what it
// re-applied and verified.
func (s *Scheduler) Reapply(ctx context.Context, node string) (Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reapply(ctx, node, true)
}

// reapply brings node up to the faults in effect. net says whether the
// namespace is new (after a restart) and needs its nftables rules again;
// after a resume only the delay may be stale.
func (s *Scheduler) reapply(ctx context.Context, node string, net bool) (Value, error) {
	v := Value{}
	if net && (len(s.grudge[node]) > 0 || s.lossPct > 0) {
		nv, err := s.reapplyNet(ctx, node)
		for k, x := range nv {
			v[k] = x
		}
		if err != nil {
			return v, err
		}
	}
	if slices.Contains(s.opts.Faults, FamilyDelay) && (s.delayMS > 0 || !net) {
		// After a restart the broker starts without delay, so only a
		// non-zero delay needs telling; after a resume the frozen broker
		// may have missed a change either way.
		if err := adminAnswers(ctx, s.c, node); err != nil {
			return v, err
		}
		ms, err := setDelay(ctx, s.c, node, s.delayMS)
		v["peer_delay_ms"] = ms
		if err != nil {
			return v, err
		}
	}
	return v, nil
}

// reapplyNet re-installs node's cut and loss and proves both from node's
// namespace: probes to the peers it drops time out, and the delivery rate to
// an uncut peer shows the loss.
func (s *Scheduler) reapplyNet(ctx context.Context, node string) (Value, error) {
	v := Value{}
	drops := s.grudge[node]
	live := s.live(ctx)
	// Control before any rule: node reaches an uncut peer.
	peer, _, havePeer := s.uncutPair(ctx, func(a, b string) bool { return a != node && b == node && !s.pending[a] })
	if havePeer {
		if err := connects(ctx, s.c, node, peer, s.opts.ProbeTimeout); err != nil {
			return v, unverified("control probe %s -> %s after restart: %v", node, peer, err)
		}
	}
	if len(drops) > 0 {
		if err := s.c.Cut(ctx, node, drops); err != nil {
			return v, fmt.Errorf("re-apply cut at %s: %w", node, err)
		}
		// Each blocked probe waits out its timeout: probe all at once.
		var targets []string
		for _, p := range drops {
			if slices.Contains(live, p) {
				targets = append(targets, p)
			}
		}
		errs := make([]error, len(targets))
		var wg sync.WaitGroup
		for i, p := range targets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = blocked(ctx, s.c, node, p, s.opts.ProbeTimeout)
			}()
		}
		wg.Wait()
		v["cut"] = Value{"drops": drops, "blocked": nonNil(targets)}
		if err := errors.Join(errs...); err != nil {
			return v, unverified("re-applied cut at %s: %v", node, err)
		}
	}
	if s.lossPct > 0 {
		if err := s.c.Loss(ctx, node, peersOf(s.c.Nodes(), node), s.lossPct); err != nil {
			return v, fmt.Errorf("re-apply loss at %s: %w", node, err)
		}
		if !havePeer {
			s.lossUnproven[node] = true
			v["loss"] = Value{"percent": s.lossPct, "probe": "deferred: no live peer with its rules outside a partition; measured when there is one"}
			return v, nil
		}
		lv, err := measureOwnLoss(ctx, s, node, peer)
		lv["percent"] = s.lossPct
		v["loss"] = lv
		if err != nil {
			return v, err
		}
	}
	return v, nil
}

// states reads every node's state; a node whose state cannot be read counts
// as Missing.
func (s *Scheduler) states(ctx context.Context) map[string]NodeState {
	out := map[string]NodeState{}
	for _, n := range s.c.Nodes() {
		st, err := s.c.State(ctx, n)
		if err != nil {
			st = Missing
		}
		out[n] = st
	}
	return out
}

// isLive: the node has a network namespace (a paused container keeps its
// own, and its kernel still answers).
func isLive(st NodeState) bool { return st == Running || st == Paused }

// live lists nodes with a network namespace, in cluster order.
func (s *Scheduler) live(ctx context.Context) []string {
	states := s.states(ctx)
	var out []string
	for _, n := range s.c.Nodes() {
		if isLive(states[n]) {
			out = append(out, n)
		}
	}
	return out
}

// answering lists running (not paused) nodes, the ones an admin request can
// reach.
func (s *Scheduler) answering(ctx context.Context) []string {
	states := s.states(ctx)
	var out []string
	for _, n := range s.c.Nodes() {
		if states[n] == Running {
			out = append(out, n)
		}
	}
	return out
}

// available lists running nodes no family holds.
func (s *Scheduler) available(ctx context.Context) []string {
	return slices.DeleteFunc(s.answering(ctx), func(n string) bool { return s.killed[n] || s.paused[n] })
}

// resolveTargets draws a target spec and resolves it to nodes.
func (s *Scheduler) resolveTargets(ctx context.Context) ([]string, Value, error) {
	spec := pickOne(s.pick, s.opts.Targets)
	avail := s.available(ctx)
	v := Value{"target": spec}
	leader := ""
	if spec == TargetLeader {
		var group string
		group, leader = s.leaderFor(ctx)
		v["group"] = group
	}
	nodes, fellBack := SelectTargets(spec, len(s.c.Nodes()), avail, leader, s.pick)
	if spec == TargetLeader {
		if fellBack {
			v["leader"] = "unknown or unavailable; one random node instead"
		} else {
			v["leader"] = leader
		}
	}
	v["nodes"] = nonNil(nodes)
	return nodes, v, nil
}
