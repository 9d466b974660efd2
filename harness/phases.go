package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/docker"
	"github.com/chronik-chaos/chronik/nemesis"
	"github.com/chronik-chaos/chronik/reports"
)

func (r *runner) openHistory() error {
	f, err := os.Create(filepath.Join(r.runDir, HistoryFile))
	if err != nil {
		return infra("create history: %w", err)
	}
	r.hfile = f
	// The history's clock starts here, before the first node starts, so
	// the staggered start is part of the history.
	r.histBase = time.Now()
	r.hw = history.NewWriter(f, r.histBase)
	r.rec = NewRecorder(r.hw, r.histBase)
	r.rec.OnNemesis(r.pr.nemesis)
	return nil
}

func (r *runner) closeHistory() {
	if r.hw == nil {
		return
	}
	if err := r.rec.Flush(); err != nil {
		r.log.Error("flush history", "err", err)
	}
	if err := r.hfile.Close(); err != nil {
		r.log.Error("close history", "err", err)
	}
	r.hw = nil
}

// setup starts the nodes (one by one under staggered-start, recorded as
// nemesis operations; all at once otherwise), waits for /readyz and
// creates the first topics.
func (r *runner) setup(ctx context.Context) error {
	c := r.cluster
	need := len(c.Nodes())
	bound := r.cfg.ReadyTimeout.D()
	if r.cfg.Staggered() {
		// The staggered start is the run's first fault, and like every
		// fault it happens under load: clients start as soon as a
		// majority is ready, the remaining nodes join under load, and the
		// scheduled faults begin once every node has been started.
		r.pr.printf("setup: staggered start, %s between nodes, one wait of %s before a majority; clients start with a majority", r.cfg.StartGap.D(), r.cfg.LongStartGap.D())
		done := make(chan error, 1)
		r.startDone = done
		go func() {
			done <- nemesis.StaggeredStartLong(ctx, c, r.cfg.StartGap.D(), r.cfg.LongStartGap.D(), SubRand(r.cfg.Seed, nemesis.FamilyStaggeredStart), r.rec)
		}()
		need = len(c.Nodes())/2 + 1
		bound += time.Duration(len(c.Nodes()))*r.cfg.StartGap.D() + r.cfg.LongStartGap.D()
	} else {
		var wg sync.WaitGroup
		errs := make([]error, len(c.Nodes()))
		for i, n := range c.Nodes() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = c.Start(ctx, n)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return infra("start nodes: %w", err)
		}
	}
	ready, err := r.waitReady(ctx, bound, need)
	if err != nil {
		return err
	}
	if exits := c.Exits(); len(exits) > 0 {
		var names []string
		for _, e := range exits {
			names = append(names, e.Node)
		}
		r.pr.printf("setup: %s exited on its own during setup (liveness will report it)", strings.Join(names, ","))
		if len(ready) <= len(c.Nodes())/2 {
			// Not the infrastructure's fault: the broker gave up. There is
			// no majority to run clients against; go straight to the check.
			r.pr.printf("setup: no majority ready (%s); skipping the workload", orNone(ready))
			r.dead = true
			if r.startDone != nil {
				if err := <-r.startDone; err != nil {
					r.log.Warn("staggered start", "err", err)
				}
				r.startDone = nil
			}
			return nil
		}
	}
	r.pr.printf("ready: %s answer /readyz", strings.Join(ready, ","))

	admin, acl, err := newAdmin(r.cluster.KafkaAddrs(), r.cfg.OpTimeout.D(), r.log)
	if err != nil {
		return infra("%w", err)
	}
	// The keyspace keeps creating topics in the background for the whole
	// run, so its client is closed only at the end.
	r.closers = append(r.closers, acl.Close)
	r.keys = NewKeyspace(admin, r.cfg.ActiveKeys, r.cfg.Partitions, min(3, r.cfg.Nodes), r.cfg.WritesPerKey, r.log)
	tctx, cancel := context.WithTimeout(ctx, r.cfg.ReadyTimeout.D())
	defer cancel()
	if err := r.keys.Setup(tctx); err != nil {
		return infra("cluster accepts no topic: %w", err)
	}
	return nil
}

