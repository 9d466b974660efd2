package stats

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/checkers/windows"
)

// Counts are the completions of one f by outcome.
type Counts struct {
	Ok   int `json:"ok"`
	Fail int `json:"fail"`
	Info int `json:"info"`
}

// Latency holds quantiles of successful operations' latencies, in
// milliseconds.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// Bucket is the completions in one second of the test.
type Bucket struct {
	Second int `json:"t"`
	Counts
}

// Gap is a stretch of time without a successful operation of some kind.
type Gap struct {
	// StartS and EndS are seconds since the test began.
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
	// Seconds is the stretch's length.
	Seconds float64 `json:"seconds"`
}

// Availability is the longest stretches without success of one kind of
// operation, overall and split by fault windows. A stretch that is partly
// inside a window contributes its longest part outside windows to Outside
// and its longest part inside one (or several touching) windows to Inside.
type Availability struct {
	Longest Gap `json:"longest"`
	Outside Gap `json:"outside_faults"`
	Inside  Gap `json:"inside_faults"`
}

// Window is a fault window as results.json reports it.
type Window struct {
	F      string  `json:"f"`
	StopF  string  `json:"stop_f,omitempty"`
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
	Ops    []int64 `json:"ops"`
	// Unavailable is, per kind ("send", "poll": poll or read), the
	// longest stretch without a success of that kind that overlaps the
	// window, whole: from the last success before it to the first after
	// it (or to the last attempt of the kind). KeyUnavailable is the
	// longest stretch between two successful sends to one key that
	// overlaps the window. Absent for instant windows.
	Unavailable    map[string]Gap `json:"unavailable,omitempty"`
	KeyUnavailable *KeyGap        `json:"key_unavailable,omitempty"`
}

// Result is the stats checker's section of results.json.
type Result struct {
	Valid verdict.Validity `json:"valid"`
	// Ok, Fail and Info count all client completions (contract).
	Ok   int `json:"ok"`
	Fail int `json:"fail"`
	Info int `json:"info"`
	// Pending counts invocations that never completed (counted as info).
	Pending int                `json:"pending,omitempty"`
	ByF     map[string]*Counts `json:"by_f"`
	Nemesis map[string]int     `json:"nemesis,omitempty"`
	Latency map[string]Latency `json:"latency"`
	// Throughput is completions per second of the test, all client fs.
	Throughput []Bucket `json:"throughput"`
	// Availability is keyed "send" and "poll" (poll or read).
	Availability map[string]Availability `json:"availability"`
	Faults       []Window                `json:"faults"`
	// ErrorMessages counts the error strings of failed and indefinite
	// client operations (Jepsen's info-txn-causes), at most
	// maxMessages distinct ones; the rest are counted under "(other)".
	ErrorMessages map[string]int `json:"error_messages,omitempty"`
	DurationS     float64        `json:"duration_s"`
	// Error says why the result is invalid, if it is.
	Error string `json:"error,omitempty"`
}

// CheckerValid returns the verdict, so Result can be merged into results.
func (r *Result) CheckerValid() verdict.Validity { return r.Valid }

// maxMessages bounds the distinct error strings kept.
const maxMessages = 50

// maxBuckets bounds the throughput series to a week of seconds.
const maxBuckets = 7 * 24 * 3600

// Checker accumulates statistics. It is not safe for concurrent use.
type Checker struct {
	byF     map[string]*Counts
	lat     map[string][]int64
	buckets []Counts
	okTimes map[string][]int64
	// active follows the operations in flight per kind ("send",
	// "poll"); keyOk holds the successful sends' times per key.
	active  map[string]*activity
	keyOk   map[string][]int64
	nemesis map[string]int
	msgs    map[string]int
	total   Counts
	pending int
	last    time.Duration
}

// New returns an empty Checker.
func New() *Checker {
	return &Checker{
		byF:     map[string]*Counts{},
		lat:     map[string][]int64{},
		okTimes: map[string][]int64{"send": nil, "poll": nil},
		active:  map[string]*activity{"send": {}, "poll": {}},
		keyOk:   map[string][]int64{},
		nemesis: map[string]int{},
		msgs:    map[string]int{},
	}
}

// Observe records one history entry.
func (c *Checker) Observe(e *history.Entry) {
	if e.Time > c.last {
		c.last = e.Time
	}
	if !e.Process.Nemesis {
		c.observeKinds(e)
	}
	if e.Type == history.Invoke {
		return
	}
	if e.Process.Nemesis {
		c.nemesis[e.F]++
		return
	}
	cnt := c.byF[e.F]
	if cnt == nil {
		cnt = &Counts{}
		c.byF[e.F] = cnt
	}
	// Clamp so that a bogus far-future time cannot allocate a huge
	// bucket array.
	sec := int(min(e.Time/time.Second, maxBuckets-1))
	for len(c.buckets) <= sec {
		c.buckets = append(c.buckets, Counts{})
	}
	b := &c.buckets[sec]
	if e.Pending {
		c.pending++
	}
	if e.Type != history.Ok && e.Error != "" {
		if _, ok := c.msgs[e.Error]; ok || len(c.msgs) < maxMessages {
			c.msgs[e.Error]++
		} else {
			c.msgs["(other)"]++
		}
	}
	switch e.Type {
	case history.Ok:
		cnt.Ok++
		c.total.Ok++
		b.Ok++
		c.lat[e.F] = append(c.lat[e.F], int64(e.Time-e.InvokeTime))
		switch e.F {
		case history.FSend:
			c.okTimes["send"] = append(c.okTimes["send"], int64(e.Time))
		case history.FPoll, history.FRead:
			c.okTimes["poll"] = append(c.okTimes["poll"], int64(e.Time))
		case history.FTxn:
			// A transaction counts for whichever kinds it contains.
			var s, p bool
			for _, m := range e.Mops {
				s = s || m.F == history.FSend
				p = p || m.F == history.FPoll
			}
			if s {
				c.okTimes["send"] = append(c.okTimes["send"], int64(e.Time))
			}
			if p {
				c.okTimes["poll"] = append(c.okTimes["poll"], int64(e.Time))
			}
		}
	case history.Fail:
		cnt.Fail++
		c.total.Fail++
		b.Fail++
	default:
		cnt.Info++
		c.total.Info++
		b.Info++
	}
}

