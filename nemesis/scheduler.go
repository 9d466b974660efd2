package nemesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// Scheduler runs the fault families of Options on a staggered, seeded
// schedule (Run), heals everything at the end (HealAll) and re-applies the
// faults in effect to nodes restarted behind its back (Reapply). It holds
// one fault value per family (each owning what it has in effect), consulted
// in the fixed order of newFaults. Actions are serialized, as by Jepsen's
// single nemesis process: families overlap in time, never in mid-action. A
// Scheduler is safe for concurrent use.
type Scheduler struct {
	opts Options
	c    Cluster
	log  *slog.Logger
	// timing seeds the planner, so Run's timetable depends on the seed
	// alone; pick draws targets and shapes as actions run.
	timing [2]uint64
	pick   *rand.Rand

	// mu serializes actions, and guards the faults' state and pending.
	mu     sync.Mutex
	faults []fault
	// pending holds nodes restarted in the current action whose faults
	// are not re-applied yet: no good peer to prove another node's loss
	// against.
	pending map[string]bool
	// refused are the nodes that refused their damaged store (corrupt):
	// they stay down for the rest of the run.
	refused []Refusal
	// damages are the nodes that started again on a damaged store.
	damages []Damage
	// failedStores are the nodes that exited on their damaged store with
	// another code than a refusal's; they stay down too.
	failedStores []string
	// pin is the scripted action in progress (RunScript): its nodes and
	// cuts replace the drawn ones. nil under the seeded timetable.
	pin *Action
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
		opts:    o,
		c:       c,
		log:     log,
		timing:  [2]uint64{rng.Uint64(), rng.Uint64()},
		pick:    rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())),
		pending: map[string]bool{},
	}
	for _, mk := range newFaults {
		s.faults = append(s.faults, mk())
	}
	if _, ok := c.(StoreCluster); !ok {
		for _, name := range o.Faults {
			if fam, _ := history.NemesisFamilyNamed(name); fam.FaultFS || name == FamilyCorrupt {
				return nil, fmt.Errorf("nemesis %s: %w", name, errNoStoreCluster)
			}
		}
	}
	return s, nil
}

// fault returns the fault of the family called name, nil if none.
func (s *Scheduler) fault(name string) fault {
	for _, f := range s.faults {
		if f.family().Name == name {
			return f
		}
	}
	return nil
}

// configured reports whether the family called name is in Options.Faults.
func (s *Scheduler) configured(name string) bool { return slices.Contains(s.opts.Faults, name) }

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
			f := s.fault(name)
			if f.active() && !slices.Contains(ev.Mix, name) {
				s.log.Info("nemesis rotation stops fault", "fault", name, "mix", ev.Mix)
				if err := f.stop(actx, s, rec); err != nil {
					return err
				}
			}
		}
		return nil
	}
	f := s.fault(ev.Family)
	if f.active() {
		s.log.Info("nemesis stops fault", "fault", ev.Family)
		return f.stop(actx, s, rec)
	}
	if ev.Mix != nil && !slices.Contains(ev.Mix, ev.Family) {
		return nil
	}
	s.log.Info("nemesis starts fault", "fault", ev.Family)
	return f.start(actx, s, rec)
}

// Reapply re-installs the faults in effect on node (a cut, loss, the peer
// delay), for a restart the harness did itself: rules live in the
// container's network namespace and die with it, and a restarted broker
// forgets its runtime settings. It returns what it re-applied and verified.
func (s *Scheduler) Reapply(ctx context.Context, node string) (Value, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reapply(ctx, node, true)
}

// reapply asks every fault, in order, to bring node up to what it has in
// effect (see fault.reapply), and merges what they re-applied.
func (s *Scheduler) reapply(ctx context.Context, node string, fresh bool) (Value, error) {
	v := Value{}
	for _, f := range s.faults {
		r, err := f.reapply(ctx, s, node, fresh)
		maps.Copy(v, r)
		if err != nil {
			return v, err
		}
	}
	return v, nil
}

