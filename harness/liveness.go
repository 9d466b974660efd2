package harness

import (
	"time"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/docker"
)

// LivenessName is the liveness checker's section in results.json.
const LivenessName = "liveness"

// Liveness anomaly names.
const (
	// AnomalyNodeExited: a broker process ended on its own during the run
	// (the nemesis did not kill it): a crash, a fatal error, or giving up
	// (e.g. a registration patience shorter than the staggered start).
	AnomalyNodeExited = "node-exited"
	// AnomalyNotRecovered: after the final heal a node did not become
	// ready within the recovery wait.
	AnomalyNotRecovered = "not-recovered"
)

// notRecovered describes a node that was not ready after the heal.
type notRecovered struct {
	Node      string   `json:"node"`
	State     string   `json:"state"`
	LastError string   `json:"last_error,omitempty"`
	LastLines []string `json:"last_lines"`
}

// livenessResult is the harness's own checker: the history cannot show that
// a node died on its own (clients just fail over), so the container
// engine's record of unexpected exits is checked here, each with the node's
// last log lines.
func livenessResult(exits []docker.Exit, stuck []notRecovered, base time.Time) *checkers.Extra {
	type example struct {
		Node      string   `json:"node"`
		Time      int64    `json:"time"` // ns since the test started, like history times
		ExitCode  int      `json:"exit_code"`
		OOM       bool     `json:"oom,omitempty"`
		LastLines []string `json:"last_lines"`
	}
	errs := map[string]any{}
	if len(exits) > 0 {
		var ex []example
		for _, e := range exits {
			ex = append(ex, example{Node: e.Node, Time: int64(e.At.Sub(base)), ExitCode: e.ExitCode, OOM: e.OOM, LastLines: e.Tail})
		}
		errs[AnomalyNodeExited] = map[string]any{"count": len(ex), "examples": ex}
	}
	if len(stuck) > 0 {
		errs[AnomalyNotRecovered] = map[string]any{"count": len(stuck), "examples": stuck}
	}
	return &checkers.Extra{
		Valid:  verdict.Of(len(errs) == 0),
		Fields: map[string]any{"errors": errs, "unexpected_exits": len(exits)},
	}
}
