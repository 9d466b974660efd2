package nemesis

import (
	"context"
	"fmt"
	"maps"
	"slices"
)

// partitionFault cuts broker nodes apart with one of the grudge shapes
// (start) and removes the cuts (stop). Cuts are nftables drops inside each
// node's network namespace and apply to peer addresses only: clients on the
// host keep reaching every node, as in Jepsen.
type partitionFault struct{}

func (partitionFault) Name() string { return FamilyPartition }

func (partitionFault) active(s *Scheduler) bool { return s.grudge != nil }

func (partitionFault) start(ctx context.Context, s *Scheduler, rec Recorder) error {
	all := s.c.Nodes()
	var shapes []string
	for _, g := range s.opts.Grudges {
		if GrudgeApplies(g, len(all)) {
			shapes = append(shapes, g)
		}
	}
	if len(shapes) == 0 {
		return fmt.Errorf("partition: none of the grudges %v applies to %d nodes", s.opts.Grudges, len(all))
	}
	name := pickOne(s.pick, shapes)
	order := slices.Clone(all)
	s.pick.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	v := Value{"grudge": name}
	leader := ""
	if name == GrudgeIsolateLeader {
		var group string
		group, leader = s.leaderFor(ctx)
		v["group"] = group
		if leader == "" {
			// No leader known (e.g. everything is down or cut): isolate
			// one node instead, and say so.
			v["leader"] = "unknown; isolated one random node instead"
			name, leader = GrudgeOne, ""
		} else {
			v["leader"] = leader
		}
	}
	g, err := MakeGrudge(name, order, leader)
	if err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	live := s.live(ctx)
	if !anyCutPair(g, live) && len(live) >= 2 {
		// The shape only cuts nodes that are down (killed): draw it over
		// the live nodes instead, so the partition still happens and can
		// be proven. Down nodes restart uncut.
		if !GrudgeApplies(name, len(live)) || name == GrudgeIsolateLeader && !slices.Contains(live, leader) {
			name = GrudgeOne
		}
		order = slices.DeleteFunc(order, func(n string) bool { return !slices.Contains(live, n) })
		if g, err = MakeGrudge(name, order, leader); err != nil {
			return fmt.Errorf("partition: %w", err)
		}
		v["grudge"] = name
		v["over"] = "live nodes only; the others are down"
	}
	v["nodes"] = nonNil(g.Nodes())
	v["cuts"] = map[string][]string(g)
	if !anyCutPair(g, live) {
		skipped(rec, "partition", v, fmt.Sprintf("no two live nodes to cut apart (live %v)", live))
		return nil
	}
	return action(ctx, rec, "partition", v, func(ctx context.Context) (Value, error) {
		// Record the grudge first so that a node restarted from here on
		// gets its cut, and the final heal knows what to undo.
		s.grudge = g
		for _, n := range g.Nodes() {
			if !slices.Contains(live, n) {
				continue // down: its cut is applied when it restarts
			}
			if err := s.c.Cut(ctx, n, g[n]); err != nil {
				return nil, fmt.Errorf("cut at %s: %w", n, err)
			}
		}
		return probeMatrix(ctx, s.c, live, g, s.opts.ProbeTimeout)
	})
}

func (partitionFault) stop(ctx context.Context, s *Scheduler, rec Recorder) error {
	g := s.grudge
	return action(ctx, rec, "heal", Value{"nodes": nonNil(g.Nodes())}, func(ctx context.Context) (Value, error) {
		s.grudge = nil
		live := s.live(ctx)
		for _, n := range g.Nodes() {
			if !slices.Contains(live, n) {
				continue // its rules died with its namespace
			}
			if err := s.clearCut(ctx, n); err != nil {
				return nil, err
			}
		}
		v, err := probeMatrix(ctx, s.c, live, nil, s.opts.ProbeTimeout)
		if err != nil {
			return v, err
		}
		return v, s.proveDeferredLoss(ctx, v)
	})
}

// proveDeferredLoss measures the loss of nodes re-applied while they were
// cut off from every peer (see lossUnproven), now that they can be reached.
func (s *Scheduler) proveDeferredLoss(ctx context.Context, v Value) error {
	if s.lossPct == 0 {
		clear(s.lossUnproven)
		return nil
	}
	proven := Value{}
	for _, n := range slices.Sorted(maps.Keys(s.lossUnproven)) {
		peer, _, ok := s.uncutPair(ctx, func(a, b string) bool { return a != n && b == n })
		if !ok {
			continue
		}
		lv, err := measureOwnLoss(ctx, s, n, peer)
		proven[n] = lv
		v["loss_reapplied"] = proven
		if err != nil {
			return err
		}
		delete(s.lossUnproven, n)
	}
	return nil
}

// clearCut removes node's cut but keeps a loss in effect; with no loss the
// whole table goes.
func (s *Scheduler) clearCut(ctx context.Context, node string) error {
	if s.lossPct > 0 {
		if err := s.c.Cut(ctx, node, nil); err != nil {
			return fmt.Errorf("remove cut at %s: %w", node, err)
		}
		return nil
	}
	if err := s.c.HealNet(ctx, node); err != nil {
		return fmt.Errorf("heal network at %s: %w", node, err)
	}
	return nil
}

// anyCutPair reports whether g cuts some pair of live nodes, the only thing
// a probe can show.
func anyCutPair(g Grudge, live []string) bool {
	for _, a := range live {
		for _, b := range live {
			if a != b && g.Cut(a, b) {
				return true
			}
		}
	}
	return false
}

// uncutPair finds a live pair (a, b) that g does not cut, preferring nodes
// that are running over paused ones (a paused node's kernel still handshakes,
// but its accept queue is not drained). ok is false when there is none.
func (s *Scheduler) uncutPair(ctx context.Context, want func(a, b string) bool) (a, b string, ok bool) {
	states := s.states(ctx)
	var best [2]string
	bestScore := -1
	for _, x := range s.c.Nodes() {
		for _, y := range s.c.Nodes() {
			if x == y || !isLive(states[x]) || !isLive(states[y]) || s.grudge.Cut(x, y) {
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
