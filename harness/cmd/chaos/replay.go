package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/chronik-chaos/chronik/harness"
)

func init() {
	register("replay", "re-run a stored run with its configuration and its recorded nemesis timeline", runReplay)
}

// runReplay is `chaos replay RUN_DIR [--tries N]`: the stored run's
// configuration (test.json) and the nemesis timeline its history recorded,
// each fault at its recorded offset on its recorded nodes, N times. Exit 0
// when every try reproduced the verdict and every anomaly name of the
// original, 1 when one did not, 2 on usage errors, 4 on an infrastructure
// error.
var runReplay = interruptible(replayMain)

func replayMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chaos replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tries := fs.Int("tries", 1, "how many times to replay the run")
	image := fs.String("image", "", "broker image tag to use (default: the run's own, from test.json; rebuilt when it had none)")
	verbose := fs.Bool("v", false, "print each try's progress lines")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: chaos replay RUN_DIR [--tries N] [--image TAG] [-v]")
		fs.PrintDefaults()
	}
	dir, code, ok := parseRunDirArgs(fs, args)
	if !ok {
		return code
	}
	if *tries < 1 || *tries > 100 {
		fmt.Fprintln(stderr, "chaos replay: --tries must be in 1..100")
		return exitUsage
	}
	rec, ok := loadRecordedRun("chaos replay", dir, *image, stderr)
	if !ok {
		return exitUsage
	}
	fmt.Fprintf(stdout, "replaying %s: seed %d, %s, %d faults (%s), time limit %s; original verdict %s, anomalies %s\n",
		dir, rec.Config.Seed, rec.Config.Name, rec.Schedule.Faults(), strings.Join(rec.Schedule.Families(), ","),
		rec.Config.TimeLimit.D(), rec.Valid, orNoneList(rec.Anomalies))
	progress := io.Discard
	if *verbose {
		progress = stdout
	}
	res, err := harness.Replay(ctx, rec, *tries, stdout, progress)
	verdicts, same, identical := 0, 0, 0
	for _, t := range res {
		if t.SameVerdict {
			verdicts++
		}
		if t.Same {
			same++
		}
		if t.Identical {
			identical++
		}
	}
	fmt.Fprintf(stdout, "replay: verdict reproduced %d/%d; with every anomaly name of the original %d/%d (exactly the same names %d/%d)\n",
		verdicts, len(res), same, len(res), identical, len(res))
	if err != nil {
		return searchErrCode("chaos replay", err, stderr)
	}
	if same < len(res) {
		return exitInvalid
	}
	return exitValid
}
