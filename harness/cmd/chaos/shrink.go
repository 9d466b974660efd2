package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/harness"
	"github.com/chronik-chaos/chronik/nemesis"
)

func init() {
	register("shrink", "make a failing run's fault timeline and workload smaller while it still fails", runShrink)
}

// runShrink is `chaos shrink RUN_DIR [--budget 20m] [--tries K] [--need M]`:
// delta debugging over the failing run's faults, then shorter fault
// windows, a shorter workload and fewer nodes, each candidate a run in the
// store; it ends with the smallest failing candidate and the command that
// replays it. Exit 0 when a smaller failing candidate was found, 1 when
// none was (the original stays the smallest), 2 on usage errors (a run
// that did not fail included), 4 on an infrastructure error.
var runShrink = interruptible(shrinkMain)

func shrinkMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chaos shrink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	budget := fs.Duration("budget", 20*time.Minute, "time for the whole search (a candidate started in time is finished)")
	tries := fs.Int("tries", 1, "runs per candidate")
	need := fs.Int("need", 0, "runs of a candidate that must fail with an anomaly of the original's names (default: a majority of --tries)")
	image := fs.String("image", "", "broker image tag to use (default: the run's own, from test.json)")
	verbose := fs.Bool("v", false, "print every candidate run's progress lines")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: chaos shrink RUN_DIR [--budget 20m] [--tries K] [--need M] [--image TAG] [-v]")
		fs.PrintDefaults()
	}
	dir, code, ok := parseRunDirArgs(fs, args)
	if !ok {
		return code
	}
	if *tries < 1 || *tries > 20 || *budget <= 0 {
		fmt.Fprintln(stderr, "chaos shrink: --tries must be in 1..20 and --budget positive")
		return exitUsage
	}
	if *need == 0 {
		*need = *tries/2 + 1
	}
	if *need < 1 || *need > *tries {
		fmt.Fprintln(stderr, "chaos shrink: --need must be in 1..--tries")
		return exitUsage
	}
	rec, ok := loadRecordedRun("chaos shrink", dir, *image, stderr)
	if !ok {
		return exitUsage
	}
	fmt.Fprintf(stdout, "shrinking %s: seed %d, %s; anomalies %s; budget %s, %d of %d tries must fail\n",
		dir, rec.Config.Seed, rec.Config.Name, orNoneList(rec.Anomalies), *budget, *need, *tries)
	progress := io.Discard
	if *verbose {
		progress = stdout
	}
	res, err := harness.ShrinkRun(ctx, rec, harness.ShrinkOptions{Budget: *budget, Tries: *tries, Need: *need, Progress: progress}, stdout)
	if res != nil {
		o, s := res.Original, res.Smallest
		fmt.Fprintf(stdout, "\nshrink: %d steps in %s%s\n", len(res.Steps), res.Took.Round(time.Second), map[bool]string{true: " (budget used up)", false: ""}[res.Exhausted])
		fmt.Fprintf(stdout, "original: %s\nsmallest: %s\n", o, s)
		for _, a := range s.Schedule.Actions {
			what := "start"
			if a.Stop {
				what = "stop"
			}
			fmt.Fprintf(stdout, "  %8s  %-9s %-5s %s\n", a.At.Round(10*time.Millisecond), a.Family, what, actionNodes(a))
		}
		if res.RunDir != "" {
			fmt.Fprintf(stdout, "smallest failing run: %s (anomalies %s; report %s/index.html, summary %s/%s)\nreplay it: chaos replay %s --tries 3\n",
				res.RunDir, orNoneList(res.Anomalies), res.RunDir, res.RunDir, harness.ShrinkFile, res.RunDir)
		} else {
			fmt.Fprintf(stdout, "no smaller candidate failed: the original stays the smallest\n")
		}
	}
	if err != nil {
		return searchErrCode("chaos shrink", err, stderr)
	}
	if res.RunDir == "" {
		return exitInvalid
	}
	return exitValid
}

// actionNodes shows what a start acts on: its nodes, a partition's cuts.
func actionNodes(a nemesis.Action) string {
	var parts []string
	if len(a.Nodes) > 0 {
		parts = append(parts, "nodes "+strings.Join(a.Nodes, ","))
	}
	if len(a.Cuts) > 0 {
		parts = append(parts, fmt.Sprintf("cuts %v", a.Cuts))
	}
	return strings.Join(parts, "; ")
}
