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

	"github.com/chronik-chaos/chronik/checkers/verdict"
)

// ValidateOptions configures `chaos validate`.
type ValidateOptions struct {
	// Seeds is the number of runs of each bug row (seeds Seed, Seed+1, ...).
	Seeds int
	// CorrectRuns is the number of runs of the correct broker, spread over
	// the fault families.
	CorrectRuns int
	// TimeLimit, if set, replaces every row's workload time limit.
	TimeLimit time.Duration
	// Rows, if set, selects rows by name (a row name or a prefix such as
	// "correct").
	Rows []string
	// Short is the make-test mode: one seed per bug, short runs, one run of
	// the correct broker.
	Short bool
	Store string
	// Seed is the first seed; 0 means 1.
	Seed int64
	// Image, if set, is used instead of building the broker image.
	Image string
	// Verbose copies each run's progress lines to the output.
	Verbose bool
}

// ValidateRun is one run of a row.
type ValidateRun struct {
	Seed   int64
	RunDir string
	Valid  verdict.Validity
	// Caught: for a bug row the verdict was invalid; for a control row the
	// verdict was not valid (a false alarm).
	Caught bool
	// Anomalies are the names that made the verdict invalid.
	Anomalies []string
	// FirstAnomaly is the history time of the earliest operation (or log
	// line, for log-based checkers) among the anomalies' examples; -1 when
	// no example carries a time.
	FirstAnomaly time.Duration
	Wall         time.Duration
	// Checked: the run got as far as a verdict (Valid is meaningful).
	Checked bool
	Err     error
}

// ValidateRowResult is a row with its runs.
type ValidateRowResult struct {
	Row  ValidateRow
	Runs []ValidateRun
}

// ValidateReport is the outcome of Validate.
type ValidateReport struct {
	Generated time.Time
	Rows      []ValidateRowResult
}

// Validate runs the catalogue's rows one run at a time (the machine has
// two cores; concurrent clusters would distort every timing), writes
// store/validation.json and re-renders the store index. A run that fails
// for infrastructure reasons is recorded with its error and the next run
// goes on; the caller turns that into exit code 4 (InfraErrors). Only ctx
// being cancelled stops early.
func Validate(ctx context.Context, opts ValidateOptions, out io.Writer) (*ValidateReport, error) {
	if opts.Seeds < 1 {
		opts.Seeds = 1
	}
	if opts.Short {
		opts.Seeds = 1
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Store == "" {
		opts.Store = "store"
	}
	rows := selectRows(Catalogue(opts.Short, opts.CorrectRuns), opts.Rows)
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: --rows %q matches no row (rows: %s)", ErrUsage, opts.Rows, strings.Join(rowNames(Catalogue(opts.Short, opts.CorrectRuns)), ","))
	}
	// Check every configuration before the first (long) run.
	for _, r := range rows {
		cfg := rowConfig(r, opts, opts.Seed)
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("row %s: %w", r.Name, err)
		}
	}
	rep := &ValidateReport{Generated: time.Now().UTC()}
	total := 0
	for _, r := range rows {
		total += rowRuns(r, opts)
	}
	k := 0
	for _, r := range rows {
		res := ValidateRowResult{Row: r}
		for i := 0; i < rowRuns(r, opts); i++ {
			k++
			cfg := rowConfig(r, opts, opts.Seed+int64(i))
			fmt.Fprintf(out, "validate: [%d/%d] %s seed %d: %s, nemesis %s, %s\n", k, total, r.Name, cfg.Seed,
				cfg.Workload, orNone(cfg.Nemesis), cfg.TimeLimit.D())
			run := validateOne(ctx, cfg, opts, out)
			if opts.Image == "" && run.Err == nil {
				// Reuse the image the first run built (tagged by content).
				if img := builtImage(run.RunDir); img != "" {
					opts.Image = img
				}
			}
			res.Runs = append(res.Runs, run)
			fmt.Fprintf(out, "validate:   %s\n", runLine(r, run))
			if ctx.Err() != nil {
				rep.Rows = append(rep.Rows, res)
				return rep, ctx.Err()
			}
		}
		rep.Rows = append(rep.Rows, res)
		// Write after every row, so an interrupted validation still leaves
		// the rows measured so far in the store index.
		if err := writeValidation(ctx, opts.Store, rep, len(opts.Rows) > 0); err != nil {
			return rep, infra("%w", err)
		}
	}
	return rep, nil
}

func rowRuns(r ValidateRow, opts ValidateOptions) int {
	if r.Control {
		return max(r.Runs, 1)
	}
	return opts.Seeds
}

