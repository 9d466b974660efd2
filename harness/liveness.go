package harness

import (
	"fmt"
	"path"
	"time"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/docker"
	"github.com/chronik-chaos/chronik/nemesis"
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
	// AnomalyRefusedCorruptStore: a node refused to start on the store the
	// corrupt nemesis damaged (exit code 3, its error naming the file).
	// That is the broker doing what it must, so it is reported but allowed
	// (not fatal): the node stays down for the rest of the run.
	AnomalyRefusedCorruptStore = "refused-corrupt-store"
)

// notRecovered describes a node that was not ready after the heal.
type notRecovered struct {
	Node      string
	At        time.Time // when the recovery wait gave up on it
	State     string
	LastError string
	LastLines []string
}

// livenessResult is the harness's own checker: the history cannot show that
// a node died on its own (clients just fail over), so the container
// engine's record of unexpected exits is checked here, each with the node's
// last log lines; and a node that never became ready again after the final
// heal is reported with its state. A node that refused its damaged store
// (refused) is neither: it is an allowed refused-corrupt-store. Times are
// history times (ns since base).
func livenessResult(exits []docker.Exit, stuck []notRecovered, refused []nemesis.Refusal, base time.Time) *checkers.Extra {
	col := verdict.NewCollector(maxLogExamples)
	for _, r := range refused {
		why := fmt.Sprintf("%s refused to start on its damaged store (exit code %d; %s %s): %s", r.Node, r.ExitCode, r.Corrupted.Kind, r.Corrupted.File, r.Err)
		if r.File != "" {
			why += "; the broker named " + r.File
		}
		col.Add(AnomalyRefusedCorruptStore, verdict.Case{
			Ops: []int64{}, Fatal: false, Explanation: why,
			Time: verdict.At(int64(r.At.Sub(base))), Node: r.Node, Log: tailLines(r.Node, []string{r.Line}),
		})
	}
	for _, e := range exits {
		why := fmt.Sprintf("%s exited on its own with code %d", e.Node, e.ExitCode)
		if e.OOM {
			why += ", killed for running out of memory"
		}
		col.Add(AnomalyNodeExited, verdict.Case{
			Ops: []int64{}, Fatal: true, Explanation: why,
			Time: verdict.At(int64(e.At.Sub(base))), Node: e.Node, Log: tailLines(e.Node, e.Tail),
		})
	}
	for _, s := range stuck {
		why := fmt.Sprintf("%s was not ready after the final heal and the recovery wait (state %s)", s.Node, s.State)
		if s.LastError != "" {
			why += "; last readiness error: " + s.LastError
		}
		col.Add(AnomalyNotRecovered, verdict.Case{
			Ops: []int64{}, Fatal: true, Explanation: why,
			Time: verdict.At(int64(s.At.Sub(base))), Node: s.Node, Log: tailLines(s.Node, s.LastLines),
		})
	}
	errs := col.Errors()
	fatal := 0
	for _, a := range errs {
		fatal += a.FatalCount
	}
	return &checkers.Extra{
		Valid:  verdict.Of(fatal == 0),
		Errors: errs,
		Fields: map[string]any{"unexpected_exits": len(exits), "refused_stores": len(refused)},
	}
}

// maxLogExamples caps the examples per anomaly of the harness's log-based
// checkers.
const maxLogExamples = 20

// tailLines cites the last lines of a node's log, as the container engine
// returned them (without line numbers).
func tailLines(node string, tail []string) []verdict.LogLine {
	out := make([]verdict.LogLine, 0, len(tail))
	for _, l := range tail {
		out = append(out, verdict.LogLine{File: nodeLogPath(node), Text: l})
	}
	return out
}

// nodeLogPath is a node's log relative to the run directory (store
// contract: nK/chronik-server.log).
func nodeLogPath(node string) string { return path.Join(node, NodeLogFile) }
