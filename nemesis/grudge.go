package nemesis

import (
	"fmt"
	"slices"
)

// Grudge says, for each node, which peers' packets it drops. A node absent
// from the map (or with an empty list) drops nothing. Because the cut is an
// input-chain drop and broker traffic is TCP, a one-way grudge still breaks
// the TCP connection both ways (the handshake needs both directions); the
// verification therefore treats a pair as cut when either side drops the
// other.
type Grudge map[string][]string

// Grudge names, as in Jepsen's combined nemesis.
const (
	GrudgeOne            = "one"
	GrudgeMajority       = "majority"
	GrudgeMajoritiesRing = "majorities-ring"
	GrudgeMinorityThird  = "minority-third"
	GrudgeBridge         = "bridge"
	GrudgeIsolateLeader  = "isolate-leader"
)

// GrudgeNames lists every partition shape.
var GrudgeNames = []string{GrudgeOne, GrudgeMajority, GrudgeMajoritiesRing, GrudgeMinorityThird, GrudgeBridge, GrudgeIsolateLeader}

// MakeGrudge builds the named grudge over nodes. The shapes are pure
// functions of the node order: callers shuffle nodes (from the seeded rng)
// to pick who lands where. leader is used by isolate-leader only.
func MakeGrudge(name string, nodes []string, leader string) (Grudge, error) {
	n := len(nodes)
	if n < 2 {
		return nil, fmt.Errorf("grudge %s: need at least 2 nodes, have %d", name, n)
	}
	switch name {
	case GrudgeOne:
		return complete(nodes[:1], nodes[1:]), nil
	case GrudgeMajority:
		// A clean split: the first majority(n) nodes against the rest.
		if n < 3 {
			return nil, fmt.Errorf("grudge majority: need at least 3 nodes, have %d", n)
		}
		m := majority(n)
		return complete(nodes[:m], nodes[m:]), nil
	case GrudgeMajoritiesRing:
		return majoritiesRing(nodes)
	case GrudgeMinorityThird:
		// Jepsen's minority-third isolates the largest group strictly
		// smaller than a third; with 3 nodes that is nobody, so we isolate
		// at least one node (the shape then equals "one").
		k := max(1, (n-1)/3)
		return complete(nodes[:k], nodes[k:]), nil
	case GrudgeBridge:
		if n < 3 {
			return nil, fmt.Errorf("grudge bridge: need at least 3 nodes, have %d", n)
		}
		// Two halves that cannot talk, joined by one node that sees both.
		a := (n - 1) / 2
		return complete(nodes[:a], nodes[a+1:]), nil
	case GrudgeIsolateLeader:
		if !slices.Contains(nodes, leader) {
			return nil, fmt.Errorf("grudge isolate-leader: leader %q is not among %v", leader, nodes)
		}
		rest := slices.DeleteFunc(slices.Clone(nodes), func(s string) bool { return s == leader })
		return complete([]string{leader}, rest), nil
	}
	return nil, fmt.Errorf("unknown grudge %q", name)
}

// GrudgeApplies reports whether the shape makes sense for n nodes, so the
// scheduler can leave out shapes a small cluster cannot form.
func GrudgeApplies(name string, n int) bool {
	switch name {
	case GrudgeMajoritiesRing:
		return n >= 4
	case GrudgeBridge, GrudgeMajority:
		// Two nodes are a majority of two: nothing left to split off.
		return n >= 3
	}
	return n >= 2
}

// majoritiesRing places nodes on a ring (in the given order) and lets each
// node see the k nearest nodes on either side, with 2k+1 >= majority(n): every
// node sees a majority, and no two nodes see the same one. Unlike Jepsen's
// windowed version the grudge is symmetric, because a one-way TCP cut is a
// two-way cut and would otherwise shrink what each node effectively sees
// below a majority. With 3 nodes no such shape exists (each node would see
// exactly one peer, an impossible matching), so it needs at least 4.
func majoritiesRing(nodes []string) (Grudge, error) {
	n := len(nodes)
	if n < 4 {
		return nil, fmt.Errorf("grudge majorities-ring: need at least 4 nodes, have %d", n)
	}
	k := majority(n) / 2 // (m-1+1)/2 = ceil((m-1)/2)
	g := Grudge{}
	for i, a := range nodes {
		for j, b := range nodes {
			d := (j - i + n) % n
			if d > n-d {
				d = n - d
			}
			if d > k {
				g[a] = append(g[a], b)
			}
		}
		slices.Sort(g[a])
	}
	return g, nil
}

// complete makes every node of each component drop every node of the other
// components (Jepsen's complete-grudge).
func complete(components ...[]string) Grudge {
	g := Grudge{}
	for i, comp := range components {
		var others []string
		for j, other := range components {
			if i != j {
				others = append(others, other...)
			}
		}
		slices.Sort(others)
		for _, a := range comp {
			if len(others) > 0 {
				g[a] = slices.Clone(others)
			}
		}
	}
	return g
}

// Cut reports whether a and b cannot talk: either side drops the other.
func (g Grudge) Cut(a, b string) bool {
	return slices.Contains(g[a], b) || slices.Contains(g[b], a)
}

// Nodes lists the nodes that drop anything, sorted.
func (g Grudge) Nodes() []string {
	var out []string
	for a, drops := range g {
		if len(drops) > 0 {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// majority is the smallest majority of n.
func majority(n int) int { return n/2 + 1 }