// waitReady polls every node's /readyz until need nodes answer 200, or all
// nodes not ready have exited on their own (which the liveness checker
// reports). At setup (need > 0) it fails as an infrastructure error with
// the logs' tails when the bound passes; after the heal (need == 0: all
// nodes, not strict) it records the nodes that did not recover instead.
func (r *runner) waitReady(ctx context.Context, bound time.Duration, need int) ([]string, error) {
	strict := need > 0
	if !strict {
		need = len(r.cluster.Nodes())
	}
	c := r.cluster
	// Nodes that refused their damaged store stay down: after the heal
	// nobody waits for them (liveness reports them).
	down := map[string]bool{}
	for _, rf := range r.refused() {
		down[rf.Node] = true
	}
	if !strict {
		need -= len(down)
	}
	deadline := time.Now().Add(bound)
	ready := map[string]bool{}
	lastErr := map[string]string{}
	for {
		var waiting []string
		for _, n := range c.Nodes() {
			if ready[n] || !strict && down[n] {
				continue
			}
			actx, cancel := context.WithTimeout(ctx, time.Second)
			code, body, err := c.Admin(actx, n, "GET", "/readyz")
			cancel()
			switch {
			case err == nil && code == 200:
				ready[n] = true
				continue
			case err != nil:
				lastErr[n] = err.Error()
			default:
				lastErr[n] = fmt.Sprintf("HTTP %d: %s", code, strings.TrimSpace(string(body)))
			}
			waiting = append(waiting, n)
		}
		if len(waiting) == 0 || len(ready) >= need {
			break
		}
		if strict && r.allExited(ctx, waiting) {
			break
		}
		if ctx.Err() != nil {
			return nil, infra("wait for /readyz: %w", ctx.Err())
		}
		if time.Now().After(deadline) {
			if strict {
				var b strings.Builder
				for _, n := range waiting {
					fmt.Fprintf(&b, "\n--- %s: %s; last log lines:\n  %s", n, lastErr[n], strings.Join(c.LogTail(n, 15), "\n  "))
				}
				return nil, infra("cluster not ready after %s: %s never answered /readyz%s", bound, strings.Join(waiting, ","), b.String())
			}
			for _, n := range waiting {
				st, _ := c.State(ctx, n)
				r.stuck = append(r.stuck, notRecovered{Node: n, At: time.Now(), State: string(st), LastError: lastErr[n], LastLines: c.LogTail(n, 20)})
			}
			break
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
	var out []string
	for _, n := range c.Nodes() {
		if ready[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// allExited reports whether every waiting node has exited on its own.
func (r *runner) allExited(ctx context.Context, waiting []string) bool {
	exited := map[string]bool{}
	for _, e := range r.cluster.Exits() {
		exited[e.Node] = true
	}
	for _, n := range waiting {
		if !exited[n] {
			return false
		}
		if st, err := r.cluster.State(ctx, n); err != nil || st == nemesis.Running {
			return false
		}
	}
	return true
}

// workload runs the clients and the nemesis schedule for the time limit.
func (r *runner) workload(ctx context.Context) error {
	wcfg := r.workloadConfig()
	if wcfg.Kind == WorkloadTxn {
		wcfg.Late = &LateStats{}
	}
	r.pr.printf("workload %s: %.0f ops/s over %d clients for %s; nemesis %s every ~%s",
		r.cfg.Workload, r.cfg.Rate, r.cfg.Concurrency, r.cfg.TimeLimit.D(), orNone(r.cfg.Faults()), r.cfg.NemesisInterval.D())
	pctx, cancel := context.WithTimeout(ctx, r.cfg.TimeLimit.D())
	defer cancel()
	phaseStart := time.Now()
	ok0, fail0, info0 := r.rec.Counts()

	var wg sync.WaitGroup
	var clientErr, nemErr error
	wg.Add(3)
	go func() {
		defer wg.Done()
		clientErr = RunClients(pctx, wcfg, r.rec)
	}()
	go func() {
		defer wg.Done()
		if r.startDone != nil {
			// Scheduled faults begin after the staggered start.
			err := <-r.startDone
			r.startDone = nil
			if err != nil {
				nemErr = err
				cancel()
				return
			}
			ready, _ := r.waitReady(pctx, r.cfg.ReadyTimeout.D(), len(r.cluster.Nodes()))
			r.pr.printf("staggered start done: %s ready", orNone(ready))
		}
		if len(r.cfg.Faults()) == 0 {
			<-pctx.Done()
			return
		}
		if err := r.runNemesis(pctx); err != nil {
			nemErr = err
			cancel() // a fault that did not take effect ends the run
		}
	}()
	go func() {
		defer wg.Done()
		r.pr.rates(pctx, r.rec, 5*time.Second)
	}()
	wg.Wait()
	if wcfg.Late != nil {
		r.pr.printf("txn: late batches delivered %d, taken by the broker %d", wcfg.Late.Delivered.Load(), wcfg.Late.Taken.Load())
	}
	ok, fail, info := r.rec.Counts()
	if d := time.Since(phaseStart).Seconds(); d > 0 {
		r.out.OpsPerSec = float64(ok+fail+info-ok0-fail0-info0) / d
		r.out.OKPerSec = float64(ok-ok0) / d
	}
	if ctx.Err() != nil {
		return infra("interrupted: %w", ctx.Err())
	}
	if nemErr != nil {
		return infra("nemesis: %w", nemErr)
	}
	if clientErr != nil {
		return infra("clients: %w", clientErr)
	}
	return nil
}

func (r *runner) workloadConfig() WorkloadConfig {
	return WorkloadConfig{
		Kind: r.cfg.Workload, Seeds: r.cluster.KafkaAddrs(), CurrentSeeds: r.cluster.KafkaAddrs, Rate: r.cfg.Rate, Concurrency: r.cfg.Concurrency,
		Seed: r.cfg.Seed, OpTimeout: r.cfg.OpTimeout.D(), Keys: r.keys, Log: r.log.With("component", "client"),
		Producers: r.cfg.Producers,
	}
}

// healAndDrain is the final generator: heal everything, wait for every node
// to be ready again, then read every key to its end.
func (r *runner) healAndDrain(ctx context.Context) error {
	r.pr.printf("final heal")
	hctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	err := r.sched.HealAll(hctx, r.rec)
	cancel()
	if err != nil {
		return infra("final heal: %w", err)
	}
	ready, err := r.waitReady(ctx, r.cfg.RecoverTimeout.D(), 0)
	if err != nil {
		return err
	}
	r.pr.printf("recovered: %s ready", orNone(ready))
	dctx, cancel := context.WithTimeout(ctx, r.cfg.DrainTimeout.D())
	defer cancel()
	st, err := Drain(dctx, r.workloadConfig(), r.rec)
	if err != nil {
		return infra("drain: %w", err)
	}
	r.pr.printf("drain: %d/%d written keys read to their last acknowledged offset in %d reads, %s",
		st.CaughtUp, len(r.keys.AckedOffsets()), st.Reads, st.Took.Round(100*time.Millisecond))
	for _, c := range r.closers {
		c()
	}
	r.closers = nil
	if ctx.Err() != nil {
		return infra("interrupted: %w", ctx.Err())
	}
	return nil
}

// check runs the checkers plus liveness and the log-based Raft safety
// checker, writes results.json, points store/latest at the run and renders
// the reports.
func (r *runner) check(ctx context.Context, exits []docker.Exit) error {
	r.pr.printf("check: %d operations", r.out.Ops)
	res, err := checkers.Check(ctx, filepath.Join(r.runDir, HistoryFile), checkers.Options{
		TimeLimit: r.cfg.CheckTimeout.D(), OutDir: r.runDir, Logger: r.log.With("component", "checkers"),
	})
	if err != nil {
		return infra("check history: %w", err)
	}
	res.Add(LivenessName, livenessResult(exits, r.stuck, r.refused(), r.histBase))
	// Every node of the cluster was started by setup, so every one must
	// have left a log.
	var damaged []nemesis.Damage
	if r.sched != nil {
		damaged = r.sched.Damaged()
	}
	res.Add(RaftSafetyName, raftSafetyDamaged(r.runDir, r.cfg.NodeNames, r.histBase, damaged))
	if slices.Contains(r.cfg.Nemesis, nemesis.FamilyMember) {
		res.Add(MembershipName, memberResult(filepath.Join(r.runDir, HistoryFile)))
	}
	r.addEvidenceSections(ctx, res)
	if err := checkers.WriteResults(r.runDir, res); err != nil {
		return infra("%w", err)
	}
	r.out.Results, r.out.Valid = res, res.Valid
	r.out.Counts = res.Counts()
	if err := writeJSON(filepath.Join(r.runDir, TestFile), r.cfg); err != nil {
		return infra("%w", err)
	}
	if err := pointLatest(r.cfg.Store, r.runDir); err != nil {
		r.log.Warn("point latest", "err", err)
	}
	if err := reports.RenderRun(ctx, r.runDir); err != nil {
		r.log.Warn("render run report", "err", err)
		r.pr.printf("report: %v", err)
	}
	if err := reports.RenderIndex(ctx, r.cfg.Store); err != nil {
		r.log.Warn("render store index", "err", err)
	}
	return nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

// CountsLine renders anomaly counts as "name=n, ..." sorted by name.
func CountsLine(counts map[string]int) string {
	var names []string
	for n, c := range counts {
		if c > 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, counts[n])
	}
	return strings.Join(parts, ", ")
}

// refused lists the nodes that refused their damaged store (the corrupt
// nemesis); none before the scheduler exists.
func (r *runner) refused() []nemesis.Refusal {
	if r.sched == nil {
		return nil
	}
	return r.sched.Refused()
}
