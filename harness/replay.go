package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/nemesis"
)

// ReplayFacts link a replayed or shrunk run to the run it re-ran, and carry
// the scripted nemesis timeline it ran instead of the seeded one (test.json;
// docs/contracts.md, "Replay and shrink").
type ReplayFacts struct {
	// ReplayOf is the run directory of the original run.
	ReplayOf string `json:"replay_of,omitempty"`
	// ShrinkStep numbers the shrink candidate this run tried (1, 2, ...);
	// 0 for a plain replay.
	ShrinkStep int `json:"shrink_step,omitempty"`
	// Script, when set, is the nemesis timeline the run carried out
	// (nemesis.Scheduler.RunScript) instead of drawing one from the seed.
	Script *nemesis.Schedule `json:"script,omitempty"`
}

// runNemesis carries out the run's nemesis: the scripted timeline when the
// configuration has one, the seeded schedule otherwise.
func (r *runner) runNemesis(ctx context.Context) error {
	if r.cfg.Script != nil {
		return r.sched.RunScript(ctx, r.rec, *r.cfg.Script, r.histBase)
	}
	return r.sched.Run(ctx, r.rec)
}

// Recorded is what a replay needs of a stored run: its configuration (the
// run's facts cleared, its store the one it was stored in), the nemesis
// timeline it carried out, when its workload started on the history's
// clock, and its verdict with the names of its anomalies.
type Recorded struct {
	Dir      string
	Config   Config
	Schedule nemesis.Schedule
	// WorkloadStart is the time of the first client operation on the
	// history's clock: the time limit counts from about there.
	WorkloadStart time.Duration
	// End is the time of the history's last line.
	End   time.Duration
	Valid verdict.Validity
	// Anomalies are the names of the anomalies that made it invalid
	// (FatalAnomalies).
	Anomalies []string
	// nodes are the original's node names (test.json node_names).
	nodes []string
}

// LoadRecorded reads a stored run for replay: test.json, the nemesis lines
// of history.jsonl (or the script the run itself carried out, when it was a
// replay: the intended timeline, not its slightly late execution), and
// results.json.
func LoadRecorded(dir string) (*Recorded, error) {
	b, err := os.ReadFile(filepath.Join(dir, TestFile))
	if err != nil {
		return nil, fmt.Errorf("%w: read the run's configuration: %w", ErrUsage, err)
	}
	cfg := DefaultConfig()
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUsage, filepath.Join(dir, TestFile), err)
	}
	if cfg.Seed == 0 {
		return nil, fmt.Errorf("%w: %s has no seed", ErrUsage, filepath.Join(dir, TestFile))
	}
	rec := &Recorded{Dir: dir}
	f, err := os.Open(filepath.Join(dir, HistoryFile))
	if err != nil {
		return nil, fmt.Errorf("%w: read the run's history: %w", ErrUsage, err)
	}
	defer f.Close()
	var lines []nemesis.Recorded
	rd := history.NewReader(f)
	first := time.Duration(-1)
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, HistoryFile), err)
		}
		if e.Pending {
			continue
		}
		rec.End = max(rec.End, e.Time)
		if e.IsClient() {
			if first < 0 && e.Type == history.Invoke {
				first = e.Time
			}
			continue
		}
		lines = append(lines, nemesis.Recorded{Time: e.Time, Type: string(e.Type), F: e.F, Value: e.Value})
	}
	rec.WorkloadStart = max(first, 0)
	if cfg.Script != nil {
		rec.Schedule = *cfg.Script
	} else if rec.Schedule, err = nemesis.ScheduleFromHistory(lines); err != nil {
		return nil, fmt.Errorf("%s: nemesis timeline: %w", filepath.Join(dir, HistoryFile), err)
	}
	res, err := checkers.ReadResults(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	rec.Valid, rec.Anomalies = res.Valid, FatalAnomalies(res)
	// The run's facts are the new run's to fill in; the store is the one
	// the original lies in (store/<name>/<time>), so replays sit beside it.
	rec.nodes = cfg.NodeNames
	cfg.RunFacts = RunFacts{}
	cfg.ReplayFacts = ReplayFacts{}
	cfg.Store = filepath.Dir(filepath.Dir(filepath.Clean(dir)))
	rec.Config = cfg
	return rec, nil
}

