package reports

import (
	"sort"
	"strconv"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// keyObservations is everything the history says about one key: the
// offsets sends were acknowledged at and the records polls and reads
// returned. It feeds the per-key offset view of keys with anomalies.
type keyObservations struct {
	key   string
	acks  []keyObs
	reads []keyObs
}

// keyObs is one (offset, value) pair seen by operation idx at time t. The
// node that served it is the event's (loadedHistory.events[idx].node): a
// million-operation history holds millions of these, so they stay four
// words.
type keyObs struct {
	t      int64
	offset int64
	value  int64
	idx    int64
}

// maxKeyViews bounds how many keys get an offset view; a history with
// anomalies on every key would otherwise make the page enormous.
const maxKeyViews = 8

// maxKeyRows bounds the rows of one key's offset table.
const maxKeyRows = 160

// observeKeys records what the ok completion ev says about the keys with
// anomalies: the offsets its sends were acknowledged at and the records
// its polls and reads returned.
func observeKeys(h *loadedHistory, ev *event, mops []history.Mop) {
	obs := func(o, v int64) keyObs { return keyObs{t: ev.t, offset: o, value: v, idx: ev.idx} }
	for i := range mops {
		m := &mops[i]
		switch m.F {
		case history.FSend:
			if ko := h.keyObs[m.Key]; ko != nil && m.Offset != nil {
				ko.acks = append(ko.acks, obs(*m.Offset, m.Value))
			}
		case history.FPoll:
			for k, rs := range m.Polls {
				if ko := h.keyObs[k]; ko != nil {
					for _, r := range rs {
						ko.reads = append(ko.reads, obs(r.Offset, r.Value))
					}
				}
			}
		case history.FRead:
			if ko := h.keyObs[m.Key]; ko != nil {
				for _, r := range m.Records {
					ko.reads = append(ko.reads, obs(r.Offset, r.Value))
				}
			}
		}
	}
}

// KeyView is the per-key offset view: a plot of offsets over time and a
// table of the offsets around the anomalies.
type KeyView struct {
	Key  string
	Plot string // inline SVG
	// Rows are the offsets shown in full; Focus the ones around anomalies,
	// conflicts and holes, shown first.
	Rows  []KeyRow
	Focus []KeyRow
	Notes []string
	Acks  int
	Reads int
}

// KeyRow is one offset of a key: which values sends were acknowledged with
// and which values reads saw there. Conflict marks an offset holding more
// than one value (inconsistent offsets); Gap an offset below the highest
// one seen that nobody saw at all.
type KeyRow struct {
	Offset   int64
	Acked    []ValueRef
	Read     []ValueRef
	Conflict bool
	Gap      bool
	Flagged  bool
}

// ValueRef is a value and the first operation that showed it.
type ValueRef struct {
	Value int64
	Op    int64
	Count int
}

func buildKeyView(ko *keyObservations, flagged []int64) KeyView {
	kv := KeyView{Key: ko.key, Acks: len(ko.acks), Reads: len(ko.reads)}
	type cell struct {
		acked map[int64]*ValueRef
		read  map[int64]*ValueRef
	}
	cells := map[int64]*cell{}
	get := func(o int64) *cell {
		c := cells[o]
		if c == nil {
			c = &cell{acked: map[int64]*ValueRef{}, read: map[int64]*ValueRef{}}
			cells[o] = c
		}
		return c
	}
	add := func(m map[int64]*ValueRef, o keyObs) {
		if r := m[o.value]; r != nil {
			r.Count++
			return
		}
		m[o.value] = &ValueRef{Value: o.value, Op: o.idx, Count: 1}
	}
	for _, o := range ko.acks {
		add(get(o.offset).acked, o)
	}
	for _, o := range ko.reads {
		add(get(o.offset).read, o)
	}
	if len(cells) == 0 {
		kv.Notes = append(kv.Notes, "No operation in the history acknowledged or read this key.")
		return kv
	}
	offs := make([]int64, 0, len(cells))
	for o := range cells {
		offs = append(offs, o)
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	lo, hi := offs[0], offs[len(offs)-1]

	// Choose the offsets to show: those the anomalies name (with a little
	// context), conflicts and gaps; all of them when the key is small.
	show := map[int64]bool{}
	flag := map[int64]bool{}
	for _, o := range flagged {
		flag[o] = true
		for d := int64(-2); d <= 2; d++ {
			show[o+d] = true
		}
	}
	conflict := func(c *cell) bool {
		vals := map[int64]bool{}
		for v := range c.acked {
			vals[v] = true
		}
		for v := range c.read {
			vals[v] = true
		}
		return len(vals) > 1
	}
	if hi-lo < maxKeyRows {
		for o := lo; o <= hi; o++ {
			show[o] = true
		}
	} else {
		for o, c := range cells {
			if conflict(c) {
				show[o] = true
			}
		}
		// Gaps: walk the offsets; a missing run is shown by its first
		// offset only, so a big hole costs one row.
		for i := 1; i < len(offs); i++ {
			if offs[i] > offs[i-1]+1 {
				show[offs[i-1]+1] = true
			}
		}
	}
	list := make([]int64, 0, len(show))
	for o := range show {
		if o >= lo && o <= hi || flag[o] {
			list = append(list, o)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i] < list[j] })
	if len(list) > maxKeyRows {
		kv.Notes = append(kv.Notes, "Showing the first "+strconv.Itoa(maxKeyRows)+" of "+strconv.Itoa(len(list))+" interesting offsets.")
		list = list[:maxKeyRows]
	}
	for _, o := range list {
		row := KeyRow{Offset: o, Flagged: flag[o]}
		if c := cells[o]; c != nil {
			row.Acked = sortedRefs(c.acked)
			row.Read = sortedRefs(c.read)
			row.Conflict = conflict(c)
		} else if o > lo && o < hi {
			row.Gap = true
		}
		kv.Rows = append(kv.Rows, row)
	}
	for i, row := range kv.Rows {
		near := false
		for j := max(0, i-2); j <= min(len(kv.Rows)-1, i+2); j++ {
			r := kv.Rows[j]
			near = near || r.Flagged || r.Conflict || r.Gap
		}
		if near {
			kv.Focus = append(kv.Focus, row)
		}
	}
	return kv
}

func sortedRefs(m map[int64]*ValueRef) []ValueRef {
	out := make([]ValueRef, 0, len(m))
	for _, r := range m {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Value < out[j].Value })
	return out
}
