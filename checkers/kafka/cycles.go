package kafka

import (
	"fmt"
	"slices"
	"strings"
)

// Dependency kinds between operations, as in Jepsen's ww-graph and
// wr-graph.
const (
	depWW uint8 = 1 << iota
	depWR
)

type edge struct {
	from, to int32 // positions in c.ops
	kind     uint8
	key      int32
	v1, v2   int64 // ww: v1 precedes v2; wr: v1 was read
}

// graph is a CSR adjacency over operations that send (only they can be on
// a cycle: an operation that only reads has no outgoing edge).
type graph struct {
	edges []edge
	start []int32 // node -> first edge; len = nodes+1
}

func (a *analysis) buildGraph() *graph {
	c := a.c
	// Size the edge list for the most edges the loops below can add, so
	// that it is allocated once: it is one of the larger allocations of
	// the analysis.
	most := 0
	for _, o := range a.orders {
		most += max(0, len(o.byIndex)-1)
	}
	for i := range c.ops.Len() {
		o := c.ops.At(i)
		if o.wStart != o.wEnd {
			for _, r := range c.opReads(o) {
				most += int(r.end - r.start)
			}
		}
	}
	es := make([]edge, 0, most)
	// ww: the writer of each value precedes the writer of the next value
	// in the key's version order.
	for k, o := range a.orders {
		for j := 1; j < len(o.byIndex); j++ {
			// writerAt is writerOf of each value of byIndex, without the map.
			w1, w2 := a.writerAt[k][j-1], a.writerAt[k][j]
			if w1 >= 0 && w2 >= 0 && w1 != w2 {
				es = append(es, edge{from: w1, to: w2, kind: depWW, key: int32(k), v1: o.byIndex[j-1], v2: o.byIndex[j]})
			}
		}
	}
	// wr: the writer of a value precedes every operation that read it;
	// only readers that also send matter for cycles.
	for i := range c.ops.Len() {
		o := c.ops.At(i)
		if o.wStart == o.wEnd || o.rStart == o.rEnd {
			continue
		}
		for _, r := range c.opReads(o) {
			for _, x := range c.values(r) {
				if w, ok := a.writerOf.get(r.key, x.value); ok && w != int32(i) {
					es = append(es, edge{from: w, to: int32(i), kind: depWR, key: r.key, v1: x.value})
				}
			}
		}
	}
	slices.SortFunc(es, func(x, y edge) int {
		if x.from != y.from {
			return int(x.from - y.from)
		}
		return int(x.to - y.to)
	})
	g := &graph{edges: es, start: make([]int32, c.ops.Len()+1)}
	for _, e := range es {
		g.start[e.from+1]++
	}
	for i := 1; i < len(g.start); i++ {
		g.start[i] += g.start[i-1]
	}
	return g
}

// sccs returns the strongly connected components with more than one node
// of the subgraph whose edge kinds intersect mask, using an iterative
// Tarjan (no recursion: components may hold many thousand operations).
func (g *graph) sccs(mask uint8) [][]int32 {
	n := len(g.start) - 1
	index := make([]int32, n)
	low := make([]int32, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int32
	var out [][]int32
	next := int32(0)
	type frame struct {
		v int32
		e int32
	}
	var call []frame
	for root := int32(0); root < int32(n); root++ {
		if index[root] >= 0 || g.start[root] == g.start[root+1] {
			continue
		}
		call = append(call[:0], frame{root, g.start[root]})
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			v := f.v
			if f.e < g.start[v+1] {
				e := g.edges[f.e]
				f.e++
				if e.kind&mask == 0 {
					continue
				}
				w := e.to
				if index[w] < 0 {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, g.start[w]})
				} else if onStack[w] && index[w] < low[v] {
					low[v] = index[w]
				}
				continue
			}
			if low[v] == index[v] {
				var comp []int32
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp = append(comp, w)
					if w == v {
						break
					}
				}
				if len(comp) > 1 {
					slices.Sort(comp)
					out = append(out, comp)
				}
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].v
				if low[v] < low[p] {
					low[p] = low[v]
				}
			}
		}
	}
	slices.SortFunc(out, func(x, y []int32) int { return int(x[0] - y[0]) })
	return out
}