// AnomalyNames lists the names with a positive count, sorted.
func AnomalyNames(counts map[string]int) []string {
	var out []string
	for n, c := range counts {
		if c > 0 {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// FatalAnomalies lists, sorted, the names of the anomalies that make res
// invalid: those with fatal cases, and in an invalid section that counts
// no fatal case by name (liveness, replicas), every name it counts. Names
// counted only as harmless (a G0 the workload allows, an int-send-skip of
// a producer kind that may skip) are left out: a replay or a shrink
// candidate is judged on what broke.
func FatalAnomalies(res *checkers.Results) []string {
	if res == nil {
		return nil
	}
	var out []string
	for _, sec := range res.Checkers {
		ar, ok := sec.(checkers.AnomalyReporter)
		if !ok {
			continue
		}
		errs := ar.CheckerErrors()
		byFatal := false
		for _, a := range errs {
			if a != nil && a.FatalCount > 0 {
				byFatal = true
			}
		}
		for n, a := range errs {
			if a == nil || a.Count == 0 {
				continue
			}
			if byFatal && a.FatalCount > 0 || !byFatal && ar.CheckerValid() == verdict.False {
				if !slices.Contains(out, n) {
					out = append(out, n)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// ReplayConfig is the configuration that re-runs rec with sc as its
// scripted timeline, linked to rec's run.
func (rec *Recorded) ReplayConfig(sc nemesis.Schedule) Config {
	cfg := rec.Config
	cfg.ReplayOf = rec.Dir
	cfg.Script = &sc
	cfg.CommandLine = nil
	return cfg
}

// ReplayTry is the outcome of one replay try.
type ReplayTry struct {
	RunDir    string
	Valid     verdict.Validity
	Anomalies []string
	// SameVerdict: the verdict is the original's. Same: it is, and every
	// anomaly name of the original was found again; Identical: the names
	// are exactly the original's.
	SameVerdict, Same, Identical bool
	Wall                         time.Duration
}

// Replay re-runs the stored run rec tries times with its configuration and
// its recorded nemesis timeline, each try a new run in the store linked to
// the original (test.json replay_of). A try that ends in an infrastructure
// error stops the replay with that error, after the tries before it.
// Each try's progress goes to progress (io.Discard for none), one line per
// try to out.
func Replay(ctx context.Context, rec *Recorded, tries int, out, progress io.Writer) ([]ReplayTry, error) {
	var res []ReplayTry
	for i := 1; i <= tries; i++ {
		fmt.Fprintf(out, "replay %d/%d of %s: %d faults, time limit %s\n", i, tries, rec.Dir, rec.Schedule.Faults(), rec.Config.TimeLimit.D())
		o, err := Run(ctx, rec.ReplayConfig(rec.Schedule), prefixed(progress, "  "))
		if err != nil {
			return res, err
		}
		t := ReplayTry{RunDir: o.RunDir, Valid: o.Valid, Anomalies: FatalAnomalies(o.Results), Wall: o.Wall}
		t.SameVerdict = t.Valid == rec.Valid
		t.Same = t.SameVerdict && !slices.ContainsFunc(rec.Anomalies, func(a string) bool { return !slices.Contains(t.Anomalies, a) })
		t.Identical = t.Same && slices.Equal(t.Anomalies, rec.Anomalies)
		fmt.Fprintf(out, "replay %d/%d: valid %s, anomalies %s (%s), %s\n", i, tries, t.Valid, orNone(t.Anomalies), sameWord(t), t.RunDir)
		res = append(res, t)
	}
	return res, nil
}

func sameWord(t ReplayTry) string {
	switch {
	case t.Identical:
		return "reproduced: same verdict, same anomaly names"
	case t.Same:
		return "reproduced: same verdict, every anomaly name of the original and more"
	case t.SameVerdict:
		return "same verdict, but not every anomaly name of the original"
	}
	return "not reproduced: another verdict"
}

// prefixed writes every line to w with prefix p before it.
func prefixed(w io.Writer, p string) io.Writer { return &prefixWriter{w: w, p: p, bol: true} }

type prefixWriter struct {
	w   io.Writer
	p   string
	bol bool
}

func (pw *prefixWriter) Write(b []byte) (int, error) {
	var sb strings.Builder
	for _, c := range string(b) {
		if pw.bol {
			sb.WriteString(pw.p)
		}
		sb.WriteRune(c)
		pw.bol = c == '\n'
	}
	if _, err := io.WriteString(pw.w, sb.String()); err != nil {
		return 0, err
	}
	return len(b), nil
}
