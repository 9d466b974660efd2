package harness

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/harness/shrink"
)

// ShrinkFile is the summary `chaos shrink` writes into the run of the
// smallest failing candidate (docs/contracts.md, "Replay and shrink").
const ShrinkFile = "shrink.json"

// shrinkRunner runs shrink candidates of a recorded run in Docker, each a
// new run in the store linked to the original (replay_of, shrink_step).
type shrinkRunner struct {
	rec      *Recorded
	out      io.Writer
	progress io.Writer
}

func (sr *shrinkRunner) Run(ctx context.Context, c shrink.Candidate, step int) (shrink.Trial, error) {
	cfg := sr.rec.ReplayConfig(c.Schedule)
	cfg.TimeLimit = Duration(c.TimeLimit)
	cfg.Nodes = c.Nodes
	cfg.ShrinkStep = step
	o, err := Run(ctx, cfg, prefixed(sr.progress, "    "))
	if err != nil {
		return shrink.Trial{}, err
	}
	t := shrink.Trial{Invalid: o.Valid == verdict.False, Anomalies: FatalAnomalies(o.Results), RunDir: o.RunDir}
	fmt.Fprintf(sr.out, "  try: valid %s, anomalies %s, wall %s, %s\n", o.Valid, orNone(t.Anomalies), o.Wall.Round(time.Second), o.RunDir)
	return t, nil
}

// ShrinkOptions tune ShrinkRun (see shrink.Options).
type ShrinkOptions struct {
	Budget      time.Duration
	Tries, Need int
	// Progress gets every candidate run's progress lines (io.Discard for
	// none).
	Progress io.Writer
}

// ShrinkSummary is shrink.json: the original, the smallest failing
// candidate, and every step.
type ShrinkSummary struct {
	Original      string          `json:"original"`
	OriginalFault int             `json:"original_faults"`
	OriginalLimit Duration        `json:"original_time_limit"`
	OriginalNodes int             `json:"original_nodes"`
	Faults        int             `json:"faults"`
	TimeLimit     Duration        `json:"time_limit"`
	Nodes         int             `json:"nodes"`
	Anomalies     []string        `json:"anomalies"`
	Steps         []ShrinkStepSum `json:"steps"`
	Exhausted     bool            `json:"budget_exhausted"`
	Budget        Duration        `json:"budget"`
	Took          Duration        `json:"took"`
}

// ShrinkStepSum is one step of shrink.json.
type ShrinkStepSum struct {
	N         int      `json:"n"`
	What      string   `json:"what"`
	Faults    int      `json:"faults"`
	TimeLimit Duration `json:"time_limit"`
	Nodes     int      `json:"nodes"`
	Failed    int      `json:"failed"`
	Tries     int      `json:"tries"`
	Kept      bool     `json:"kept"`
	Runs      []string `json:"runs"`
}

// ShrinkRun shrinks the recorded failing run rec (see package shrink),
// each candidate a new run in the store, and writes shrink.json into the
// run of the smallest failing candidate. The result's RunDir is empty when
// no smaller candidate failed.
func ShrinkRun(ctx context.Context, rec *Recorded, opts ShrinkOptions, out io.Writer) (*shrink.Result, error) {
	if rec.Valid != verdict.False || len(rec.Anomalies) == 0 {
		return nil, fmt.Errorf("%w: %s is not a failing run (valid %s, anomalies %s)", ErrUsage, rec.Dir, rec.Valid, orNone(rec.Anomalies))
	}
	orig := shrink.Candidate{Schedule: rec.Schedule, TimeLimit: rec.Config.TimeLimit.D(), Nodes: rec.Config.Nodes}
	sr := &shrinkRunner{rec: rec, out: out, progress: opts.Progress}
	res, err := shrink.Shrink(ctx, orig, sr, shrink.Options{
		Want: rec.Anomalies, Tries: opts.Tries, Need: opts.Need, Budget: opts.Budget,
		WorkloadStart: rec.WorkloadStart, NodeNames: rec.nodeNames(), Out: out,
	})
	if res == nil || res.RunDir == "" {
		return res, err
	}
	sum := ShrinkSummary{
		Original: rec.Dir, OriginalFault: orig.Schedule.Faults(), OriginalLimit: Duration(orig.TimeLimit), OriginalNodes: orig.Nodes,
		Faults: res.Smallest.Schedule.Faults(), TimeLimit: Duration(res.Smallest.TimeLimit), Nodes: res.Smallest.Nodes,
		Anomalies: res.Anomalies, Exhausted: res.Exhausted, Budget: Duration(opts.Budget), Took: Duration(res.Took),
	}
	for _, st := range res.Steps {
		sum.Steps = append(sum.Steps, ShrinkStepSum{N: st.N, What: st.What, Faults: st.Candidate.Schedule.Faults(),
			TimeLimit: Duration(st.Candidate.TimeLimit), Nodes: st.Candidate.Nodes, Failed: st.Fails, Tries: len(st.RunDirs), Kept: st.Kept, Runs: st.RunDirs})
	}
	if werr := writeJSON(filepath.Join(res.RunDir, ShrinkFile), sum); werr != nil && err == nil {
		err = infra("%w", werr)
	}
	return res, err
}

// nodeNames are the original run's nodes in order (n1, n2, ... when
// test.json did not record them).
func (rec *Recorded) nodeNames() []string {
	if len(rec.nodes) > 0 {
		return rec.nodes
	}
	var out []string
	for i := 1; i <= rec.Config.Nodes; i++ {
		out = append(out, fmt.Sprintf("n%d", i))
	}
	return out
}
