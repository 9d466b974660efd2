package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/harness"
)

func init() {
	register("validate", "run the seeded-bug catalogue and the correct broker; print the detection power table", runValidate)
}

// runValidate is `chaos validate`: every seeded broker bug of the
// catalogue under the nemeses that should expose it, and the correct
// broker under every fault family. Exit 0 when every bug run was caught and
// no correct-broker run raised an alarm, 1 otherwise, 2 on usage errors, 4
// when a run failed for infrastructure reasons.
var runValidate = interruptible(validateMain)

func validateMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseValidateFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitValid
		}
		fmt.Fprintf(stderr, "chaos validate: %v\n", err)
		return exitUsage
	}
	rep, err := harness.Validate(ctx, opts, stdout)
	if rep != nil {
		rep.WriteTable(stdout)
	}
	switch {
	case errors.Is(err, harness.ErrUsage):
		fmt.Fprintf(stderr, "chaos validate: %v\n", err)
		return exitUsage
	case err != nil:
		fmt.Fprintf(stderr, "chaos validate: %v\n", err)
		return exitInfra
	case rep.InfraErrors() > 0:
		fmt.Fprintf(stderr, "chaos validate: %d run(s) failed for infrastructure reasons\n", rep.InfraErrors())
		return exitInfra
	case !rep.AllCaught():
		fmt.Fprintln(stdout, "\nvalidate: NOT every bug caught in every run, or a false alarm (see the table)")
		return exitInvalid
	}
	fmt.Fprintln(stdout, "\nvalidate: every seeded bug caught in every run; no false alarm")
	return exitValid
}

func parseValidateFlags(args []string, stderr io.Writer) (harness.ValidateOptions, error) {
	opts := harness.ValidateOptions{Seeds: 3, CorrectRuns: 20, Store: "store", Seed: 1}
	fs := flag.NewFlagSet("chaos validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rows string
	var timeLimit time.Duration
	fs.IntVar(&opts.Seeds, "seeds", opts.Seeds, "runs (seeds) per seeded bug")
	fs.IntVar(&opts.CorrectRuns, "correct-runs", opts.CorrectRuns, "runs of the correct broker, spread over the fault families")
	fs.DurationVar(&timeLimit, "time-limit", 0, "workload time limit of every run (default: each row's own, at most 90s)")
	fs.StringVar(&rows, "rows", "", "comma-separated row names or prefixes to run (default all), e.g. no-dedup,correct")
	fs.BoolVar(&opts.Short, "short", false, "one seed per bug, short runs, one correct-broker run (make test)")
	fs.StringVar(&opts.Store, "store", opts.Store, "store directory")
	fs.Int64Var(&opts.Seed, "seed", opts.Seed, "first seed; run i of a row uses seed+i")
	fs.StringVar(&opts.Image, "image", "", "broker image tag to use instead of building one")
	fs.BoolVar(&opts.Verbose, "v", false, "print each run's progress lines")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return opts, err
		}
		return opts, fmt.Errorf("%w: %w", harness.ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return opts, fmt.Errorf("%w: unexpected arguments %q", harness.ErrUsage, fs.Args())
	}
	switch {
	case opts.Seeds < 1:
		return opts, fmt.Errorf("%w: --seeds must be at least 1", harness.ErrUsage)
	case opts.CorrectRuns < 0:
		return opts, fmt.Errorf("%w: --correct-runs must not be negative", harness.ErrUsage)
	case timeLimit < 0 || timeLimit > 2*time.Minute:
		return opts, fmt.Errorf("%w: --time-limit must be in (0, 2m]", harness.ErrUsage)
	}
	opts.TimeLimit = timeLimit
	opts.Rows = strings.FieldsFunc(rows, func(r rune) bool { return r == ',' || r == ' ' })
	return opts, nil
}
