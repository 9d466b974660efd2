package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/chronik-chaos/chronik/docker"
)

func init() {
	register("clean", "remove containers and networks earlier runs left (labelled only)", runClean)
}

// runClean is `chaos clean [--images]`: it removes every container and
// network labelled chronik-chaos=1 (and with --images the broker images).
// Nothing without the label is touched.
func runClean(args []string) int {
	fs := flag.NewFlagSet("clean", flag.ContinueOnError)
	images := fs.Bool("images", false, "also remove the chronik-server images (rebuilt on the next run)")
	run := fs.String("run", "", "only remove the objects of this run id")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitValid
		}
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eng, err := docker.Connect(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos clean: %v\n", err)
		return exitInfra
	}
	defer eng.Close()
	res, err := docker.Clean(ctx, eng, docker.CleanOptions{RunID: *run, Images: *images}, slog.New(slog.DiscardHandler))
	fmt.Printf("removed %d containers, %d networks, %d images\n", res.Containers, res.Networks, res.Images)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos clean: %v\n", err)
		return exitInfra
	}
	return exitValid
}
