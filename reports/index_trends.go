package reports

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/stats"
)

// The store index compares the runs of each test (a test is its name in
// test.json, so runs of the same configuration line up): a row per test
// with its verdicts and its throughput over the runs, oldest to newest,
// and, on every run, a link to the previous run of the same test and the
// change in throughput since then. Throughput is the stats checker's: ok
// client operations over the history's duration (checkers/stats), read
// from results.json, so the index never reads a history.

// runThroughput returns ok operations per second from res's stats
// section, false when it has none.
func runThroughput(res *Results) (float64, bool) {
	if res == nil {
		return 0, false
	}
	for _, c := range res.Checkers {
		if c.Name != checkers.NameStats || len(c.Raw) == 0 {
			continue
		}
		var st stats.Result
		if json.Unmarshal(c.Raw, &st) != nil || st.DurationS <= 0 {
			return 0, false
		}
		return float64(st.Ok) / st.DurationS, true
	}
	return 0, false
}

// testTrend is one test's row of the comparison table.
type testTrend struct {
	Test   string
	Runs   int
	Latest RunSummary
	// Recent are its latest runs, oldest first (at most maxTrendRuns).
	Recent []RunSummary
	Counts map[string]int
	// Spark is a small inline SVG of throughput over Recent.
	Spark template.HTML
	// Change is the latest run's throughput against the previous run's,
	// in percent; HasChange is false when either lacks one.
	Change    float64
	HasChange bool
}

// maxTrendRuns bounds the runs each test's trend shows.
const maxTrendRuns = 40

// linkPrevious sets each run's Prev to the previous run of the same test
// (runs are newest first) and its throughput change since then.
func linkPrevious(runs []RunSummary) {
	next := map[string]int{} // test -> index of the newer run waiting for its predecessor
	for i := range runs {
		if j, ok := next[runs[i].Test]; ok {
			runs[j].PrevDir, runs[j].PrevVerdict, runs[j].PrevTime = runs[i].Dir, runs[i].Verdict, runs[i].Time
			if runs[j].HasThroughput && runs[i].HasThroughput && runs[i].OkPerSec > 0 {
				runs[j].Change, runs[j].HasChange = 100*(runs[j].OkPerSec/runs[i].OkPerSec-1), true
			}
		}
		next[runs[i].Test] = i
	}
}

// testTrends groups runs (newest first) by test, tests in order of their
// latest run.
func testTrends(runs []RunSummary) []testTrend {
	var out []testTrend
	at := map[string]int{}
	for _, r := range runs {
		i, ok := at[r.Test]
		if !ok {
			i = len(out)
			at[r.Test] = i
			out = append(out, testTrend{Test: r.Test, Latest: r, Counts: map[string]int{}, Change: r.Change, HasChange: r.HasChange})
		}
		t := &out[i]
		t.Runs++
		t.Counts[string(r.Verdict)]++
		if len(t.Recent) < maxTrendRuns {
			t.Recent = append(t.Recent, r)
		}
	}
	for i := range out {
		t := &out[i]
		for a, b := 0, len(t.Recent)-1; a < b; a, b = a+1, b-1 {
			t.Recent[a], t.Recent[b] = t.Recent[b], t.Recent[a]
		}
		t.Spark = sparkline(t.Recent)
	}
	return out
}

// sparkline draws throughput over runs (oldest first) as a line with a
// dot per run coloured by its verdict; runs without throughput are gaps.
func sparkline(runs []RunSummary) template.HTML {
	const w, h, pad = 160.0, 28.0, 3.0
	hi := 0.0
	for _, r := range runs {
		if r.HasThroughput {
			hi = math.Max(hi, r.OkPerSec)
		}
	}
	if hi == 0 {
		return template.HTML(`<span class="muted">no throughput</span>`)
	}
	x := func(i int) float64 {
		if len(runs) == 1 {
			return w / 2
		}
		return pad + float64(i)*(w-2*pad)/float64(len(runs)-1)
	}
	y := func(v float64) float64 { return h - pad - v/hi*(h-2*pad) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="spark" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="ok operations per second over the runs, oldest first">`, w, h, w, h)
	var line []string
	flush := func() {
		if len(line) > 1 {
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="currentColor" stroke-width="1"/>`, strings.Join(line, " "))
		}
		line = line[:0]
	}
	for i, r := range runs {
		if !r.HasThroughput {
			flush()
			continue
		}
		line = append(line, fmt.Sprintf("%.1f,%.1f", x(i), y(r.OkPerSec)))
	}
	flush()
	for i, r := range runs {
		if r.HasThroughput {
			fmt.Fprintf(&b, `<circle class="v-%s" cx="%.1f" cy="%.1f" r="2.2"><title>%s: %s, %.1f ok/s</title></circle>`,
				r.Verdict, x(i), y(r.OkPerSec), template.HTMLEscapeString(r.Time.Format("2006-01-02 15:04")), r.Verdict, r.OkPerSec)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
