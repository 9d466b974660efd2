package nemesis

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// Action is one timed fault action of a Schedule: at At (from the
// history's time zero, the time base of history.jsonl) the family starts
// its fault (Stop false) or stops it (Stop true). Nodes, when set, are the
// nodes the start acts on, taken as they are instead of drawn from a target
// spec; Cuts, for a partition, is the grudge itself. Target and Grudge are
// what the recorded run drew (informative: the nodes and cuts decide).
type Action struct {
	At     time.Duration       `json:"at"`
	Family string              `json:"family"`
	Stop   bool                `json:"stop,omitempty"`
	Nodes  []string            `json:"nodes,omitempty"`
	Cuts   map[string][]string `json:"cuts,omitempty"`
	Target string              `json:"target,omitempty"`
	Grudge string              `json:"grudge,omitempty"`
}

// Schedule is a nemesis timeline as data: timed fault actions in time
// order. The random scheduler emits one (Scheduler.Schedule, its Plan as
// actions), a history yields the one a run carried out
// (ScheduleFromHistory), and Scheduler.RunScript carries one out, which is
// what replay and shrink need: the same faults at the same offsets on the
// same nodes, not re-drawn.
type Schedule struct {
	Actions []Action `json:"actions"`
}

// Faults counts the fault starts (and instants) of the schedule.
func (sc Schedule) Faults() int {
	n := 0
	for _, a := range sc.Actions {
		if !a.Stop {
			n++
		}
	}
	return n
}

// Families lists the families the schedule uses, sorted.
func (sc Schedule) Families() []string {
	var out []string
	for _, a := range sc.Actions {
		if !slices.Contains(out, a.Family) {
			out = append(out, a.Family)
		}
	}
	sort.Strings(out)
	return out
}

// Validate checks that every action names a scheduled family, that
// actions come in time order, and that stops and starts of a family
// alternate (an instant family only starts).
func (sc Schedule) Validate() error {
	active := map[string]bool{}
	var last time.Duration
	for i, a := range sc.Actions {
		fam, ok := history.NemesisFamilyNamed(a.Family)
		if !ok || !fam.Scheduled {
			return fmt.Errorf("schedule action %d: %q is not a scheduled nemesis family", i, a.Family)
		}
		if a.At < last {
			return fmt.Errorf("schedule action %d (%s at %s): before the previous one (%s)", i, a.Family, a.At, last)
		}
		last = a.At
		if fam.Instant() {
			if a.Stop {
				return fmt.Errorf("schedule action %d: %s has no stop", i, a.Family)
			}
			continue
		}
		if a.Stop != active[a.Family] {
			return fmt.Errorf("schedule action %d: %s %s while it is %s", i, a.Family, startStop(a.Stop), onOff(active[a.Family]))
		}
		active[a.Family] = !a.Stop
	}
	return nil
}

func startStop(stop bool) string {
	if stop {
		return "stops"
	}
	return "starts"
}

func onOff(active bool) string {
	if active {
		return "active"
	}
	return "inactive"
}

// Schedule returns the random scheduler's timetable for the first d of Run
// as a Schedule, offsets shifted by base (Run's start on the history's
// clock): the same type replay and shrink carry out. Targets are unresolved
// (they are drawn when the action runs), so the actions carry no nodes.
// Like Plan it assumes every action takes no time and none is skipped.
func (s *Scheduler) Schedule(d, base time.Duration) Schedule {
	var sc Schedule
	active := map[string]bool{}
	for _, ev := range s.Plan(d) {
		if ev.Family == "" {
			for _, name := range s.opts.Faults {
				if active[name] && !slices.Contains(ev.Mix, name) {
					active[name] = false
					sc.Actions = append(sc.Actions, Action{At: base + ev.At, Family: name, Stop: true})
				}
			}
			continue
		}
		fam, _ := history.NemesisFamilyNamed(ev.Family)
		switch {
		case active[ev.Family]:
			active[ev.Family] = false
			sc.Actions = append(sc.Actions, Action{At: base + ev.At, Family: ev.Family, Stop: true})
		case ev.Mix != nil && !slices.Contains(ev.Mix, ev.Family):
		default:
			active[ev.Family] = !fam.Instant()
			sc.Actions = append(sc.Actions, Action{At: base + ev.At, Family: ev.Family})
		}
	}
	return sc
}

// Recorded is one nemesis line of a history, as ScheduleFromHistory reads
// it.
type Recorded struct {
	Time  time.Duration
	Type  string
	F     string
	Value json.RawMessage
}

// recordedValue is the part of a nemesis action's value a schedule keeps.
type recordedValue struct {
	Nodes   []string            `json:"nodes"`
	Cuts    map[string][]string `json:"cuts"`
	Target  string              `json:"target"`
	Grudge  string              `json:"grudge"`
	Final   bool                `json:"final"`
	Skipped string              `json:"skipped"`
}

// ScheduleFromHistory rebuilds the timeline a run carried out from its
// nemesis lines: each scheduled action at the time its invocation was
// recorded, on the nodes (and, for a partition, the cuts) it resolved. A
// start that found no target (a lone info with "skipped") is left out, as
// is its family's next stop; the final heal (value "final") and
// families that are not scheduled (staggered-start, which the seed
// re-draws) are left out too.
func ScheduleFromHistory(lines []Recorded) (Schedule, error) {
	var sc Schedule
	active := map[string]bool{}
	for _, l := range lines {
		fam, start, ok := familyOf(l.F)
		if !ok || !fam.Scheduled {
			continue
		}
		var v recordedValue
		if len(l.Value) > 0 && string(l.Value) != "null" {
			if err := json.Unmarshal(l.Value, &v); err != nil {
				return sc, fmt.Errorf("nemesis %s at %s: value: %w", l.F, l.Time, err)
			}
		}
		if v.Final {
			continue
		}
		// An action is an invoke/info pair; a lone info is a skipped
		// start. Take the invoke; an info then only closes it.
		if l.Type != "invoke" {
			continue
		}
		if !start {
			if !active[fam.Name] {
				continue
			}
			active[fam.Name] = false
			sc.Actions = append(sc.Actions, Action{At: l.Time, Family: fam.Name, Stop: true})
			continue
		}
		if active[fam.Name] {
			// Two starts without a stop: the history is not a schedule's.
			return sc, fmt.Errorf("nemesis %s at %s: starts while it is active", l.F, l.Time)
		}
		active[fam.Name] = !fam.Instant()
		sc.Actions = append(sc.Actions, Action{At: l.Time, Family: fam.Name, Nodes: v.Nodes, Cuts: v.Cuts, Target: v.Target, Grudge: v.Grudge})
	}
	return sc, sc.Validate()
}

// familyOf finds the scheduled family whose start or stop records f.
func familyOf(f string) (fam history.NemesisFamily, start, ok bool) {
	for _, fam := range history.NemesisFamilies {
		if !fam.Scheduled {
			continue
		}
		if fam.Start == f {
			return fam, true, true
		}
		if fam.Stop != "" && fam.Stop == f {
			return fam, false, true
		}
	}
	return history.NemesisFamily{}, false, false
}
