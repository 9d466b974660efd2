package stats

import (
	"slices"
	"sort"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// KeyGap is the longest stretch between two successful sends to one key.
type KeyGap struct {
	Key string `json:"key"`
	Gap
}

// idleCut is how long no operation of a kind may be in flight before a
// stretch without success of that kind is cut: nobody was trying (before
// the workload, between its end and the final reads), so the system was
// not unavailable. Shorter pauses (a client between two operations) do not
// cut it.
const idleCut = int64(1e9)

// activity follows the operations of one kind in flight, to find the
// stretches of time when none was (idle spans longer than idleCut).
type activity struct {
	inflight  int
	idleSince int64 // when inflight last fell to 0 (0: the test's start)
	idle      []span
}

func (a *activity) invoke(t int64) {
	if a.inflight == 0 && t-a.idleSince > idleCut {
		a.idle = append(a.idle, span{a.idleSince, t})
	}
	a.inflight++
}

func (a *activity) complete(t int64) {
	if a.inflight > 0 {
		a.inflight--
	}
	if a.inflight == 0 {
		a.idleSince = t
	}
}

// spans returns the idle spans up to end (an idle tail included).
func (a *activity) spans(end int64) []span {
	if a.inflight == 0 && end-a.idleSince > idleCut {
		return append(slices.Clip(a.idle), span{a.idleSince, end})
	}
	return a.idle
}

// stretches returns the stretches without success of one kind: the time
// between consecutive successes (from the test's start to the first,
// from the last to end), less the idle spans, as sorted disjoint spans.
func stretches(ok []int64, idle []span, end int64) []span {
	var out []span
	ii := 0
	cut := func(s, e int64) {
		for ii < len(idle) && idle[ii].end <= s {
			ii++
		}
		cur := s
		for j := ii; j < len(idle) && idle[j].start < e; j++ {
			if idle[j].start > cur {
				out = append(out, span{cur, idle[j].start})
			}
			cur = max(cur, idle[j].end)
		}
		if e > cur {
			out = append(out, span{cur, e})
		}
	}
	prev := int64(0)
	for _, t := range ok {
		cut(prev, t)
		prev = t
	}
	cut(prev, end)
	return out
}

// longestOverlapping returns the longest of sorted disjoint spans ss that
// overlaps [from, to], whole, and whether there was one.
func longestOverlapping(ss []span, from, to int64) (Gap, bool) {
	var best Gap
	found := false
	for j := sort.Search(len(ss), func(i int) bool { return ss[i].end >= from }); j < len(ss) && ss[j].start <= to; j++ {
		if g := gap(ss[j].start, ss[j].end); !found || g.Seconds > best.Seconds {
			best, found = g, true
		}
	}
	return best, found
}

// unavailability fills each fault window's stretches without success:
// per kind the longest stretch overlapping the window (the fault's cost to
// the whole workload), and among the keys the longest stretch between two
// successful sends to one key (the fault's cost to one partition, which
// the writes to other partitions hide from the first figure).
func (c *Checker) unavailability(w *Window, byKind map[string][]span) {
	from, to := int64(w.StartS*1e9), int64(w.EndS*1e9)
	for _, kind := range []string{"send", "poll"} {
		if g, ok := longestOverlapping(byKind[kind], from, to); ok {
			if w.Unavailable == nil {
				w.Unavailable = map[string]Gap{}
			}
			w.Unavailable[kind] = g
		}
	}
	keys := make([]string, 0, len(c.keyOk))
	for k := range c.keyOk {
		keys = append(keys, k)
	}
	slices.Sort(keys) // ties go to the first key in order, reproducibly
	for _, k := range keys {
		ts := c.keyOk[k]
		var between []span
		// Only the stretches between two successes: a key is written
		// from some time on and retired at some time.
		j := sort.Search(len(ts), func(i int) bool { return ts[i] >= from })
		for j = max(j, 1); j < len(ts) && ts[j-1] <= to; j++ {
			between = append(between, span{ts[j-1], ts[j]})
		}
		g, ok := longestOverlapping(between, from, to)
		if ok && (w.KeyUnavailable == nil || g.Seconds > w.KeyUnavailable.Seconds) {
			w.KeyUnavailable = &KeyGap{Key: k, Gap: g}
		}
	}
}

// kindsOf returns whether e is a send and whether it is a poll (or read)
// for availability; a transaction is whichever it contains.
func kindsOf(e *history.Entry) (send, poll bool) {
	switch e.F {
	case history.FSend:
		return true, false
	case history.FPoll, history.FRead:
		return false, true
	case history.FTxn:
		for _, m := range e.Mops {
			send = send || m.F == history.FSend
			poll = poll || m.F == history.FPoll
		}
	}
	return send, poll
}

// observeKinds follows the operations of e's kinds in flight and, for a
// successful send or transaction, records the time of each key it wrote.
func (c *Checker) observeKinds(e *history.Entry) {
	send, poll := kindsOf(e)
	t := int64(e.Time)
	for kind, is := range map[string]bool{"send": send, "poll": poll} {
		if !is {
			continue
		}
		a := c.active[kind]
		if e.Type == history.Invoke {
			a.invoke(t)
		} else {
			a.complete(t)
		}
	}
	if !send || e.Type != history.Ok {
		return
	}
	for _, m := range e.Mops {
		if m.F != history.FSend || m.Key == "" {
			continue
		}
		ts := c.keyOk[m.Key]
		if n := len(ts); n == 0 || ts[n-1] != t {
			c.keyOk[m.Key] = append(ts, t)
		}
	}
}
