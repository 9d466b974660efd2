package reports

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers/windows"
)

// The Statistics section is computed from the history and the fault
// windows (the stats checker's, checkers/windows), so it reads the same
// for every run whatever the checkers wrote: availability per fault
// window, latency percentiles per operation kind, and the client errors
// grouped by message.

// availRow is one row of the availability table: what clients got done
// while one fault window was open (or outside every window, or over the
// whole run).
type availRow struct {
	Label   string
	Color   string
	Kind    string
	Nodes   string
	From    string
	To      string
	Seconds float64
	// Ok, Fail and Info count client completions inside the stretch.
	Ok, Fail, Info int
	// OkPerSec is Ok over the stretch's length; OkShare the share of ok
	// among completions (percent); LongestGap the longest time without an
	// ok completion (seconds).
	OkPerSec   float64
	OkShare    float64
	HasShare   bool
	LongestGap float64
	FromOp     int64
	ToOp       int64
	Open       bool
	Summary    bool
}

// availability returns one row per non-instant fault window, then the
// stretches outside every window, then the whole run. A completion inside
// two overlapping windows counts in both.
func availability(h *loadedHistory, wins []NemesisWindow) []availRow {
	var out []availRow
	var cover []windows.Span
	for _, w := range wins {
		if w.Instant {
			continue
		}
		r := availRow{Label: w.Label, Kind: w.Kind, Color: w.Color, Nodes: strings.Join(w.Nodes, ", "),
			From: fmtSeconds(int64(w.Start)), To: fmtSeconds(int64(w.End)), FromOp: w.StartOp, ToOp: w.EndOp, Open: w.Open}
		countIn(h, &r, int64(w.Start), int64(w.End))
		out = append(out, r)
		cover = append(cover, windows.Span{Start: w.Start, End: w.End})
	}
	// Outside every window: the complement of their union.
	if union := windows.Union(cover); len(union) > 0 {
		outside := availRow{Label: "no fault in effect", Summary: true}
		var secs, longest float64
		for _, g := range windows.Gaps(union, time.Duration(h.end)) {
			r := availRow{}
			countIn(h, &r, int64(g.Start), int64(g.End))
			outside.Ok += r.Ok
			outside.Fail += r.Fail
			outside.Info += r.Info
			secs += r.Seconds
			longest = math.Max(longest, r.LongestGap)
		}
		outside.Seconds, outside.LongestGap = secs, longest
		finish(&outside)
		out = append(out, outside)
	}
	all := availRow{Label: "whole run", Summary: true, From: fmtSeconds(0), To: fmtSeconds(h.end)}
	countIn(h, &all, 0, h.end)
	return append(out, all)
}

// countIn counts the client completions in [lo, hi] into r and measures
// the longest stretch without an ok one.
func countIn(h *loadedHistory, r *availRow, lo, hi int64) {
	start := sort.Search(len(h.events), func(i int) bool { return h.events[i].t >= lo })
	last := lo
	var gap int64
	for i := start; i < len(h.events) && h.events[i].t <= hi; i++ {
		e := &h.events[i]
		if e.proc < 0 || e.typ == evInvoke {
			continue
		}
		switch e.typ {
		case evOk:
			r.Ok++
			gap = max(gap, e.t-last)
			last = e.t
		case evFail:
			r.Fail++
		default:
			r.Info++
		}
	}
	gap = max(gap, hi-last)
	r.Seconds = float64(hi-lo) / 1e9
	r.LongestGap = float64(gap) / 1e9
	finish(r)
}

func finish(r *availRow) {
	if r.Seconds > 0 {
		r.OkPerSec = float64(r.Ok) / r.Seconds
	}
	if n := r.Ok + r.Fail + r.Info; n > 0 {
		r.OkShare, r.HasShare = 100*float64(r.Ok)/float64(n), true
	}
}

// errorGroup is one error message of one operation kind and how often
// clients got it. Messages that differ only in the partition they name
// ("metadata t2/0: no leader", "metadata t3/1: no leader") are one group
// whose Message has keyPlaceholder where the key was and whose Keys lists
// the keys.
type errorGroup struct {
	F       string
	Type    string
	Message string
	Keys    []string
	Count   int
	// InFaults counts the occurrences inside some fault window.
	InFaults int
	FirstOp  int64
	LastOp   int64
}

// maxErrorGroups bounds the error table; the rest is counted.
const maxErrorGroups = 40

