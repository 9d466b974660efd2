package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/docker"
	"github.com/chronik-chaos/chronik/nemesis"
)

// ErrInfra marks infrastructure failures (exit code 4): no engine, a
// cluster that never became healthy, a fault that could not be verified.
var ErrInfra = errors.New("infrastructure error")

func infra(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInfra, fmt.Errorf(format, args...))
}

// Outcome is what a finished run reports.
type Outcome struct {
	RunDir string
	// RunID labels the run's Docker objects.
	RunID   string
	Results *checkers.Results
	Valid   verdict.Validity
	// Counts are the anomaly counts of every checker (liveness included).
	Counts map[string]int
	// Ops is the number of completed client operations in the history.
	Ops            int64
	OK, Fail, Info int64
	// OpsPerSec is the completion rate during the workload phase.
	OpsPerSec float64
	// OKPerSec is the rate of ok completions during the workload phase.
	OKPerSec float64
	// FirstOp is the time from the start of the run (before the image
	// build) to the first client operation.
	FirstOp time.Duration
	Wall    time.Duration
	// Err is reserved for an infrastructure error after which the run was
	// still checked; today every such error ends Run with an error
	// instead, so it is nil.
	Err error
}

// Run performs one test: deploy, run clients and nemeses, heal, recover,
// drain, tear down, check, write the store and render the reports.
// Progress goes to out. Errors wrap ErrUsage or ErrInfra; the cluster is
// removed on every path, including ctx being cancelled (Ctrl-C).
func Run(ctx context.Context, cfg Config, out io.Writer) (*Outcome, error) {
	wallStart := time.Now()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Seed == 0 {
		cfg.Seed = time.Now().UnixNano() & (1<<53 - 1)
		cfg.SeedSource = "clock"
	}
	cfg.StartTime = wallStart.UTC()
	// The process id keeps two runs of one seed started in the same
	// second by different processes apart: their containers, networks
	// and labels are named by the run id.
	cfg.RunID = fmt.Sprintf("%s-%04x-p%d", strings.ToLower(wallStart.UTC().Format("20060102t150405")), uint16(cfg.Seed), os.Getpid())

	// Connect first: without an engine there is nothing to record, so no
	// run directory is left behind.
	eng, err := docker.Connect(ctx)
	if err != nil {
		return nil, infra("%w", err)
	}
	defer eng.Close()

	runDir, err := newRunDir(cfg.Store, cfg.Name, wallStart)
	if err != nil {
		return nil, infra("%w", err)
	}
	logf, err := os.Create(filepath.Join(runDir, LogFile))
	if err != nil {
		return nil, infra("create chaos.log: %w", err)
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pr := &progress{w: out, base: wallStart}
	seedNote := ""
	if cfg.SeedSource == "clock" {
		seedNote = " (from the clock)"
	}
	pr.printf("test %s, seed %d%s, run dir %s", cfg.Name, cfg.Seed, seedNote, runDir)
	log.Info("run starting", "name", cfg.Name, "seed", cfg.Seed, "run_id", cfg.RunID)

	o := &Outcome{RunDir: runDir, RunID: cfg.RunID}
	r := &runner{cfg: cfg, log: log, pr: pr, out: o, runDir: runDir, start: wallStart, eng: eng}
	err = r.run(ctx)
	o.Wall = time.Since(wallStart)
	if err != nil {
		log.Error("run failed", "err", err)
		_ = writeJSON(filepath.Join(runDir, TestFile), r.cfg)
		return o, err
	}
	return o, nil
}

// runner holds one run's state across its phases.
type runner struct {
	cfg    Config
	log    *slog.Logger
	pr     *progress
	out    *Outcome
	runDir string
	start  time.Time

	eng      *docker.Engine
	cluster  *docker.Cluster
	rec      *Recorder
	hw       *history.Writer
	hfile    *os.File
	sched    *nemesis.Scheduler
	keys     *Keyspace
	stuck    []notRecovered
	histBase time.Time
	closers  []func()
	// dead: the nodes exited on their own during setup and no majority is
	// left; the run skips to the check, where liveness reports it.
	dead bool
	// startDone delivers the staggered start's outcome while it runs
	// concurrently with the first clients.
	startDone chan error
	// scraper reads every node's /metrics during the run (run_end.go);
	// stopScraper ends its loop.
	scraper     *metricsScraper
	stopScraper func()
}

func (r *runner) run(ctx context.Context) (err error) {
	eng := r.eng
	defer func() {
		for _, c := range r.closers {
			c()
		}
	}()

	image := r.cfg.Image
	if image == "" {
		spec := docker.BrokerImage()
		spec.Prebuilt = r.cfg.BrokerBinary
		image, err = docker.BuildImage(ctx, eng, spec, r.log)
		if err != nil {
			return infra("%w", err)
		}
	}
	r.cfg.Image = image
	ccfg := docker.ClusterConfig{
		RunID: r.cfg.RunID, Image: image, Nodes: r.cfg.Nodes, LogDir: r.runDir, BrokerArgs: r.cfg.NodeBrokerArgs(),
	}
	if err := r.placeCluster(ctx, &ccfg); err != nil {
		return err
	}
	c, err := docker.NewCluster(ctx, eng, ccfg, r.log)
	if err != nil {
		return infra("%w", err)
	}
	r.cluster = c
	r.cfg.ClientAccessUsed = c.ClientAccess()
	defer func() {
		// Tear down on every path, with a context Ctrl-C has not cancelled.
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if cerr := c.Close(tctx); cerr != nil {
			r.log.Warn("teardown", "err", cerr)
			if err == nil {
				err = infra("tear down: %w", cerr)
			}
		}
	}()
	r.cfg.NodeNames = c.Nodes()
	r.cfg.NodeArgs = map[string]string{}
	for _, n := range c.Nodes() {
		r.cfg.NodeArgs[n] = c.Describe(n)
	}
	r.pr.printf("setup: image %s, network %s, nodes %s, faults via %s, clients %s", image, c.Subnet(), strings.Join(c.Nodes(), ","), c.FaultPath(), c.ClientAccess())
	if err := writeJSON(filepath.Join(r.runDir, TestFile), r.cfg); err != nil {
		return infra("%w", err)
	}

	if err := r.openHistory(); err != nil {
		return err
	}
	histClosed := false
	defer func() {
		if !histClosed {
			r.closeHistory()
		}
	}()
	r.startScraper(ctx)
	defer func() {
		if r.stopScraper != nil {
			r.stopScraper()
		}
	}()

	sched, err := nemesis.NewScheduler(nemesis.Options{
		Faults: r.cfg.Faults(), Interval: r.cfg.NemesisInterval.D(),
		Targets: r.cfg.Targets, Grudges: r.cfg.Grudges, LeaderGroup: r.cfg.LeaderGroup,
		LossPercent: r.cfg.LossPercent, Delay: r.cfg.Delay.D(), ClientModes: r.cfg.ClientModes,
		CorruptKinds: r.cfg.CorruptKinds, JoinDelay: r.cfg.JoinDelay.D(),
	},
		c, SubRand(r.cfg.Seed, "nemesis"), r.log.With("component", "nemesis"))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	r.sched = sched

	if err := r.setup(ctx); err != nil {
		return err
	}
	if !r.dead {
		if err := r.workload(ctx); err != nil {
			return err
		}
		if err := r.healAndDrain(ctx); err != nil {
			return err
		}
	}
	if err := r.finishEvidence(ctx); err != nil {
		return err
	}
	r.closeHistory()
	histClosed = true
	ok, fail, info := r.rec.Counts()
	r.out.OK, r.out.Fail, r.out.Info, r.out.Ops = ok, fail, info, ok+fail+info
	if f := r.rec.FirstOp(); f > 0 {
		r.out.FirstOp = f + r.historyOffset()
	}

	// The member nemesis may have added nodes: every node the run had
	// left a log, and the checks read them all.
	r.cfg.NodeNames = c.StartedNodes()
	for _, n := range c.StartedNodes() {
		if _, ok := r.cfg.NodeArgs[n]; !ok {
			r.cfg.NodeArgs[n] = c.Describe(n)
		}
	}
	// Tear down before checking: the nodes are not needed any more, and
	// the engine has flushed their logs once the streams end.
	exits := c.Exits()
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	if cerr := c.Close(tctx); cerr != nil {
		r.log.Warn("teardown", "err", cerr)
	}
	cancel()
	r.pr.printf("teardown: containers and network removed")
	return r.check(ctx, exits)
}

// historyOffset is the time between the start of the run and the history's
// time base (image build, network and containers).
func (r *runner) historyOffset() time.Duration { return r.histBase.Sub(r.start) }
