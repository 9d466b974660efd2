package harness

import (
	"context"
	"path/filepath"
	"slices"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/replicas"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/docker"
)

// This file holds the run's end-of-run evidence besides the history: the
// broker counters scraped during the whole run (metrics.json) and every
// node's copy of every partition (replicas.jsonl), and the sections of
// results.json computed from them (replicas, coverage).

// startScraper begins scraping every node's /metrics (once the history's
// time base exists, before the first node starts).
func (r *runner) startScraper(ctx context.Context) {
	r.scraper = newMetricsScraper(r.cluster, r.histBase)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.scraper.run(sctx)
	}()
	r.stopScraper = func() {
		cancel()
		<-done
	}
}

// finishEvidence scrapes every node a last time, then reads the replicas
// (unless the cluster died during setup), and saves both files. The
// cluster is still up. The last scrape comes first so that the replicas
// phase's own reads (follower reads on every node) are not counted as the
// workload's.
func (r *runner) finishEvidence(ctx context.Context) error {
	if r.stopScraper != nil {
		r.stopScraper()
		r.stopScraper = nil
	}
	r.scraper.scrapeAll(ctx)
	if err := writeMetrics(r.runDir, r.scraper.result()); err != nil {
		return infra("%w", err)
	}
	if !r.dead {
		bound := r.cfg.ReplicasTimeout.D()
		if bound <= 0 {
			bound = DefaultConfig().ReplicasTimeout.D()
		}
		rctx, cancel := context.WithTimeout(ctx, bound)
		var known []Key
		if r.keys != nil {
			known = r.keys.Used()
		}
		copies, st := ReadReplicas(rctx, r.inService(), known, r.histBase, r.log.With("component", "replicas"))
		cancel()
		if err := replicas.Write(r.runDir, copies); err != nil {
			return infra("%w", err)
		}
		r.pr.printf("replicas: %d keys x %d nodes: %d copies read, %d not, %d records in %d fetches, %s",
			st.Keys, st.Nodes, st.Copies, st.Unread, st.Records, st.Fetches, st.Took.Round(100*1e6))
	}
	if ctx.Err() != nil {
		return infra("interrupted: %w", ctx.Err())
	}
	return nil
}

// addEvidenceSections adds the replicas and coverage sections to res and
// prints the coverage.
func (r *runner) addEvidenceSections(ctx context.Context, res *checkers.Results) {
	hpath := filepath.Join(r.runDir, HistoryFile)
	rr, err := replicas.CheckDir(ctx, hpath, maxLogExamples)
	switch {
	case err != nil:
		r.log.Warn("replicas check", "err", err)
		res.Add(replicas.Name, &checkers.Extra{Valid: verdict.Unknown, Error: err.Error()})
	case rr != nil:
		res.Add(replicas.Name, rr)
	}
	cov := r.coverage(ctx, hpath)
	res.Add(CoverageName, cov)
	if rows, ok := cov.Fields["rows"].([]CoverageRow); ok {
		r.pr.printf("coverage: %s", coverageLine(rows))
	}
	if ws, ok := cov.Fields["warnings"].([]string); ok {
		for _, w := range ws {
			r.pr.printf("coverage WARNING: %s", w)
		}
	}
}

// coverage computes the coverage section from the run's files.
func (r *runner) coverage(ctx context.Context, hpath string) *checkers.Extra {
	hf, err := readHistoryFacts(ctx, hpath)
	if err != nil {
		r.log.Warn("coverage: read history", "err", err)
	}
	entries, catchUp := r.cfg.snapshotThresholds()
	in := coverageInput{
		faults: r.cfg.Faults(), snapshotEntries: entries, snapshotCatchUp: catchUp,
		leaders: leaderEvents(r.runDir, r.cfg.NodeNames), base: r.histBase, hist: hf,
	}
	if r.scraper != nil {
		if m := r.scraper.result(); m.Scrapes > 0 {
			in.metrics = &m
		}
	}
	return coverageResult(in)
}

// inService is the cluster without the nodes that refused their damaged
// store: they stay down by design, so they have no copy to read, and a
// copy they lack is no evidence either way.
func (r *runner) inService() replicaNodes {
	skip := map[string]bool{}
	for _, rf := range r.refused() {
		skip[rf.Node] = true
	}
	if len(skip) == 0 {
		return r.cluster
	}
	return withoutNodes{r.cluster, skip}
}

// withoutNodes hides some nodes of a cluster from the replicas phase.
type withoutNodes struct {
	*docker.Cluster
	skip map[string]bool
}

func (w withoutNodes) Nodes() []string {
	return slices.DeleteFunc(w.Cluster.Nodes(), func(n string) bool { return w.skip[n] })
}
