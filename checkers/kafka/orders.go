package kafka

import (
	"cmp"
	"slices"
)

// order is the version order of one key, Jepsen's :by-index / :by-value /
// :log. Offsets are Kafka's; indices are dense positions over the offsets
// at which some value was observed, so gaps left by transaction markers do
// not count as skips.
type order struct {
	// offsets lists the distinct observed offsets in increasing order;
	// vals(i) holds the distinct values seen at offsets[i], sorted: they
	// are all[valStart[i]:valStart[i+1]], one index per offset instead of
	// a slice header, as a correct log has one value per offset.
	offsets  []int64
	all      []int64
	valStart []int32
	// byIndex[i] is the value at dense index i: the smallest value at that
	// offset that did not already appear at an earlier offset.
	byIndex []int64
	// pos maps each value to where it appears; one map rather than three
	// because map work dominates the analysis of large histories.
	pos map[int64]valuePos
	// base is the first observed offset: in stretches of the log without
	// holes or conflicts, a value at offset o has dense index o-base,
	// which indexOf tries before the map.
	base int64
}

// valuePos locates a value in a key's log.
type valuePos struct {
	// idx is the value's dense index in byIndex.
	idx int32
	// first and last are the first and last log positions (indices into
	// offsets) at which the value appears.
	first, last int32
}

// vals returns the distinct values seen at offsets[i], sorted. The slice
// is capped: appending to it cannot overwrite the next offset's values.
func (o *order) vals(i int) []int64 {
	a, b := o.valStart[i], o.valStart[i+1]
	return o.all[a:b:b]
}

// index returns the dense index of v and whether v is in the order.
func (o *order) index(v int64) (int32, bool) {
	if o == nil {
		return 0, false
	}
	p, ok := o.pos[v]
	// A value seen only at offsets where another value was placed has no
	// dense index (idx -1): it is in pos for its positions, not in byIndex.
	return p.idx, ok && p.idx >= 0
}

// indexOf is index for a value observed at offset off: it guesses the
// dense index from the offset and confirms it against byIndex (which holds
// each value once), and falls back to the map. Per-record lookups dominate
// the analysis of big histories, and the guess is almost always right.
func (o *order) indexOf(off, v int64) (int32, bool) {
	if o == nil {
		return 0, false
	}
	if g := off - o.base; g >= 0 && g < int64(len(o.byIndex)) && o.byIndex[g] == v {
		return int32(g), true
	}
	return o.index(v)
}

// firstIdx returns the first log position of v.
func (o *order) firstIdx(v int64) (int32, bool) {
	p, ok := o.pos[v]
	return p.first, ok
}

// lastIdx returns the last log position of v (-1 if absent).
func (o *order) lastIdx(v int64) int32 {
	if p, ok := o.pos[v]; ok {
		return p.last
	}
	return -1
}

type pair struct{ offset, value int64 }

// buildOrders derives per-key version orders from every poll or read
// (whatever the operation's outcome: Kafka pollers must only ever see
// committed data) and from the sends of operations that must have
// committed: ok ones, and info ones with at least one value read by an ok
// operation.
func (c *Checker) buildOrders(okRead msgMap) []*order {
	// Two passes, counting first, so that each key's pairs are allocated
	// once at their final size: appending would leave copies of every
	// key's pairs behind for the collector, at the moment the whole
	// history is in memory.
	n := make([]int, len(c.keys))
	committed := make([]bool, c.ops.Len())
	for i := range c.ops.Len() {
		o := c.ops.At(i)
		for _, r := range c.opReads(o) {
			n[r.key] += int(r.end - r.start)
		}
		if committed[i] = c.mustHaveCommitted(o, okRead); committed[i] {
			for _, w := range c.opWrites(o) {
				if w.offset >= 0 {
					n[w.key]++
				}
			}
		}
	}
	pairs := make([][]pair, len(c.keys))
	for k := range pairs {
		pairs[k] = make([]pair, 0, n[k])
	}
	for i := range c.ops.Len() {
		o := c.ops.At(i)
		for _, r := range c.opReads(o) {
			for _, x := range c.values(r) {
				pairs[r.key] = append(pairs[r.key], pair{x.offset, x.value})
			}
		}
		if committed[i] {
			for _, w := range c.opWrites(o) {
				if w.offset >= 0 {
					pairs[w.key] = append(pairs[w.key], pair{w.offset, w.value})
				}
			}
		}
	}
	committed = nil
	orders := make([]*order, len(c.keys))
	for k, ps := range pairs {
		slices.SortFunc(ps, func(a, b pair) int {
			if a.offset != b.offset {
				return cmp.Compare(a.offset, b.offset)
			}
			return cmp.Compare(a.value, b.value)
		})
		ps = slices.Compact(ps)
		// A correct log has one pair per offset, so len(ps) is the exact
		// size of offsets, valStart and byIndex, and an upper bound
		// otherwise.
		o := &order{pos: make(map[int64]valuePos, len(ps)), offsets: make([]int64, 0, len(ps)),
			valStart: make([]int32, 0, len(ps)+1), byIndex: make([]int64, 0, len(ps)), all: make([]int64, len(ps))}
		for j := range ps {
			o.all[j] = ps[j].value
		}
		for j := 0; j < len(ps); {
			off := ps[j].offset
			from := j
			for j < len(ps) && ps[j].offset == off {
				j++
			}
			vs := o.all[from:j:j]
			li := int32(len(o.offsets))
			o.offsets = append(o.offsets, off)
			o.valStart = append(o.valStart, int32(from))
			placed := false
			for _, v := range vs {
				p, seen := o.pos[v]
				if !seen {
					p = valuePos{idx: -1, first: li}
				}
				p.last = li
				if p.idx < 0 && !placed {
					p.idx = int32(len(o.byIndex))
					o.byIndex = append(o.byIndex, v)
					placed = true
				}
				o.pos[v] = p
			}
		}
		o.valStart = append(o.valStart, int32(len(ps)))
		if len(o.offsets) > 0 {
			o.base = o.offsets[0]
		}
		orders[k] = o
		pairs[k] = nil
	}
	return orders
}

// mustHaveCommitted is Jepsen's must-have-committed?: the operation is ok,
// or it is info and someone's ok read observed one of its writes.
func (c *Checker) mustHaveCommitted(o *kop, okRead msgMap) bool {
	if o.f != fSend && o.f != fTxn {
		return false
	}
	switch o.typ {
	case tOk:
		return true
	case tInfo:
		for _, w := range c.opWrites(o) {
			if okRead.has(w.key, w.value) {
				return true
			}
		}
	}
	return false
}
