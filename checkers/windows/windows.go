package windows

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// Window is one fault in effect from Start to End (nanoseconds since the
// test began, like history times), or one instant event.
type Window struct {
	// Family is the name of the window's row in the table of nemesis
	// functions (history.NemesisFamilies); empty when its f is in no row.
	Family string
	// F is the f of the operation that started the fault; StopF the f that
	// ended it (empty if the history ended first, or for instant events).
	F, StopF string
	Start    time.Duration
	End      time.Duration
	// StartIndex and StopIndex are history indices (StopIndex is -1 when
	// the window was closed by the end of the history).
	StartIndex, StopIndex int64
	// Nodes are the nodes the starting operation names (its value's
	// "nodes"), nil when it names none.
	Nodes []string
	// Value is the raw value of the starting operation's completion (for
	// example which nodes were killed), for display.
	Value string
	// Instant marks an event that put no fault in effect: an action of an
	// instant family (a node's start in a staggered start), a start that
	// was skipped for want of a target, a stop with nothing to end, or an
	// f the table does not know.
	Instant bool
}

// Open reports whether the history ended before the fault was stopped.
func (w *Window) Open() bool { return !w.Instant && w.StopIndex < 0 }

// Tracker pairs nemesis events into windows as they stream by.
type Tracker struct {
	open    []*Window
	done    []*Window
	pending map[int64]*Window // invoke index of a start op -> its window
	last    time.Duration
}

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker { return &Tracker{pending: map[int64]*Window{}} }

// Advance moves the tracker's clock to at, as a client event at that time
// would: windows still open end there in Windows. A caller that feeds only
// the nemesis events passes the time of the history's last event.
func (t *Tracker) Advance(at time.Duration) {
	if at > t.last {
		t.last = at
	}
}

// Observe feeds one history entry; client entries only advance the clock.
func (t *Tracker) Observe(e *history.Entry) {
	t.Advance(e.Time)
	if !e.Process.Nemesis {
		return
	}
	if e.Type == history.Invoke {
		// A fault may take effect from the invocation of its start on; a
		// stop's window lasts until the stop has completed.
		if fam, ok := opener(e.F); ok {
			w := &Window{Family: fam, F: e.F, Start: e.Time, StartIndex: e.Index, StopIndex: -1}
			w.Nodes, _ = readValue(e.Value)
			t.pending[e.Index] = w
			t.open = append(t.open, w)
		}
		return
	}
	nodes, skipped := readValue(e.Value)
	if w, ok := t.pending[e.InvokeIndex]; ok && e.InvokeIndex != e.Index {
		delete(t.pending, e.InvokeIndex)
		w.Value = string(e.Value)
		if nodes != nil {
			w.Nodes = nodes
		}
		if skipped {
			t.open = slices.DeleteFunc(t.open, func(x *Window) bool { return x == w })
			w.End, w.StopIndex, w.Instant = e.Time, e.Index, true
			t.done = append(t.done, w)
		}
		return
	}
	if t.close(e, nodes) {
		return
	}
	if fam, ok := opener(e.F); ok && !skipped {
		t.open = append(t.open, &Window{Family: fam, F: e.F, Start: e.Time, StartIndex: e.Index, StopIndex: -1, Nodes: nodes, Value: string(e.Value)})
		return
	}
	t.done = append(t.done, &Window{Family: familyOf(e.F), F: e.F, Start: e.InvokeTime, End: e.Time,
		StartIndex: e.InvokeIndex, StopIndex: e.Index, Nodes: nodes, Value: string(e.Value), Instant: true})
}

// close ends the open windows that the completed stop e undoes, and
// reports whether there were any.
func (t *Tracker) close(e *history.Entry, nodes []string) bool {
	all := slices.Contains(history.NemesisHealAll, e.F)
	if !all && !isStop(e.F) {
		return false
	}
	kept := t.open[:0]
	closed := false
	for _, w := range t.open {
		if all || ends(w, e.F, nodes) {
			w.End, w.StopF, w.StopIndex = e.Time, e.F, e.Index
			t.done = append(t.done, w)
			closed = true
			continue
		}
		kept = append(kept, w)
	}
	clear(t.open[len(kept):])
	t.open = kept
	return closed
}

// Windows returns all windows sorted by start, closing those still open
// at the time of the last event seen.
func (t *Tracker) Windows() []Window {
	out := make([]Window, 0, len(t.done)+len(t.open))
	for _, w := range t.done {
		out = append(out, *w)
	}
	for _, w := range t.open {
		c := *w
		c.End = t.last
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b Window) int { return cmp.Compare(a.Start, b.Start) })
	return out
}

