package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/chronik-chaos/chronik/harness"
)

// This file holds what the subcommands that act on one stored run (chaos
// replay, chaos shrink) share: the RUN_DIR argument, loading the run, and
// the exit code of a failed search.

// parseRunDirArgs parses args with fs, taking RUN_DIR from before or after
// the flags (the flag package stops at the first non-flag). ok is false
// when the command should end with code: -h (exitValid) or a usage error.
func parseRunDirArgs(fs *flag.FlagSet, args []string) (dir string, code int, ok bool) {
	dir, rest := splitDirArg(args)
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", exitValid, false
		}
		return "", exitUsage, false
	}
	if dir == "" && fs.NArg() == 1 {
		dir = fs.Arg(0)
	} else if fs.NArg() > 0 || dir == "" {
		fs.Usage()
		return "", exitUsage, false
	}
	return dir, 0, true
}

// splitDirArg takes a leading RUN_DIR argument off args, so that flags may
// follow it.
func splitDirArg(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

// loadRecordedRun loads the stored run in dir for command, with image in
// place of the run's own image tag unless it is "".
func loadRecordedRun(command, dir, image string, stderr io.Writer) (*harness.Recorded, bool) {
	rec, err := harness.LoadRecorded(dir)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", command, err)
		return nil, false
	}
	if image != "" {
		rec.Config.Image = image
	}
	return rec, true
}

// searchErrCode reports err of command's runs and maps it to an exit code:
// a usage error (a run that cannot be replayed) or an infrastructure error.
func searchErrCode(command string, err error, stderr io.Writer) int {
	fmt.Fprintf(stderr, "%s: %v\n", command, err)
	if errors.Is(err, harness.ErrUsage) {
		return exitUsage
	}
	return exitInfra
}

func orNoneList(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ",")
}
