package harness

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/nemesis"
)

// Summary of a row, as the table shows it.
type rowSummary struct {
	Runs, Caught int
	Median       time.Duration // -1 when no caught run has a time
	Anomalies    []string
	Errors       int
}

func summarize(res ValidateRowResult) rowSummary {
	s := rowSummary{Median: -1}
	var times []time.Duration
	seen := map[string]bool{}
	for _, run := range res.Runs {
		if run.Err != nil && !run.Checked {
			s.Errors++
			continue
		}
		if run.Err != nil {
			s.Errors++
		}
		s.Runs++
		caught := run.Valid == verdict.False
		if res.Row.Control {
			caught = run.Valid != verdict.True
		}
		if caught {
			s.Caught++
			if run.FirstAnomaly >= 0 {
				times = append(times, run.FirstAnomaly)
			}
		}
		for _, a := range run.Anomalies {
			if !seen[a] {
				seen[a] = true
				s.Anomalies = append(s.Anomalies, a)
			}
		}
	}
	sort.Strings(s.Anomalies)
	if len(times) > 0 {
		slices.Sort(times)
		if n := len(times); n%2 == 1 {
			s.Median = times[n/2]
		} else {
			s.Median = (times[n/2-1] + times[n/2]) / 2
		}
	}
	return s
}

// InfraErrors counts runs that ended in an infrastructure error.
func (r *ValidateReport) InfraErrors() int {
	n := 0
	for _, row := range r.Rows {
		n += summarize(row).Errors
	}
	return n
}

// AllCaught reports whether every bug row caught its bug in every run and
// no control run raised a false alarm (and every row ran at least once).
func (r *ValidateReport) AllCaught() bool {
	for _, row := range r.Rows {
		s := summarize(row)
		if row.Row.Contrast {
			continue
		}
		if row.Row.Control && (s.Caught > 0 || s.Runs == 0) || !row.Row.Control && (s.Caught < s.Runs || s.Runs == 0) {
			return false
		}
	}
	return len(r.Rows) > 0
}

// WriteTable prints the detection power table: bug rows, then the correct
// broker's false alarms.
func (r *ValidateReport) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "\ndetection power (chaos validate, %s)\n\n", r.Generated.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "| bug | workload | nemeses | runs | caught | median time to first anomaly | anomalies |\n|---|---|---|---|---|---|---|\n")
	for _, row := range r.Rows {
		if row.Row.Control {
			continue
		}
		s := summarize(row)
		caught := fmt.Sprintf("%d/%d", s.Caught, s.Runs)
		if row.Row.Contrast {
			// Not expected to catch it: the row shows why another fault
			// exists.
			caught += " (contrast: not expected)"
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %d | %s | %s | %s |\n", row.Row.Bug, row.Row.Workload, nemesesText(row.Row),
			s.Runs, caught, medianText(s.Median), orNone(s.Anomalies))
	}
	fmt.Fprintf(w, "\ncorrect broker:\n\n| nemeses | workload | runs | false alarms | anomalies |\n|---|---|---|---|---|\n")
	for _, row := range r.Rows {
		if !row.Row.Control {
			continue
		}
		s := summarize(row)
		fmt.Fprintf(w, "| %s | %s | %d | %d | %s |\n", nemesesText(row.Row), row.Row.Workload, s.Runs, s.Caught, orNone(s.Anomalies))
	}
	if n := r.InfraErrors(); n > 0 {
		fmt.Fprintf(w, "\n%d run(s) ended in an infrastructure error (not counted above; see the run lines)\n", n)
	}
}

func medianText(d time.Duration) string {
	if d < 0 {
		return "–"
	}
	return d.Round(100 * time.Millisecond).String()
}

// nemesesText describes a row's faults with their aim, e.g.
// "partition(isolate-leader)+kill(leader)".
func nemesesText(r ValidateRow) string {
	var parts []string
	for _, n := range r.Nemesis {
		p := n
		fam, _ := history.NemesisFamilyNamed(n)
		switch {
		case fam.Targets:
			var aim []string
			if len(r.Targets) > 0 {
				aim = append(aim, strings.Join(r.Targets, "/"))
			}
			if n == nemesis.FamilyClient && len(r.ClientModes) > 0 {
				aim = append(aim, strings.Join(r.ClientModes, "/"))
			}
			if len(aim) > 0 {
				p += "(" + strings.Join(aim, ", ") + ")"
			}
		case n == nemesis.FamilyPartition:
			if len(r.Grudges) > 0 {
				p += "(" + strings.Join(r.Grudges, "/") + ")"
			}
		case n == nemesis.FamilyLoss:
			if r.LossPercent > 0 {
				p += fmt.Sprintf("(%d%%)", r.LossPercent)
			}
		case n == nemesis.FamilyStaggeredStart:
			if r.StartGap > 0 {
				p += "(gap " + r.StartGap.String() + ")"
			}
		}
		parts = append(parts, p)
	}
	out := strings.Join(parts, "+")
	if r.Interval > 0 && len(r.Nemesis) > 0 && r.Nemesis[0] != nemesis.FamilyStaggeredStart {
		out += ", every ~" + r.Interval.String()
	}
	if len(r.Producers) > 0 {
		out += "; producers " + strings.Join(r.Producers, "/")
	}
	return out
}
