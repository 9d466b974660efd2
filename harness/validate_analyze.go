package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// RunAnalysis is what `chaos validate` reads back from a finished run.
type RunAnalysis struct {
	// Anomalies are the anomaly names of the checkers whose verdict was
	// not valid, counting only fatal cases (an anomaly the checker allows,
	// such as unseen, does not explain an invalid verdict). A checker that
	// is invalid or unknown without named errors appears as its own name.
	Anomalies []string
	// First is the history time of the earliest evidence among those
	// anomalies' examples: the time of the earliest operation an example
	// names by history index, or the example's own "time" (log-based and
	// liveness checkers, which are not about operations). -1 when no
	// example carries either.
	First time.Duration
}

// AnalyzeRun reads runDir/results.json and, for the operation times,
// runDir/history.jsonl. It walks the results generically (every checker
// section has "valid" and may have "errors" {name: {count, fatal_count?,
// examples}}) so that checkers added later are covered without change.
func AnalyzeRun(runDir string) (*RunAnalysis, error) {
	b, err := os.ReadFile(filepath.Join(runDir, "results.json"))
	if err != nil {
		return nil, fmt.Errorf("analyze run: %w", err)
	}
	var res struct {
		Checkers map[string]map[string]json.RawMessage `json:"checkers"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("analyze run: parse results: %w", err)
	}
	an := &RunAnalysis{First: -1}
	ev := &evidence{indices: map[int64]bool{}}
	names := map[string]bool{}
	for cname, sec := range res.Checkers {
		if string(sec["valid"]) == "true" {
			continue
		}
		var errs map[string]struct {
			FatalCount *int              `json:"fatal_count"`
			Examples   []json.RawMessage `json:"examples"`
		}
		if raw, ok := sec["errors"]; ok {
			_ = json.Unmarshal(raw, &errs)
		}
		found := false
		for name, a := range errs {
			if a.FatalCount != nil && *a.FatalCount == 0 {
				continue
			}
			found = true
			names[name] = true
			for _, ex := range a.Examples {
				var v any
				if json.Unmarshal(ex, &v) == nil {
					ev.walk(v, "")
				}
			}
		}
		if !found {
			names[cname] = true
		}
	}
	for n := range names {
		an.Anomalies = append(an.Anomalies, n)
	}
	sort.Strings(an.Anomalies)
	first := time.Duration(-1)
	if ev.seen {
		first = ev.minTime
	}
	if len(ev.indices) > 0 {
		t, err := opTimes(filepath.Join(runDir, HistoryFile), ev.indices)
		if err != nil {
			return nil, err
		}
		if t >= 0 && (first < 0 || t < first) {
			first = t
		}
	}
	an.First = first
	return an, nil
}

// evidence collects history indices and times found in examples.
type evidence struct {
	indices map[int64]bool
	minTime time.Duration // valid once seen
	seen    bool
}

func (e *evidence) addTime(ns float64) {
	t := time.Duration(ns)
	if !e.seen || t < e.minTime {
		e.minTime, e.seen = t, true
	}
}

// indexKey reports whether a field of an example holds history indices
// (the names reports/doc.go recognizes).
func indexKey(k string) bool {
	switch strings.ToLower(strings.ReplaceAll(k, "_", "-")) {
	case "op", "ops", "index", "indices", "op-index", "op-indices", "op-indexes":
		return true
	}
	return false
}

// walk visits an example. An object with a "time" number is dated by it
// (an embedded history operation, or a log-based example whose own time is
// when the anomaly arose; the lines it cites below may be earlier, such as
// the first of two leaders of one term). Otherwise numbers under index
// keys are history indices, whether alone or in lists.
func (e *evidence) walk(v any, key string) {
	switch x := v.(type) {
	case map[string]any:
		if fatal, ok := x["fatal"].(bool); ok && !fatal {
			return // an allowed case
		}
		if n, ok := x["time"].(float64); ok {
			e.addTime(n)
			return
		}
		for k, c := range x {
			e.walk(c, k)
		}
	case []any:
		for _, c := range x {
			e.walk(c, key)
		}
	case float64:
		if indexKey(key) && x >= 0 {
			e.indices[int64(x)] = true
		}
	}
}

// opTimes returns the earliest time of the history lines with the given
// indices, or -1 if none is found.
func opTimes(path string, want map[int64]bool) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return -1, fmt.Errorf("analyze run: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	best := time.Duration(-1)
	left := len(want)
	for sc.Scan() && left > 0 {
		var op struct {
			Index int64 `json:"index"`
			Time  int64 `json:"time"`
		}
		if json.Unmarshal(sc.Bytes(), &op) != nil || !want[op.Index] {
			continue
		}
		left--
		if t := time.Duration(op.Time); best < 0 || t < best {
			best = t
		}
	}
	if err := sc.Err(); err != nil {
		return -1, fmt.Errorf("analyze run: read history: %w", err)
	}
	return best, nil
}
