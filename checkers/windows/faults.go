package windows

import (
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// stopsFor maps a start f to the fs that undo it. The nemesis package
// records kill/restart, pause/resume, partition/heal, loss-start/loss-stop
// and delay-start/delay-stop (its final heal uses the same stop fs); the
// other rows accept names other tools use.
var stopsFor = map[string][]string{
	"kill":            {"restart", "start", "start-node"},
	"stop":            {"start", "restart"},
	"crash":           {"restart", "start"},
	"pause":           {"resume", "unpause"},
	"partition":       {"heal", "heal-partition", "stop-partition"},
	"start-partition": {"stop-partition", "heal", "heal-partition"},
	"loss":            {"heal-loss", "loss-stop", "stop-loss"},
	"loss-start":      {"loss-stop", "heal-loss"},
	"start-loss":      {"stop-loss", "loss-stop"},
	"clock":           {"reset-clock", "clock-reset"},
	"bump-clock":      {"reset-clock"},
	"delay":           {"heal-delay", "delay-stop", "stop-delay"},
}

// healAll fs close every open window.
var healAll = map[string]bool{"heal-all": true, "final-heal": true, "stop-all": true}

// isStop reports whether f undoes some start f.
func isStop(f string) bool {
	if healAll[f] {
		return true
	}
	for _, stops := range stopsFor {
		for _, s := range stops {
			if s == f {
				return true
			}
		}
	}
	return false
}

// closes reports whether stop f ends a window opened by start f.
func closes(start, stop string) bool {
	if healAll[stop] {
		return true
	}
	for _, s := range stopsFor[start] {
		if s == stop {
			return true
		}
	}
	// Generic X-start / X-stop and start-X / stop-X naming.
	if b, ok := strings.CutSuffix(start, "-start"); ok && stop == b+"-stop" {
		return true
	}
	if b, ok := strings.CutPrefix(start, "start-"); ok && stop == "stop-"+b {
		return true
	}
	return false
}

func isStart(f string) bool {
	if _, ok := stopsFor[f]; ok {
		return true
	}
	return strings.HasSuffix(f, "-start") || strings.HasPrefix(f, "start-")
}

// Window is one fault in effect from Start to End (nanoseconds since the
// test began, like history times).
type Window struct {
	// F is the f of the operation that started the fault; StopF the f that
	// ended it (empty if the history ended first, or for instant events).
	F, StopF string
	Start    time.Duration
	End      time.Duration
	// StartIndex and StopIndex are history indices (StopIndex is -1 when
	// the window was closed by the end of the history).
	StartIndex, StopIndex int64
	// Value is the raw value of the starting operation's completion (for
	// example which nodes were killed), for display.
	Value string
	// Instant marks an event that is not a known start or stop.
	Instant bool
}

// Tracker pairs nemesis events into windows as they stream by.
type Tracker struct {
	open    []*Window
	done    []Window
	pending map[int64]*Window // invoke index of a start op -> its window
	last    time.Duration
}

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker { return &Tracker{pending: map[int64]*Window{}} }

// Observe feeds one history entry; client entries only advance the clock.
func (t *Tracker) Observe(e *history.Entry) {
	if e.Time > t.last {
		t.last = e.Time
	}
	if !e.Process.Nemesis {
		return
	}
	switch {
	case isStart(e.F) && !isStop(e.F):
		if e.Type == history.Invoke {
			w := &Window{F: e.F, Start: e.Time, StartIndex: e.Index, StopIndex: -1}
			t.pending[e.Index] = w
			t.open = append(t.open, w)
			return
		}
		if w, ok := t.pending[e.InvokeIndex]; ok && e.InvokeIndex != e.Index {
			w.Value = string(e.Value)
			delete(t.pending, e.InvokeIndex)
			return
		}
		t.open = append(t.open, &Window{F: e.F, Start: e.Time, StartIndex: e.Index, StopIndex: -1, Value: string(e.Value)})
	case isStop(e.F):
		if e.Type == history.Invoke {
			return // the window lasts until the stop has completed
		}
		kept := t.open[:0]
		closedOne := false
		for _, w := range t.open {
			if (!closedOne || healAll[e.F]) && closes(w.F, e.F) {
				w.End, w.StopF, w.StopIndex = e.Time, e.F, e.Index
				t.done = append(t.done, *w)
				closedOne = true
				continue
			}
			kept = append(kept, w)
		}
		t.open = kept
		if !closedOne {
			// A stop with nothing to close (a node "start" of a
			// staggered start, a redundant final heal) is still shown.
			t.done = append(t.done, Window{F: e.F, Start: e.InvokeTime, End: e.Time, StartIndex: e.InvokeIndex, StopIndex: e.Index, Value: string(e.Value), Instant: true})
		}
	default:
		if e.Type == history.Invoke {
			return
		}
		t.done = append(t.done, Window{F: e.F, Start: e.InvokeTime, End: e.Time, StartIndex: e.InvokeIndex, StopIndex: e.Index, Value: string(e.Value), Instant: true})
	}
}

// Windows returns all windows sorted by start, closing those still open
// at the time of the last event seen.
func (t *Tracker) Windows() []Window {
	out := append([]Window(nil), t.done...)
	for _, w := range t.open {
		c := *w
		c.End = t.last
		out = append(out, c)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Start < out[j-1].Start; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
