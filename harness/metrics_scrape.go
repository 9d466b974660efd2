package harness

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
)

// MetricsFile is the scraped broker counters in a run directory (store
// layout), which the coverage section is computed from.
const MetricsFile = "metrics.json"

// scrapeInterval is how often every node's /metrics is read during a run.
// A broker's counters restart from zero with its process, so the scraper
// keeps the last values of every incarnation (told apart by the standard
// process_start_time_seconds, or by a counter going down) and sums them; a
// kill loses at most what the node counted in the last interval before it.
const scrapeInterval = time.Second

// coverageFamilies are the broker's counters the coverage section reads
// (broker/cluster/metrics.go, broker/kafka/metrics.go).
var coverageFamilies = []string{
	"chronik_raft_leader_elections_total",
	"chronik_raft_snapshots_sent_total",
	"chronik_raft_snapshots_applied_total",
	"chronik_raft_log_compactions_total",
	"chronik_produce_duplicates_refused_total",
	"chronik_produce_rejected_total",
	"chronik_kafka_produce_overtaken_total",
	"chronik_follower_reads_total",
	"chronik_offset_commits_total",
	"chronik_group_rebalances_total",
}

// startFamily tells a process's incarnation.
const startFamily = "process_start_time_seconds"

// Incarnation is one broker process's counters, as last scraped.
type Incarnation struct {
	// StartTime is the process's process_start_time_seconds (0: not
	// served; a counter going down then marks the next incarnation).
	StartTime float64 `json:"process_start_time_seconds,omitempty"`
	// FirstScrape and LastScrape are history times (ns since the base).
	FirstScrape int64 `json:"first_scrape"`
	LastScrape  int64 `json:"last_scrape"`
	Scrapes     int   `json:"scrapes"`
	// Counters are the series of coverageFamilies: "name" for an
	// unlabelled counter, `name{label="value"}` for a labelled one.
	Counters map[string]float64 `json:"counters"`
}

// ScrapedMetrics is metrics.json: every node's incarnations, and totals
// over all nodes and incarnations.
type ScrapedMetrics struct {
	Interval Duration `json:"interval"`
	Scrapes  int      `json:"scrapes"`
	// Failed counts scrapes that got no answer (a node down or paused).
	Failed int                       `json:"failed"`
	Nodes  map[string][]*Incarnation `json:"nodes"`
	// Totals sums every series over nodes and incarnations, and every
	// family under its bare name.
	Totals map[string]float64 `json:"totals"`
}

// metricsAdmin is what the scraper needs of the cluster.
type metricsAdmin interface {
	Nodes() []string
	Admin(ctx context.Context, name, method, path string) (int, []byte, error)
}

// metricsScraper reads every node's /metrics periodically.
type metricsScraper struct {
	c    metricsAdmin
	base time.Time

	mu  sync.Mutex
	out ScrapedMetrics
}

func newMetricsScraper(c metricsAdmin, base time.Time) *metricsScraper {
	return &metricsScraper{c: c, base: base, out: ScrapedMetrics{Interval: Duration(scrapeInterval), Nodes: map[string][]*Incarnation{}}}
}

// run scrapes every scrapeInterval until ctx ends.
func (s *metricsScraper) run(ctx context.Context) {
	t := time.NewTicker(scrapeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.scrapeAll(ctx)
		}
	}
}

// scrapeAll reads every node once, concurrently (a paused node only
// delays its own answer).
func (s *metricsScraper) scrapeAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, n := range s.c.Nodes() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.scrape(ctx, n)
		}()
	}
	wg.Wait()
}

func (s *metricsScraper) scrape(ctx context.Context, node string) {
	sctx, cancel := context.WithTimeout(ctx, 800*time.Millisecond)
	code, body, err := s.c.Admin(sctx, node, "GET", "/metrics")
	cancel()
	at := int64(time.Since(s.base))
	var counters map[string]float64
	var start float64
	if err == nil && code == 200 {
		counters, start, err = parseCounters(body)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || code != 200 {
		s.out.Failed++
		return
	}
	s.out.Scrapes++
	s.observe(node, at, start, counters)
}

// observe files one scrape under the node's current incarnation, or
// starts a new one (s.mu held).
func (s *metricsScraper) observe(node string, at int64, start float64, counters map[string]float64) {
	incs := s.out.Nodes[node]
	var cur *Incarnation
	if len(incs) > 0 {
		cur = incs[len(incs)-1]
	}
	if cur == nil || newIncarnation(cur, start, counters) {
		cur = &Incarnation{StartTime: start, FirstScrape: at}
		s.out.Nodes[node] = append(incs, cur)
	}
	cur.LastScrape, cur.Counters = at, counters
	cur.Scrapes++
}

// newIncarnation reports whether a scrape comes from a process other than
// cur's: another start time, or a counter lower than before.
func newIncarnation(cur *Incarnation, start float64, counters map[string]float64) bool {
	if start != 0 && cur.StartTime != 0 {
		return start != cur.StartTime
	}
	for k, v := range cur.Counters {
		if counters[k] < v {
			return true
		}
	}
	return false
}

// result returns metrics.json's content with the totals summed.
func (s *metricsScraper) result() ScrapedMetrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.out
	out.Totals = map[string]float64{}
	for _, f := range coverageFamilies {
		out.Totals[f] = 0
	}
	for _, incs := range out.Nodes {
		for _, inc := range incs {
			for k, v := range inc.Counters {
				out.Totals[k] += v
				if fam, _, labelled := strings.Cut(k, "{"); labelled {
					out.Totals[fam] += v
				}
			}
		}
	}
	return out
}

// parseCounters reads the coverage families and the start time from a
// Prometheus text exposition.
func parseCounters(body []byte) (map[string]float64, float64, error) {
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, 0, fmt.Errorf("parse /metrics: %w", err)
	}
	out := map[string]float64{}
	for _, name := range coverageFamilies {
		mf, ok := fams[name]
		if !ok {
			continue
		}
		for _, m := range mf.GetMetric() {
			key := name
			if len(m.GetLabel()) > 0 {
				var ls []string
				for _, l := range m.GetLabel() {
					ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
				}
				sort.Strings(ls)
				key += "{" + strings.Join(ls, ",") + "}"
			}
			out[key] += m.GetCounter().GetValue()
		}
	}
	var start float64
	if mf, ok := fams[startFamily]; ok && len(mf.GetMetric()) > 0 {
		start = mf.GetMetric()[0].GetGauge().GetValue()
	}
	return out, start, nil
}

// writeMetrics saves metrics.json in dir.
func writeMetrics(dir string, m ScrapedMetrics) error {
	return writeJSON(filepath.Join(dir, MetricsFile), m)
}
