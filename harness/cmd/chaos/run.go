package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/harness"
)

func init() {
	register("run", "deploy a cluster in Docker, run workload and nemeses, check the history", runRun)
}

// runRun is `chaos run [flags]` (DESIGN.md). Ctrl-C (SIGINT) or SIGTERM
// cancels the run; the cluster is removed either way. With --test-count N
// the tests run one after another with seeds seed, seed+1, ...; the exit
// code is the worst of them.
var runRun = interruptible(runMain)

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := harness.ParseRunFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitValid
		}
		fmt.Fprintf(stderr, "chaos run: %v\n", err)
		return exitUsage
	}
	worst := exitValid
	seed := cfg.Seed
	for i := 0; i < cfg.TestCount; i++ {
		c := cfg
		if seed != 0 {
			c.Seed = seed + int64(i)
		}
		code := runOne(ctx, c, stdout, stderr)
		worst = worse(worst, code)
		if ctx.Err() != nil {
			break
		}
	}
	return worst
}

func runOne(ctx context.Context, cfg harness.Config, stdout, stderr io.Writer) int {
	o, err := harness.Run(ctx, cfg, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "chaos run: %v\n", err)
		if o != nil && o.RunDir != "" {
			fmt.Fprintf(stderr, "chaos run: partial run in %s (chaos.log, node logs)\n", o.RunDir)
		}
		switch {
		case errors.Is(err, harness.ErrUsage):
			return exitUsage
		default:
			return exitInfra
		}
	}
	first := "none"
	if o.FirstOp > 0 {
		first = fmt.Sprintf("%.1fs after start", o.FirstOp.Seconds())
	}
	fmt.Fprintf(stdout, "\noperations: %d (ok %d, fail %d, info %d), %.0f ops/s during the workload; first client op %s; wall %.1fs\n",
		o.Ops, o.OK, o.Fail, o.Info, o.OpsPerSec, first, o.Wall.Seconds())
	fmt.Fprintf(stdout, "anomalies: %s\n", harness.CountsLine(o.Counts))
	latest := filepath.Join(cfg.Store, harness.LatestLink)
	switch o.Valid {
	case verdict.True:
		fmt.Fprintf(stdout, "verdict: VALID\nstore: %s -> %s\n", latest, o.RunDir)
		return exitValid
	case verdict.False:
		fmt.Fprintf(stdout, "verdict: INVALID (anomalies found)\nstore: %s -> %s\n", latest, o.RunDir)
		return exitInvalid
	default:
		fmt.Fprintf(stdout, "verdict: UNKNOWN (a checker could not decide in time)\nstore: %s -> %s\n", latest, o.RunDir)
		return exitUnknown
	}
}

// worse orders exit codes by severity: infrastructure > invalid > unknown
// > usage > valid.
func worse(a, b int) int {
	rank := map[int]int{exitValid: 0, exitUsage: 1, exitUnknown: 2, exitInvalid: 3, exitInfra: 4}
	if rank[b] > rank[a] {
		return b
	}
	return a
}