// opener reports whether f starts a window, and the family it belongs to:
// the start of a family of the table that is not instant, or a name of the
// generic forms X-start and start-X that is no known stop.
func opener(f string) (family string, ok bool) {
	for _, fam := range history.NemesisFamilies {
		if fam.StartedBy(f) && !fam.Instant() {
			return fam.Name, true
		}
	}
	if isStop(f) {
		return "", false
	}
	return "", strings.HasSuffix(f, "-start") || strings.HasPrefix(f, "start-")
}

// isStop reports whether f undoes some fault: a family's stop, or a name of
// the generic forms X-stop and stop-X.
func isStop(f string) bool {
	for _, fam := range history.NemesisFamilies {
		if fam.StoppedBy(f) {
			return true
		}
	}
	return strings.HasSuffix(f, "-stop") || strings.HasPrefix(f, "stop-")
}

// ends reports whether the stop f, naming nodes, ends window w. A family
// with node targets ends only the windows that share a node with the stop
// (either side naming no nodes counts as all of them), so that restarting
// one killed node leaves another kill in effect; a cluster-wide family ends
// its window whatever nodes the stop lists. Windows of unknown families pair
// by the generic naming X-start / X-stop and start-X / stop-X.
func ends(w *Window, f string, nodes []string) bool {
	fam, ok := history.NemesisFamilyNamed(w.Family)
	if !ok {
		if b, ok := strings.CutSuffix(w.F, "-start"); ok && f == b+"-stop" {
			return true
		}
		b, ok := strings.CutPrefix(w.F, "start-")
		return ok && f == "stop-"+b
	}
	if !fam.StoppedBy(f) {
		return false
	}
	if !fam.Targets || len(nodes) == 0 || len(w.Nodes) == 0 {
		return true
	}
	return slices.ContainsFunc(nodes, func(n string) bool { return slices.Contains(w.Nodes, n) })
}

// familyOf names the family an instant event belongs to: the family it
// starts, else the family it stops, else none.
func familyOf(f string) string {
	for _, fam := range history.NemesisFamilies {
		if fam.StartedBy(f) {
			return fam.Name
		}
	}
	for _, fam := range history.NemesisFamilies {
		if fam.StoppedBy(f) {
			return fam.Name
		}
	}
	return ""
}

// readValue reads the fields of a nemesis value that pairing needs: the
// nodes it names (a list, or one name) and whether the action was skipped
// (the nemesis found no target and did nothing).
func readValue(raw json.RawMessage) (nodes []string, skipped bool) {
	var v struct {
		Nodes   json.RawMessage `json:"nodes"`
		Skipped json.RawMessage `json:"skipped"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return nil, false
	}
	skipped = len(v.Skipped) > 0 && string(v.Skipped) != "null"
	if len(v.Nodes) == 0 {
		return nil, skipped
	}
	var list []any
	if json.Unmarshal(v.Nodes, &list) == nil {
		if len(list) == 0 {
			return nil, skipped
		}
		nodes = make([]string, 0, len(list))
		for _, x := range list {
			nodes = append(nodes, fmt.Sprint(x))
		}
		return nodes, skipped
	}
	var s string
	if json.Unmarshal(v.Nodes, &s) == nil && s != "" {
		return []string{s}, skipped
	}
	return nil, skipped
}

// Span is a stretch of history time, from Start to End.
type Span struct{ Start, End time.Duration }

// Union returns the union of spans as sorted, disjoint spans: the time
// some fault was in effect, for the statistics of what happened outside
// every fault. Empty spans cover nothing.
func Union(spans []Span) []Span {
	var ss []Span
	for _, s := range spans {
		if s.End > s.Start {
			ss = append(ss, s)
		}
	}
	slices.SortFunc(ss, func(a, b Span) int { return cmp.Compare(a.Start, b.Start) })
	var out []Span
	for _, s := range ss {
		if n := len(out); n > 0 && s.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, s.End)
			continue
		}
		out = append(out, s)
	}
	return out
}

// Gaps returns the stretches of [0, end] outside every span of a Union:
// the time no fault was in effect.
func Gaps(union []Span, end time.Duration) []Span {
	var out []Span
	var prev time.Duration
	for _, u := range union {
		if u.Start > prev {
			out = append(out, Span{Start: prev, End: u.Start})
		}
		prev = max(prev, u.End)
	}
	if end > prev {
		out = append(out, Span{Start: prev, End: end})
	}
	return out
}