// proveDeferred lets every fault prove what it had to leave unproven, now
// that nodes can reach each other again (a restart completed, a partition
// healed).
func (s *Scheduler) proveDeferred(ctx context.Context, v Value) error {
	for _, f := range s.faults {
		if p, ok := f.(deferredProver); ok {
			if err := p.proveDeferred(ctx, s, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// cut reports whether some fault cuts the link between a and b.
func (s *Scheduler) cut(a, b string) bool {
	for _, f := range s.faults {
		if c, ok := f.(cutter); ok && c.cuts(a, b) {
			return true
		}
	}
	return false
}

// held reports whether some fault holds node out of service (a node that
// refused its store is held for good).
func (s *Scheduler) held(node string) bool {
	if s.isRefused(node) {
		return true
	}
	for _, f := range s.faults {
		if h, ok := f.(holder); ok && h.holds(node) {
			return true
		}
	}
	return false
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
func (s *Scheduler) live(ctx context.Context) []string { return s.nodesIn(ctx, isLive) }

// answering lists running (not paused) nodes, the ones an admin request can
// reach.
func (s *Scheduler) answering(ctx context.Context) []string {
	return s.nodesIn(ctx, func(st NodeState) bool { return st == Running })
}

// nodesIn lists the nodes whose state ok accepts, in cluster order.
func (s *Scheduler) nodesIn(ctx context.Context, ok func(NodeState) bool) []string {
	states := s.states(ctx)
	return slices.DeleteFunc(slices.Clone(s.c.Nodes()), func(n string) bool { return !ok(states[n]) })
}

// available lists running nodes no family holds.
func (s *Scheduler) available(ctx context.Context) []string {
	return slices.DeleteFunc(s.answering(ctx), s.held)
}

// resolveTargets draws a target spec and resolves it to nodes.
func (s *Scheduler) resolveTargets(ctx context.Context) ([]string, Value, error) {
	avail := s.available(ctx)
	if nodes, ok := s.pinnedNodes(avail); ok {
		v := Value{"target": "scripted", "nodes": nonNil(nodes)}
		s.pinnedValue(v)
		return nodes, v, nil
	}
	spec := pickOne(s.pick, s.opts.Targets)
	v := Value{"target": spec}
	leader := ""
	if spec == TargetLeader {
		leader = s.aimAtLeader(ctx, v)
	}
	if spec == TargetVoter {
		return s.aimAtVoter(ctx, avail, v), v, nil
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

// uncutPair finds a live pair (a, b) that no fault cuts, preferring nodes
// that are running over paused ones (a paused node's kernel still
// handshakes, but its accept queue is not drained). want, if set, filters
// the pairs. ok is false when there is none.
func (s *Scheduler) uncutPair(ctx context.Context, want func(a, b string) bool) (a, b string, ok bool) {
	states := s.states(ctx)
	var best [2]string
	bestScore := -1
	for _, x := range s.c.Nodes() {
		for _, y := range s.c.Nodes() {
			if x == y || !isLive(states[x]) || !isLive(states[y]) || s.cut(x, y) {
				continue
			}
			if want != nil && !want(x, y) {
				continue
			}
			score := 0
			if states[x] == Running {
				score++
			}
			if states[y] == Running {
				score++
			}
			if score > bestScore {
				best, bestScore = [2]string{x, y}, score
			}
		}
	}
	return best[0], best[1], bestScore >= 0
}

// proofPeer finds a live peer that node can prove a re-applied fault
// against: not cut from node, and not itself restarted in the current
// action with its own faults still missing.
func (s *Scheduler) proofPeer(ctx context.Context, node string) (string, bool) {
	peer, _, ok := s.uncutPair(ctx, func(a, b string) bool { return a != node && b == node && !s.pending[a] })
	return peer, ok
}

// Refusal is a node that refused to start on the store the corrupt fault
// damaged: it exited with code 3 and logged the refusal, naming the file.
type Refusal struct {
	Node string
	// At is when the refusal was seen.
	At time.Time
	// ExitCode is the broker's exit code (ExitCorruptStore).
	ExitCode int
	// File is the damaged file the broker named ("" when its line named
	// none), and Err its error.
	File, Err string
	// Line is the broker's log line.
	Line string
	// Corrupted is what the fault did to the store.
	Corrupted Corrupted
}

// Refused lists the nodes that refused their damaged store, in the order
// they did. They stay down for the rest of the run: no family targets them,
// no heal starts them, and the harness waits for no readiness of theirs.
// Rebuilding such a node needs a membership change (a new node in its
// place); Options.OnRefused is the hook for it.
func (s *Scheduler) Refused() []Refusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.refused)
}

// isRefused reports whether node stays down for the rest of the run: it
// refused its damaged store, or failed on it otherwise (exited with
// another code: a broker failure liveness reports, and one that would
// only fail again at every start, ending the run without a verdict).
func (s *Scheduler) isRefused(node string) bool {
	return slices.ContainsFunc(s.refused, func(r Refusal) bool { return r.Node == node }) || slices.Contains(s.failedStores, node)
}

// refuse records a refusal and calls the hook.
func (s *Scheduler) refuse(r Refusal) {
	s.refused = append(s.refused, r)
	s.log.Warn("node refused its damaged store; it stays down", "node", r.Node, "file", r.File, "err", r.Err)
	if s.opts.OnRefused != nil {
		s.opts.OnRefused(r)
	}
}

// Damage is a node that started again on the store the corrupt fault
// damaged (repaired, or the damage unseen).
type Damage struct {
	Node string
	// Stopped is when the fault stopped the node to damage its store, and
	// Started when the node answered again: its loads of the store happen
	// between the two.
	Stopped, Started time.Time
}

// Damaged lists the nodes that started again on a damaged store, in order:
// what the fault removed may have been durable state, which checkers of
// durable state (harness raft-safety) must know.
func (s *Scheduler) Damaged() []Damage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.damages)
}

// inService lists the nodes in cluster order but those that refused their
// store: the final heal brings back and heals every other node, while a
// refused node stays down and has no network namespace to heal.
func (s *Scheduler) inService() []string {
	return slices.DeleteFunc(slices.Clone(s.c.Nodes()), s.isRefused)
}
