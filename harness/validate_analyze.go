package harness

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/verdict"
)

// RunAnalysis is what `chaos validate` reads back from a finished run.
type RunAnalysis struct {
	// Anomalies are the anomaly names of the checkers whose verdict was
	// not valid, counting only fatal cases (an anomaly the checker allows,
	// such as unseen, does not explain an invalid verdict). A checker that
	// is invalid or unknown without named errors appears as its own name.
	Anomalies []string
	// First is the history time of the earliest evidence among those
	// anomalies' fatal examples: a case's own time when it has one (the
	// log-based and liveness checkers, whose evidence is not an
	// operation), else the time of the earliest operation it names. -1
	// when no example carries either.
	First time.Duration
}

// AnalyzeRun reads runDir/results.json and, for the operation times,
// runDir/history.jsonl. Every checker section shares one shape ("valid",
// and "errors" mapping anomaly names to counts and verdict.Case examples;
// checkers.AnomalyReporter), so checkers added later are covered without
// change.
func AnalyzeRun(runDir string) (*RunAnalysis, error) {
	res, err := checkers.ReadResults(runDir)
	if err != nil {
		return nil, fmt.Errorf("analyze run: %w", err)
	}
	an := &RunAnalysis{First: -1}
	ops := map[int64]bool{}
	names := map[string]bool{}
	for cname, sec := range res.Checkers {
		if sec.CheckerValid() == verdict.True {
			continue
		}
		var errs map[string]*verdict.Anomaly
		if r, ok := sec.(checkers.AnomalyReporter); ok {
			errs = r.CheckerErrors()
		}
		found := false
		for name, a := range errs {
			if a.FatalCount == 0 {
				continue
			}
			found = true
			names[name] = true
			for _, cs := range a.Examples {
				switch {
				case !cs.Fatal:
				case cs.Time != nil:
					// When the anomaly arose; the lines it cites may be
					// earlier (the first of two leaders of one term).
					if t := time.Duration(*cs.Time); an.First < 0 || t < an.First {
						an.First = t
					}
				default:
					for _, o := range cs.Ops {
						ops[o] = true
					}
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
	if len(ops) > 0 {
		t, err := opTimes(filepath.Join(runDir, HistoryFile), ops)
		if err != nil {
			return nil, err
		}
		if t >= 0 && (an.First < 0 || t < an.First) {
			an.First = t
		}
	}
	return an, nil
}

// opTimes returns the earliest time of the history operations with the
// given indices, or -1 if none is found.
func opTimes(path string, want map[int64]bool) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return -1, fmt.Errorf("analyze run: %w", err)
	}
	defer f.Close()
	rd := history.NewReader(f)
	best := time.Duration(-1)
	for left := len(want); left > 0; {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return -1, fmt.Errorf("analyze run: read history: %w", err)
		}
		if e.Pending || !want[e.Index] {
			continue
		}
		left--
		if best < 0 || e.Time < best {
			best = e.Time
		}
	}
	return best, nil
}