// errorGroups groups the errors of client completions by operation kind,
// outcome and message, most frequent first.
func errorGroups(h *loadedHistory, wins []NemesisWindow) (groups []errorGroup, more int) {
	// Keyed by kind and outcome, then by message: indexing a map with
	// string(bytes) does not allocate, so a million errors cost no garbage.
	by := map[uint32]map[string]*errorGroup{}
	var spans [][2]int64
	for _, w := range wins {
		if !w.Instant {
			spans = append(spans, [2]int64{int64(w.Start), int64(w.End)})
		}
	}
	inFault := func(t int64) bool {
		for _, s := range spans {
			if t >= s[0] && t <= s[1] {
				return true
			}
		}
		return false
	}
	for i := range h.events {
		e := &h.events[i]
		if e.proc < 0 || e.typ == evInvoke || e.errLen == 0 {
			continue
		}
		k := uint32(e.f)<<8 | uint32(e.typ)
		inner := by[k]
		if inner == nil {
			inner = map[string]*errorGroup{}
			by[k] = inner
		}
		msg := h.errBytes(e)
		g := inner[string(msg)]
		if g == nil {
			g = &errorGroup{F: h.fname(e.f), Type: typeNames[e.typ], Message: string(msg), FirstOp: e.idx}
			inner[g.Message] = g
		}
		g.Count++
		g.LastOp = e.idx
		if inFault(e.t) {
			g.InFaults++
		}
	}
	// Merge by message shape: there are few distinct messages, so this
	// costs nothing next to the pass over the events.
	type shapeKey struct {
		k     uint32
		shape string
	}
	shapes := map[shapeKey]*errorGroup{}
	var order []shapeKey
	for k, inner := range by {
		for _, g := range inner {
			shape, keys := messageShape(g.Message)
			sk := shapeKey{k, shape}
			m := shapes[sk]
			if m == nil {
				m = &errorGroup{F: g.F, Type: g.Type, Message: shape, FirstOp: g.FirstOp, LastOp: g.LastOp}
				shapes[sk] = m
				order = append(order, sk)
			}
			m.Count += g.Count
			m.InFaults += g.InFaults
			m.FirstOp, m.LastOp = min(m.FirstOp, g.FirstOp), max(m.LastOp, g.LastOp)
			for _, key := range keys {
				if !slices.Contains(m.Keys, key) {
					m.Keys = append(m.Keys, key)
				}
			}
		}
	}
	for _, sk := range order {
		g := shapes[sk]
		sort.Strings(g.Keys)
		groups = append(groups, *g)
	}
	sort.Slice(groups, func(i, j int) bool {
		if groups[i].Count != groups[j].Count {
			return groups[i].Count > groups[j].Count
		}
		return groups[i].FirstOp < groups[j].FirstOp
	})
	if len(groups) > maxErrorGroups {
		more = len(groups) - maxErrorGroups
		groups = groups[:maxErrorGroups]
	}
	return groups, more
}

// keyPlaceholder stands for the partition a grouped error message named.
const keyPlaceholder = "‹key›"

// messageShape replaces every partition key in msg ("topic/partition",
// e.g. t2/0, a name then a slash then digits, not inside a longer path)
// with keyPlaceholder and returns the keys it replaced.
func messageShape(msg string) (string, []string) {
	locs := keyInMessage.FindAllStringIndex(msg, -1)
	if locs == nil {
		return msg, nil
	}
	var b strings.Builder
	var keys []string
	last := 0
	for _, l := range locs {
		if l[0] > 0 && msg[l[0]-1] == '/' {
			continue // a path such as /admin/members/3
		}
		keys = append(keys, msg[l[0]:l[1]])
		b.WriteString(msg[last:l[0]])
		b.WriteString(keyPlaceholder)
		last = l[1]
	}
	if keys == nil {
		return msg, nil
	}
	b.WriteString(msg[last:])
	return b.String(), keys
}

var keyInMessage = regexp.MustCompile(`\b[A-Za-z][A-Za-z0-9._-]*/[0-9]+\b`)

// fmtNum renders a measurement for a table whose header carries the unit:
// three significant digits, no exponent.
func fmtNum(x float64) string {
	switch {
	case x == 0:
		return "0"
	case math.Abs(x) >= 100:
		return fmt.Sprintf("%.0f", x)
	case math.Abs(x) >= 10:
		return fmt.Sprintf("%.1f", x)
	case math.Abs(x) >= 0.01:
		return fmt.Sprintf("%.2f", x)
	default:
		return fmt.Sprintf("%.3f", x)
	}
}