func selectRows(all []ValidateRow, names []string) []ValidateRow {
	if len(names) == 0 {
		return all
	}
	var out []ValidateRow
	for _, r := range all {
		for _, n := range names {
			if r.Name == n || strings.HasPrefix(r.Name, n) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

func rowNames(rows []ValidateRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Name)
	}
	return out
}

// rowConfig is the `chaos run` configuration of one run of a row.
func rowConfig(r ValidateRow, opts ValidateOptions, seed int64) Config {
	cfg := DefaultConfig()
	cfg.Name = "validate-" + r.Name
	cfg.Seed = seed
	cfg.Store = opts.Store
	cfg.Image = opts.Image
	// Debug logging gives the Raft safety checker etcd raft's own lines
	// (vote responses, the term loaded at a restart) on every row, the
	// correct broker's included, so its false alarms are measured too.
	cfg.BrokerArgs = append([]string{"--log-level", "debug"}, r.BrokerArgs...)
	if r.Workload != "" {
		cfg.Workload = r.Workload
	}
	cfg.Nemesis = slices.Clone(r.Nemesis)
	cfg.Targets, cfg.Grudges, cfg.LeaderGroup = slices.Clone(r.Targets), slices.Clone(r.Grudges), r.LeaderGroup
	cfg.LossPercent = r.LossPercent
	cfg.ClientModes, cfg.Producers = slices.Clone(r.ClientModes), slices.Clone(r.Producers)
	if r.Interval > 0 {
		cfg.NemesisInterval = Duration(r.Interval)
	}
	if r.TimeLimit > 0 {
		cfg.TimeLimit = Duration(r.TimeLimit)
	}
	if opts.TimeLimit > 0 {
		cfg.TimeLimit = Duration(opts.TimeLimit)
	}
	if r.StartGap > 0 {
		// The row's gap is every gap: it is tuned to the bug's patience.
		cfg.StartGap, cfg.LongStartGap = Duration(r.StartGap), Duration(r.StartGap)
	}
	if opts.Short {
		// Shorter waits at the end keep make test bounded; a healthy
		// cluster recovers and drains in seconds.
		cfg.RecoverTimeout = Duration(30 * time.Second)
		cfg.DrainTimeout = Duration(30 * time.Second)
	}
	cfg.CommandLine = append([]string{"chaos", "validate"}, "--rows", r.Name)
	return cfg
}

// builtImage reads back the image tag a run used (test.json).
func builtImage(runDir string) string {
	if runDir == "" {
		return ""
	}
	var c Config
	b, err := os.ReadFile(filepath.Join(runDir, TestFile))
	if err != nil || json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.Image
}

func validateOne(ctx context.Context, cfg Config, opts ValidateOptions, out io.Writer) ValidateRun {
	start := time.Now()
	w := io.Discard
	if opts.Verbose {
		w = out
	}
	o, err := Run(ctx, cfg, w)
	run := ValidateRun{Seed: cfg.Seed, Wall: time.Since(start), FirstAnomaly: -1}
	if o != nil {
		run.RunDir = o.RunDir
	}
	if err != nil {
		run.Err = err
		return run
	}
	if o.Err != nil {
		run.Err = o.Err
	}
	run.Valid, run.Checked = o.Valid, true
	an, err := AnalyzeRun(o.RunDir)
	if err != nil {
		run.Err = errors.Join(run.Err, err)
		return run
	}
	run.Anomalies, run.FirstAnomaly = an.Anomalies, an.First
	return run
}

func runLine(r ValidateRow, run ValidateRun) string {
	if run.Err != nil && !run.Checked {
		return fmt.Sprintf("ERROR %v (run dir %s)", run.Err, orNone([]string{run.RunDir}))
	}
	first := "–"
	if run.FirstAnomaly >= 0 {
		first = run.FirstAnomaly.Round(100 * time.Millisecond).String()
	}
	s := fmt.Sprintf("verdict %s, anomalies %s, first anomaly at %s, wall %s, %s",
		validityWord(run.Valid), orNone(run.Anomalies), first, run.Wall.Round(time.Second), run.RunDir)
	if run.Err != nil {
		s += fmt.Sprintf(" (infrastructure error after the history: %v)", run.Err)
	}
	return s
}

func validityWord(v verdict.Validity) string {
	switch v {
	case verdict.True:
		return "valid"
	case verdict.False:
		return "INVALID"
	default:
		return "unknown"
	}
}