// Result computes the summary; ws are the fault windows of the same
// history.
func (c *Checker) Result(ws []windows.Window) *Result {
	r := &Result{
		Ok: c.total.Ok, Fail: c.total.Fail, Info: c.total.Info, Pending: c.pending,
		ByF: c.byF, Nemesis: c.nemesis, Latency: map[string]Latency{},
		Availability: map[string]Availability{},
		DurationS:    c.last.Seconds(),
	}
	if len(r.Nemesis) == 0 {
		r.Nemesis = nil
	}
	if len(c.msgs) > 0 {
		r.ErrorMessages = c.msgs
	}
	for f, ls := range c.lat {
		slices.Sort(ls)
		q := func(p float64) float64 {
			i := int(p * float64(len(ls)-1))
			return ms(ls[i])
		}
		r.Latency[f] = Latency{Count: len(ls), P50: q(0.5), P90: q(0.9), P99: q(0.99), Max: ms(ls[len(ls)-1])}
	}
	r.Throughput = make([]Bucket, len(c.buckets))
	for i, b := range c.buckets {
		r.Throughput[i] = Bucket{Second: i, Counts: b}
	}
	cover := union(ws)
	byKind := map[string][]span{}
	for kind, ts := range c.okTimes {
		byKind[kind] = stretches(ts, c.active[kind].spans(int64(c.last)), int64(c.last))
		r.Availability[kind] = availability(byKind[kind], cover)
	}
	r.Faults = make([]Window, 0, len(ws))
	for _, w := range ws {
		ops := []int64{w.StartIndex}
		if w.StopIndex >= 0 && w.StopIndex != w.StartIndex {
			ops = append(ops, w.StopIndex)
		}
		fw := Window{F: w.F, StopF: w.StopF, StartS: w.Start.Seconds(), EndS: w.End.Seconds(), Ops: ops}
		if !w.Instant {
			c.unavailability(&fw, byKind)
		}
		r.Faults = append(r.Faults, fw)
	}
	var bad []string
	for _, f := range []string{history.FSend, history.FPoll, history.FRead, history.FTxn} {
		if n := c.byF[f]; n != nil && n.Ok == 0 {
			bad = append(bad, f)
		}
	}
	r.Valid = verdict.Of(len(bad) == 0)
	if len(bad) > 0 {
		sort.Strings(bad)
		r.Error = fmt.Sprintf("no %v operation ever succeeded", bad)
	}
	return r
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// availability finds the longest stretches without success, overall and
// split by the covering fault spans; ss are the stretches (stretches).
func availability(ss []span, cover []span) Availability {
	var a Availability
	ci := 0
	consider := func(s, e int64) {
		if e-s > int64(a.Longest.Seconds*1e9) {
			a.Longest = gap(s, e)
		}
		// Split [s, e] by the covering spans.
		for ci > 0 && cover[ci-1].end > s {
			ci--
		}
		cur := s
		for j := ci; j < len(cover) && cover[j].start < e; j++ {
			c := cover[j]
			if c.end <= s {
				ci = j + 1
				continue
			}
			if c.start > cur && c.start-cur > int64(a.Outside.Seconds*1e9) {
				a.Outside = gap(cur, c.start)
			}
			is, ie := max(c.start, s), min(c.end, e)
			if ie-is > int64(a.Inside.Seconds*1e9) {
				a.Inside = gap(is, ie)
			}
			cur = max(cur, c.end)
		}
		if e > cur && e-cur > int64(a.Outside.Seconds*1e9) {
			a.Outside = gap(cur, e)
		}
	}
	for _, st := range ss {
		consider(st.start, st.end)
	}
	return a
}

func gap(s, e int64) Gap {
	return Gap{StartS: float64(s) / 1e9, EndS: float64(e) / 1e9, Seconds: float64(e-s) / 1e9}
}

type span struct{ start, end int64 }

// union returns the time some non-instant window covered, as sorted
// disjoint spans in history nanoseconds.
func union(ws []windows.Window) []span {
	var in []windows.Span
	for _, w := range ws {
		if !w.Instant {
			in = append(in, windows.Span{Start: w.Start, End: w.End})
		}
	}
	var out []span
	for _, u := range windows.Union(in) {
		out = append(out, span{int64(u.Start), int64(u.End)})
	}
	return out
}
