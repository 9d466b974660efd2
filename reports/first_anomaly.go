package reports

// When an anomaly happened: a case's moment is when its evidence was
// complete, the completion of the last of its operations (or the case's
// own time, for findings from node logs). The first anomaly of a run is the
// fatal case with the earliest moment among the examples results.json
// reports (checkers cap examples, so it is the earliest reported, which
// for the checkers of this repository is the earliest found, as they list
// cases in history order per key). It is marked on every plot and on the
// timeline, and each anomaly's story tells its own earliest case.
//
// Some names are proved only once the history is over: an unseen write is
// one no read saw by the end of the history (the final drain), and the
// replicas checker compares every node's copy of every partition, read
// after the final heal. Their cases name the send the finding is about,
// acknowledged maybe in the first second, so dating them by their
// operations would put the first anomaly before anything had been seen to
// go wrong: their evidence is complete at the history's end.

// firstAnomaly is the run's first anomaly, for the markers.
type firstAnomaly struct {
	Name    string
	Checker string
	// T is its moment, ns since the test started.
	T   int64
	Ops []int64
	// Anchor is the story's id on the page.
	Anchor string
	// AtEnd, when the case is proved at the history's end (provedAtEnd),
	// says why; T is then the history's end.
	AtEnd string
}

// provedAtEnd names the anomalies whose cases are proved once the history
// is over (see above), each with the reason the header gives.
var provedAtEnd = map[string]string{
	"unseen":             "by which no read had seen the acknowledged write",
	"replica-divergence": "after which every node's copy was read",
	"replica-hole":       "after which every node's copy was read",
	"replica-lost-write": "after which every node's copy was read",
	"replica-missing":    "after which every node's copy was read",
	"replica-stale":      "after which every node's copy was read",
}

// caseMoment returns when ex, a case of anomaly name, had its evidence
// complete, false when neither the case nor its operations say.
func caseMoment(name string, ex *Example, h *loadedHistory) (int64, bool) {
	if ex.Time != nil {
		return *ex.Time, true
	}
	if h == nil {
		return 0, false
	}
	if provedAtEnd[name] != "" {
		return h.end, true
	}
	t, ok := int64(0), false
	for _, idx := range ex.Ops {
		if _, done, found := h.span(idx); found {
			t, ok = max(t, done), true
		}
	}
	return t, ok
}

// toldCase picks the example of a whose story is told: the earliest fatal
// one, else the first fatal one, else the first.
func toldCase(a *Anomaly, h *loadedHistory) (i int, earliest bool) {
	best, bestT := -1, int64(0)
	for j := range a.Examples {
		ex := &a.Examples[j]
		if !ex.Fatal {
			continue
		}
		if t, ok := caseMoment(a.Name, ex, h); ok && (best < 0 || t < bestT) {
			best, bestT = j, t
		}
	}
	if best >= 0 {
		// Cases proved at the end all tie: the first is told, and it is
		// not "the earliest".
		return best, provedAtEnd[a.Name] == ""
	}
	for j := range a.Examples {
		if a.Examples[j].Fatal {
			return j, false
		}
	}
	return 0, false
}

// findFirstAnomaly returns the fatal case with the earliest moment, nil
// when no fatal case has one.
func findFirstAnomaly(res *Results, h *loadedHistory) *firstAnomaly {
	if res == nil || h == nil {
		return nil
	}
	var first *firstAnomaly
	for _, c := range res.Checkers {
		for ai := range c.Anomalies {
			a := &c.Anomalies[ai]
			for j := range a.Examples {
				ex := &a.Examples[j]
				if !ex.Fatal {
					continue
				}
				t, ok := caseMoment(a.Name, ex, h)
				if ok && (first == nil || t < first.T) {
					first = &firstAnomaly{Name: a.Name, Checker: c.Name, T: t, Ops: ex.Ops, Anchor: "story-" + a.Name,
						AtEnd: provedAtEnd[a.Name]}
					if ex.Time != nil {
						first.AtEnd = ""
					}
				}
			}
		}
	}
	return first
}
