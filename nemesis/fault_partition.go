package nemesis

import (
	"context"
	"fmt"
	"slices"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// partitionFault cuts broker nodes apart with one of the grudge shapes
// (start) and removes the cuts (stop). Cuts are nftables drops inside each
// node's network namespace and apply to peer addresses only: clients on the
// host keep reaching every node, as in Jepsen.
type partitionFault struct {
	// grudge is the partition in effect; nil when there is none.
	grudge Grudge
}

func newPartitionFault() fault { return &partitionFault{} }

func (*partitionFault) family() history.NemesisFamily { return history.NemesisPartition }

func (p *partitionFault) active() bool { return p.grudge != nil }

func (p *partitionFault) cuts(a, b string) bool { return p.grudge.Cut(a, b) }

func (p *partitionFault) start(ctx context.Context, s *Scheduler, rec Recorder) error {
	all := s.c.Nodes()
	shapes := slices.DeleteFunc(slices.Clone(s.opts.Grudges), func(g string) bool { return !GrudgeApplies(g, len(all)) })
	if len(shapes) == 0 {
		return fmt.Errorf("partition: none of the grudges %v applies to %d nodes", s.opts.Grudges, len(all))
	}
	if g := s.pinnedGrudge(); g != nil {
		v := Value{"grudge": s.pin.Grudge, "nodes": nonNil(g.Nodes()), "cuts": map[string][]string(g)}
		s.pinnedValue(v)
		return p.cutApart(ctx, s, rec, g, v, s.live(ctx))
	}
	name := pickOne(s.pick, shapes)
	order := slices.Clone(all)
	s.pick.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	v := Value{"grudge": name}
	leader := ""
	if name == GrudgeIsolateLeader {
		if leader = s.aimAtLeader(ctx, v); leader == "" {
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
	return p.cutApart(ctx, s, rec, g, v, live)
}

// cutApart installs the grudge g on the live nodes and proves it, recording
// v; a grudge that cuts no live pair is recorded as skipped.
func (p *partitionFault) cutApart(ctx context.Context, s *Scheduler, rec Recorder, g Grudge, v Value, live []string) error {
	f := history.NemesisPartition.Start
	if !anyCutPair(g, live) {
		skipped(rec, f, v, fmt.Sprintf("no two live nodes to cut apart (live %v)", live))
		return nil
	}
	return action(ctx, rec, f, v, func(ctx context.Context) (Value, error) {
		// Record the grudge first so that a node restarted from here on
		// gets its cut, and the final heal knows what to undo.
		p.grudge = g
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

func (p *partitionFault) stop(ctx context.Context, s *Scheduler, rec Recorder) error {
	g := p.grudge
	return action(ctx, rec, history.NemesisPartition.Stop, Value{"nodes": nonNil(g.Nodes())}, func(ctx context.Context) (Value, error) {
		p.grudge = nil
		live := s.live(ctx)
		for _, n := range g.Nodes() {
			if !slices.Contains(live, n) {
				continue // its rules died with its namespace
			}
			// An empty cut removes this fault's rules only: a loss in
			// effect on the node stays.
			if err := s.c.Cut(ctx, n, nil); err != nil {
				return nil, fmt.Errorf("remove cut at %s: %w", n, err)
			}
		}
		v, err := probeMatrix(ctx, s.c, live, nil, s.opts.ProbeTimeout)
		if err != nil {
			return v, err
		}
		return v, s.proveDeferred(ctx, v)
	})
}

// reapply re-installs node's cut after a restart (the namespace survives a
// pause) and proves it from node's namespace: first that node reaches an
// uncut peer, then that probes to every live peer it drops time out.
func (p *partitionFault) reapply(ctx context.Context, s *Scheduler, node string, fresh bool) (Value, error) {
	drops := p.grudge[node]
	if !fresh || len(drops) == 0 {
		return nil, nil
	}
	if peer, ok := s.proofPeer(ctx, node); ok {
		if err := connects(ctx, s.c, node, peer, s.opts.ProbeTimeout); err != nil {
			return nil, unverified("control probe %s -> %s after restart: %v", node, peer, err)
		}
	}
	if err := s.c.Cut(ctx, node, drops); err != nil {
		return nil, fmt.Errorf("re-apply cut at %s: %w", node, err)
	}
	live := s.live(ctx)
	targets := slices.DeleteFunc(slices.Clone(drops), func(n string) bool { return !slices.Contains(live, n) })
	v := Value{"cut": Value{"drops": drops, "blocked": nonNil(targets)}}
	// Each blocked probe waits out its timeout: probe all at once.
	err := inParallel(len(targets), func(i int) error { return blocked(ctx, s.c, node, targets[i], s.opts.ProbeTimeout) })
	if err != nil {
		return v, unverified("re-applied cut at %s: %v", node, err)
	}
	return v, nil
}

// heal removes every network fault of every node (the whole table, whoever
// installed it) and proves every pair connects. It touches nftables only
// when the family is configured.
func (p *partitionFault) heal(ctx context.Context, s *Scheduler, rec Recorder) error {
	p.grudge = nil
	if !s.configured(history.NemesisPartition.Name) {
		return nil
	}
	all := s.inService()
	return action(ctx, rec, history.NemesisPartition.Stop, Value{"nodes": all, "final": true}, func(ctx context.Context) (Value, error) {
		if err := healNet(ctx, s.c, all); err != nil {
			return nil, err
		}
		return probeMatrix(ctx, s.c, all, nil, s.opts.ProbeTimeout)
	})
}

// healNet removes the harness's nftables table from every listed node.
func healNet(ctx context.Context, c Cluster, nodes []string) error {
	for _, n := range nodes {
		if err := c.HealNet(ctx, n); err != nil {
			return fmt.Errorf("heal network at %s: %w", n, err)
		}
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
