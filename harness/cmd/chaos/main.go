// Command chaos is the Jepsen-style harness for chronik-server: it deploys a
// cluster in Docker, drives Kafka clients while nemeses inject faults, and
// checks the recorded history. See DESIGN.md and the README.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit codes of chaos run and chaos check (contract, DESIGN.md).
const (
	exitValid   = 0
	exitInvalid = 1
	exitUsage   = 2
	exitUnknown = 3
	exitInfra   = 4
)

// command is one subcommand. Each lives in its own file and registers itself
// in init, so subcommands can be developed independently.
type command struct {
	summary string
	run     func(args []string) int
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string) int) {
	if _, dup := commands[name]; dup {
		panic("chaos: duplicate command " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

// interruptible adapts a subcommand body to the registry: Ctrl-C (SIGINT)
// or SIGTERM cancels its context, so long runs clean up before exiting.
func interruptible(body func(ctx context.Context, args []string, stdout, stderr io.Writer) int) func([]string) int {
	return func(args []string) int {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return body(ctx, args, os.Stdout, os.Stderr)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: chaos <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nrun 'chaos <command> -h' for a command's flags")
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(exitUsage)
	}
	name := os.Args[1]
	if name == "-h" || name == "--help" || name == "help" {
		usage()
		os.Exit(0)
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "chaos: unknown command %q\n", name)
		usage()
		os.Exit(exitUsage)
	}
	os.Exit(cmd.run(os.Args[2:]))
}
