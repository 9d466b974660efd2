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

// okSeries is the completion times of the successful operations of one
// kind, in history order (so ascending), and the time of the last
// completion of that kind whatever its outcome: a stretch without success
// lasts only while operations of the kind are still being tried.
type okSeries struct {
	ts      []int64
	lastTry int64
}

// end is where the series' last stretch without success ends: the last
// attempt, or, for a kind never tried, fallback.
func (s okSeries) end(fallback int64) int64 {
	if s.lastTry == 0 {
		return fallback
	}
	return s.lastTry
}

// longestOverlapping returns the longest stretch without a success in s
// that overlaps [from, to], whole (from the success before it to the one
// after it, or to the series' end), and whether there was one. A stretch
// before the first success counts from the test's start (a fault at the
// very beginning) only when head is set; the one after the last success
// counts up to the last attempt only when tail is set.
func (s okSeries) longestOverlapping(from, to int64, head, tail bool) (Gap, bool) {
	ts := s.ts
	var best Gap
	found := false
	consider := func(a, b int64) {
		if b <= a || b < from || a > to {
			return
		}
		if g := gap(a, b); !found || g.Seconds > best.Seconds {
			best, found = g, true
		}
	}
	// j is the first success after from: the stretch ending there is the
	// first that can overlap.
	j := sort.Search(len(ts), func(i int) bool { return ts[i] > from })
	if j == 0 && head && len(ts) > 0 {
		consider(0, ts[0])
	}
	for j = max(j, 1); j < len(ts) && ts[j-1] <= to; j++ {
		consider(ts[j-1], ts[j])
	}
	if tail && len(ts) > 0 {
		consider(ts[len(ts)-1], s.end(0))
	}
	return best, found
}

// unavailability fills each fault window's stretches without success:
// per kind the longest stretch overlapping the window (the fault's cost to
// the whole workload), and among the keys the longest stretch between two
// successful sends to one key (the fault's cost to one partition, which
// the writes to other partitions hide from the first figure).
func (c *Checker) unavailability(w *Window) {
	from, to := int64(w.StartS*1e9), int64(w.EndS*1e9)
	for _, kind := range []string{"send", "poll"} {
		s := okSeries{ts: c.okTimes[kind], lastTry: c.lastTry[kind]}
		if g, ok := s.longestOverlapping(from, to, true, true); ok {
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
		g, ok := okSeries{ts: c.keyOk[k]}.longestOverlapping(from, to, false, false)
		if ok && (w.KeyUnavailable == nil || g.Seconds > w.KeyUnavailable.Seconds) {
			w.KeyUnavailable = &KeyGap{Key: k, Gap: g}
		}
	}
}

// observeKinds records the last attempt of e's kinds and, for a
// successful send or transaction, the time of each key it wrote.
func (c *Checker) observeKinds(e *history.Entry) {
	t := int64(e.Time)
	var send, poll bool
	switch e.F {
	case history.FSend:
		send = true
	case history.FPoll, history.FRead:
		poll = true
	case history.FTxn:
		for _, m := range e.Mops {
			send = send || m.F == history.FSend
			poll = poll || m.F == history.FPoll
		}
	}
	if send {
		c.lastTry["send"] = t
	}
	if poll {
		c.lastTry["poll"] = t
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
