package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/chronik-chaos/chronik/reports"
)

func init() {
	register("report", "re-render every run's report and the store index from saved files", runReport)
}

// runReport implements `chaos report STORE_DIR`. It re-renders every run
// directory it finds (store/<test>/<timestamp>/), then the index. A run that
// fails to render is reported and skipped so that one damaged directory
// does not hide the others; the exit status is then 1.
func runReport(args []string) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: chaos report STORE_DIR\n\nRe-renders store/<test>/<timestamp>/index.html for every run and store/index.html.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	store := fs.Arg(0)
	if st, err := os.Stat(store); err != nil || !st.IsDir() {
		fmt.Fprintf(os.Stderr, "chaos report: %s is not a directory\n", store)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	runs, err := reports.ListRuns(ctx, store)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos report: %v\n", err)
		return exitInfra
	}
	failed := 0
	for _, r := range runs {
		dir := filepath.Join(store, filepath.FromSlash(r.Dir))
		if err := reports.RenderRun(ctx, dir); err != nil {
			fmt.Fprintf(os.Stderr, "chaos report: %v\n", err)
			failed++
			continue
		}
		fmt.Printf("%-8s %s\n", r.Verdict, filepath.Join(dir, "index.html"))
	}
	if err := reports.RenderIndex(ctx, store); err != nil {
		fmt.Fprintf(os.Stderr, "chaos report: %v\n", err)
		return exitInvalid
	}
	fmt.Printf("index    %s (%d runs)\n", filepath.Join(store, "index.html"), len(runs))
	if failed > 0 {
		return exitInvalid
	}
	return exitValid
}