// cycleThrough finds a shortest cycle inside comp that starts with edge
// first (if non-nil) or passes through comp[0], using only edges whose kind
// intersects mask. It returns the edges of the cycle.
func (g *graph) cycleThrough(comp []int32, mask uint8, first *edge) []edge {
	in := make(map[int32]bool, len(comp))
	for _, v := range comp {
		in[v] = true
	}
	var src, dst int32
	var prefix []edge
	if first != nil {
		src, dst = first.to, first.from
		prefix = []edge{*first}
	} else {
		src, dst = comp[0], comp[0]
	}
	// BFS from src to dst.
	via := map[int32]int32{src: -1} // node -> edge index used to reach it
	queue := []int32{src}
	found := false
	for len(queue) > 0 && !found {
		v := queue[0]
		queue = queue[1:]
		for ei := g.start[v]; ei < g.start[v+1]; ei++ {
			e := g.edges[ei]
			if e.kind&mask == 0 || !in[e.to] {
				continue
			}
			if e.to == dst {
				via[-2] = ei // sentinel: the closing edge
				found = true
				break
			}
			if _, seen := via[e.to]; !seen {
				via[e.to] = ei
				queue = append(queue, e.to)
			}
		}
	}
	if !found {
		return nil
	}
	var path []edge
	ei := via[-2]
	for {
		e := g.edges[ei]
		path = append(path, e)
		if e.from == src {
			break
		}
		ei = via[e.from]
	}
	slices.Reverse(path)
	return append(prefix, path...)
}

// cycles finds G0 (cycles of write-write dependencies only) and G1c
// (cycles with at least one write-read dependency), one case per strongly
// connected component. G0 is allowed, as in Jepsen: Kafka does not isolate
// the sends of concurrent transactions. A G1c whose component holds a
// cycle of write-read edges alone is fatal (read-committed consumers
// cannot observe each other's writes in a circle); a G1c that needs ww
// edges is allowed, as Jepsen allows G1c when it infers ww dependencies.
func (a *analysis) cycles() {
	g := a.buildGraph()
	if len(g.edges) == 0 {
		return
	}
	for _, comp := range g.sccs(depWW) {
		cyc := g.cycleThrough(comp, depWW, nil)
		a.col.Add(G0, a.cycleCase(cyc, false))
	}
	wrOnly := map[int32][]int32{} // node -> its wr-only component
	for _, comp := range g.sccs(depWR) {
		for _, v := range comp {
			wrOnly[v] = comp
		}
	}
	for _, comp := range g.sccs(depWW | depWR) {
		if comp := firstWROnly(comp, wrOnly); comp != nil {
			a.col.Add(G1c, a.cycleCase(g.cycleThrough(comp, depWR, nil), true))
			continue
		}
		in := make(map[int32]bool, len(comp))
		for _, v := range comp {
			in[v] = true
		}
		var wr *edge
		for _, v := range comp {
			for ei := g.start[v]; ei < g.start[v+1] && wr == nil; ei++ {
				if e := g.edges[ei]; e.kind == depWR && in[e.to] {
					wr = &g.edges[ei]
				}
			}
			if wr != nil {
				break
			}
		}
		if wr == nil {
			continue // a pure ww component: already reported as G0
		}
		a.col.Add(G1c, a.cycleCase(g.cycleThrough(comp, depWW|depWR, wr), false))
	}
}

func firstWROnly(comp []int32, wrOnly map[int32][]int32) []int32 {
	for _, v := range comp {
		if c, ok := wrOnly[v]; ok {
			return c
		}
	}
	return nil
}

func (a *analysis) cycleCase(cyc []edge, fatal bool) Case {
	c := a.c
	var ops []int64
	var parts []string
	for _, e := range cyc {
		ops = append(ops, a.idx(e.from))
		key := c.keys[e.key]
		if e.kind == depWW {
			parts = append(parts, fmt.Sprintf("op %d sent %d to %s before op %d sent %d (ww)", a.idx(e.from), e.v1, key, a.idx(e.to), e.v2))
		} else {
			parts = append(parts, fmt.Sprintf("op %d sent %d to %s, which op %d read (wr)", a.idx(e.from), e.v1, key, a.idx(e.to)))
		}
	}
	return Case{Ops: ops, Fatal: fatal, Explanation: strings.Join(parts, "; ")}
}
