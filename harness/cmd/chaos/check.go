package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/kafka"
	"github.com/chronik-chaos/chronik/checkers/replicas"
	"github.com/chronik-chaos/chronik/checkers/verdict"
)

func init() {
	register("check", "re-check a saved history offline", runCheck)
}

// runCheck is `chaos check HISTORY.jsonl [--out DIR] [--time-limit D]`.
// When the history's directory holds replicas.jsonl (every node's copy of
// every partition, read at the end of the run), the replicas checker runs
// too. It writes results.json (and linearizability.html when a partition is not
// linearizable) into DIR, which defaults to the history's directory, and
// prints a short verdict.
//
// Exit codes (DESIGN.md): 0 valid, 1 anomalies found, 3 unknown, 2 usage
// error. A history that cannot be opened or breaks the history contract is
// a usage error (2): the input given on the command line is bad, and no
// verdict about the system under test can be drawn from it. Failing to
// write results is an infrastructure error (4).
func runCheck(args []string) int {
	return checkMain(context.Background(), args, os.Stdout, os.Stderr)
}

func checkMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory for results.json and linearizability.html (default: the history's directory)")
	limit := fs.Duration("time-limit", checkers.DefaultTimeLimit, "time budget of the check; undecided checkers report unknown")
	examples := fs.Int("examples", 20, "examples kept per anomaly")
	allowUnseen := fs.Bool("allow-unseen", false, "treat acknowledged-but-never-read writes as non-fatal (histories without a final drain)")
	verbose := fs.Bool("v", false, "log progress to stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: chaos check HISTORY.jsonl [--out DIR] [--time-limit 5m] [--examples 20] [--allow-unseen] [-v]")
		fs.PrintDefaults()
	}
	// Accept flags before and after the history path.
	var paths []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitValid
			}
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(paths) != 1 {
		fmt.Fprintf(stderr, "chaos check: want exactly one history file, got %d\n", len(paths))
		fs.Usage()
		return exitUsage
	}
	if *limit <= 0 || *examples <= 0 {
		fmt.Fprintln(stderr, "chaos check: --time-limit and --examples must be positive")
		return exitUsage
	}
	path := paths[0]
	dir := *out
	if dir == "" {
		dir = filepath.Dir(path)
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()

	start := time.Now()
	res, err := checkers.Check(ctx, path, checkers.Options{
		TimeLimit:   *limit,
		OutDir:      dir,
		MaxExamples: *examples,
		Logger:      logger,
		Kafka:       kafka.Options{AllowUnseen: *allowUnseen},
	})
	if err != nil {
		fmt.Fprintf(stderr, "chaos check: %v\n", err)
		return exitUsage
	}
	// The copies of every partition a run read from every node
	// (replicas.jsonl beside the history) are compared again too.
	rr, err := replicas.CheckDir(ctx, path, *examples)
	if err != nil {
		fmt.Fprintf(stderr, "chaos check: %v\n", err)
		return exitUsage
	}
	if rr != nil {
		res.Add(replicas.Name, rr)
	}
	if err := checkers.WriteResults(dir, res); err != nil {
		fmt.Fprintf(stderr, "chaos check: %v\n", err)
		return exitInfra
	}
	printVerdict(stdout, res, dir, time.Since(start))
	switch res.Valid {
	case verdict.True:
		return exitValid
	case verdict.False:
		return exitInvalid
	default:
		return exitUnknown
	}
}

// printVerdict writes a few lines: the verdict, each checker's verdict and
// the anomaly counts, and where the files went.
func printVerdict(w io.Writer, res *checkers.Results, dir string, took time.Duration) {
	label := map[verdict.Validity]string{verdict.True: "VALID", verdict.False: "INVALID", verdict.Unknown: "UNKNOWN"}[res.Valid]
	fmt.Fprintf(w, "%s  (%d lines checked in %.1fs)\n", label, res.Lines, took.Seconds())
	names := make([]string, 0, len(res.Checkers))
	for n := range res.Checkers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-13s %s\n", n, res.Checkers[n].CheckerValid())
	}
	counts := res.Counts()
	if len(counts) > 0 {
		ns := make([]string, 0, len(counts))
		for n := range counts {
			ns = append(ns, n)
		}
		sort.Strings(ns)
		parts := make([]string, 0, len(ns))
		for _, n := range ns {
			parts = append(parts, fmt.Sprintf("%s=%d", n, counts[n]))
		}
		fmt.Fprintf(w, "  anomalies: %s\n", strings.Join(parts, " "))
	}
	fmt.Fprintf(w, "  results: %s\n", filepath.Join(dir, checkers.ResultsFile))
}
