package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/chronik-chaos/chronik/docker"
)

func init() {
	register("agent", "fault-agent mode, run inside a node's agent container (wait | net JSON)", runAgent)
}

// runAgent is `chaos agent wait` (the agent container's main process: it
// only waits for its stop signal, being PID 1 it must handle SIGTERM
// itself) and `chaos agent net JSON` (one network operation in this
// process's network namespace, which is the node's, answering one JSON
// docker.NetResult on stdout; exit 1 when the operation failed). See
// docker/agent.go for why each operation is an exec of its own.
func runAgent(args []string) int {
	return agentMain(context.Background(), args, os.Stdout, os.Stderr)
}

func agentMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: chaos agent wait | chaos agent net JSON")
		return exitUsage
	}
	switch args[0] {
	case "wait":
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		<-ctx.Done()
		return exitValid
	case "net":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: chaos agent net JSON")
			return exitUsage
		}
		res := docker.RunAgentOp(ctx, []byte(args[1]))
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			fmt.Fprintf(stderr, "chaos agent: write answer: %v\n", err)
			return 1
		}
		if res.Error != "" {
			return 1
		}
		return exitValid
	}
	fmt.Fprintf(stderr, "chaos agent: unknown mode %q (want wait or net)\n", args[0])
	return exitUsage
}
