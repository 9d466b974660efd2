package harness

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/checkers/windows"
	"github.com/chronik-chaos/chronik/nemesis"
)

// CoverageName is the coverage section of results.json: what the run
// exercised, from the broker's counters (metrics.json, scraped during the
// run), the nodes' Raft events (their logs) and the history.
//
// It never changes the verdict (its "valid" is always true): the checkers
// judge what happened, and a run whose faults happened to exercise little
// is still a sound check of what it did. etcd's robustness tests refuse
// such runs, but whether a kill hits a leader or a retry happens depends
// on the seed's draws, so refusing them would make correct runs fail now
// and then. Instead every fault that exercised nothing it should have is
// named in "warnings", printed at the end of the run and shown at the top
// of the report's Coverage section.
const CoverageName = "coverage"

// ClientFaultFamily is the nemesis family of faults on the harness's own
// client traffic (DESIGN.md: "client"); its windows are counted apart.
var ClientFaultFamily = history.NemesisClient.Name

// CoverageRow is one line of the coverage table.
type CoverageRow struct {
	// Path names what was exercised ("snapshots installed").
	Path string `json:"path"`
	// Count is how often; null when its source could not be read.
	Count *int64 `json:"count"`
	// Source says where the count comes from.
	Source string `json:"source"`
	Detail string `json:"detail,omitempty"`
}

// coverageInput is what the coverage section is computed from.
type coverageInput struct {
	// faults are the scheduled nemesis families of the run.
	faults []string
	// snapshotEntries and snapshotCatchUp are the thresholds the brokers
	// ran with (0: the broker's default, 10,000 and 0).
	snapshotEntries, snapshotCatchUp uint64
	// metrics are the scraped counters; nil when none could be read.
	metrics *ScrapedMetrics
	// leaders are the "became leader" events of every node's log.
	leaders []raftEvent
	base    time.Time
	hist    historyFacts
}

// historyFacts is what coverage needs of the history.
type historyFacts struct {
	windows []windows.Window
	okByF   map[string]int
	// sends are the ok sends per key: invocation and completion times.
	sends map[string][]span
	// byProducer counts completed send operations per producer kind
	// ("" read as idempotent) and completion type.
	byProducer map[string]map[history.Type]int
	// infoSends are the send operations left indefinite: invocation and
	// completion times.
	infoSends []span
	// durability are the durability nemeses' results.
	durability durabilityFacts
}

type span struct{ from, to time.Duration }

// readHistoryFacts scans the history once for coverage.
func readHistoryFacts(ctx context.Context, path string) (historyFacts, error) {
	hf := historyFacts{okByF: map[string]int{}, sends: map[string][]span{}, byProducer: map[string]map[history.Type]int{}}
	f, err := os.Open(path)
	if err != nil {
		return hf, fmt.Errorf("open history: %w", err)
	}
	defer f.Close()
	tr := windows.NewTracker()
	_, err = history.Scan(ctx, f, history.ScanOptions{}, func(batch []history.Entry) error {
		for i := range batch {
			e := &batch[i]
			tr.Observe(e)
			if e.IsClient() && e.F == history.FSend && e.Type != history.Invoke {
				kind := cmp.Or(e.Producer, history.ProducerIdempotent)
				if hf.byProducer[kind] == nil {
					hf.byProducer[kind] = map[history.Type]int{}
				}
				hf.byProducer[kind][e.Type]++
				if e.Type == history.Info {
					hf.infoSends = append(hf.infoSends, span{e.InvokeTime, e.Time})
				}
			}
			if !e.IsClient() {
				hf.durability.observe(e)
				continue
			}
			if e.Type != history.Ok {
				continue
			}
			hf.okByF[e.F]++
			for _, m := range e.Mops {
				if m.F == history.FSend && m.Done {
					hf.sends[m.Key] = append(hf.sends[m.Key], span{e.InvokeTime, e.Time})
				}
			}
		}
		return nil
	})
	if err != nil {
		return hf, fmt.Errorf("scan history for coverage: %w", err)
	}
	hf.windows = tr.Windows()
	return hf, nil
}

// coverageResult computes the coverage section.
func coverageResult(in coverageInput) *checkers.Extra {
	c := &coverage{in: in}
	c.elections()
	c.snapshots()
	c.produce()
	c.counter("follower reads served", "chronik_follower_reads_total", "Fetch/ListOffsets answered by a node that does not lead the partition, from its own copy")
	c.faultWindows()
	c.counter("group rebalances", "chronik_group_rebalances_total", "join phases the group coordinators completed")
	c.commits()
	c.durability()
	fields := map[string]any{
		"rows":                      c.rows,
		"warnings":                  c.warnings,
		"leader_elections_by_group": c.byGroup,
		"fault_windows":             c.windows,
		"snapshot_thresholds":       map[string]uint64{"entries": c.entries(), "catchup_entries": in.snapshotCatchUp},
	}
	if c.powerLossDrops != nil {
		fields["power_losses"] = powerLossTable(c.powerLossDrops)
	}
	if in.metrics != nil {
		fields["metrics"] = map[string]any{"scrapes": in.metrics.Scrapes, "failed": in.metrics.Failed,
			"incarnations": c.incarnations(), "interval": in.metrics.Interval}
	}
	if c.warnings == nil {
		fields["warnings"] = []string{}
	}
	return &checkers.Extra{Valid: verdict.True, Fields: fields}
}

type coverage struct {
	in       coverageInput
	rows     []CoverageRow
	warnings []string
	byGroup  map[string]int
	windows  map[string]int
	// powerLossDrops are the power losses, for the "power_losses" field.
	powerLossDrops []nodeLoss
}

func (c *coverage) entries() uint64 {
	if c.in.snapshotEntries == 0 {
		return 10000
	}
	return c.in.snapshotEntries
}

func (c *coverage) warn(format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, args...))
}

func (c *coverage) add(path string, n *int64, source, detail string) {
	c.rows = append(c.rows, CoverageRow{Path: path, Count: n, Source: source, Detail: detail})
}

func count(n int64) *int64 { return &n }

// metric is a counter's total over every node and incarnation; nil without
// metrics.
func (c *coverage) metric(name string) *int64 {
	if c.in.metrics == nil {
		return nil
	}
	return count(int64(c.in.metrics.Totals[name]))
}

func (c *coverage) counter(path, name, detail string) {
	c.add(path, c.metric(name), "metrics: "+name, detail)
}

func (c *coverage) incarnations() int {
	n := 0
	for _, incs := range c.in.metrics.Nodes {
		n += len(incs)
	}
	return n
}

// firstWindow is the start of the first window of family fam (any
// scheduled family when fam is empty), and whether there is one.
func (c *coverage) firstWindow(fam string) (windows.Window, bool) {
	for _, w := range c.in.hist.windows {
		if w.Instant || w.Family == nemesis.FamilyStaggeredStart || w.Family == "" {
			continue
		}
		if fam == "" || w.Family == fam {
			return w, true
		}
	}
	return windows.Window{}, false
}

// elections counts leader elections per Raft group from the nodes' logs:
// every "became leader" event; a group's first is its first leader, every
// later one a change of leader.
func (c *coverage) elections() {
	type gid struct{ name, id string }
	leaders := slices.Clone(c.in.leaders)
	slices.SortStableFunc(leaders, func(a, b raftEvent) int { return a.At.Compare(b.At) })
	seen := map[gid]bool{}
	c.byGroup = map[string]int{}
	var changes []time.Duration
	for _, e := range leaders {
		g := gid{e.Group, e.GID}
		c.byGroup[e.Group]++
		if seen[g] {
			changes = append(changes, e.At.Sub(c.in.base))
		}
		seen[g] = true
	}
	detail := fmt.Sprintf("%d groups; %d changes of leader (elections after a group's first)", len(seen), len(changes))
	if w, ok := c.firstWindow(""); ok {
		detail += fmt.Sprintf(", %d after the first fault (%s at %s)", after(changes, w.Start), w.F, seconds(w.Start))
	}
	if top := topGroups(c.byGroup, 4); top != "" {
		detail += "; most: " + top
	}
	c.add("leader elections", count(int64(len(leaders))), "node logs: \"became leader\"", detail)
	if !slices.Contains(c.in.faults, nemesis.FamilyKill) {
		return
	}
	if w, ok := c.firstWindow(nemesis.FamilyKill); ok && after(changes, w.Start) == 0 {
		c.warn("kill: no Raft group changed its leader after the first kill (%s at %s): the kills hit no leader, so failover was not exercised",
			strings.Join(w.Nodes, ","), seconds(w.Start))
	}
}

func after(ts []time.Duration, t time.Duration) int {
	n := 0
	for _, x := range ts {
		if x >= t {
			n++
		}
	}
	return n
}

func topGroups(m map[string]int, n int) string {
	type gc struct {
		g string
		c int
	}
	var all []gc
	for g, k := range m {
		all = append(all, gc{g, k})
	}
	slices.SortFunc(all, func(a, b gc) int {
		if a.c != b.c {
			return b.c - a.c
		}
		return cmp.Compare(a.g, b.g)
	})
	var parts []string
	for _, x := range all[:min(n, len(all))] {
		parts = append(parts, fmt.Sprintf("%s %d", x.g, x.c))
	}
	return strings.Join(parts, ", ")
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// snapshots reports snapshots sent and installed and compactions, and
// warns when a node was down (killed or paused) while a key took so many
// acknowledged writes that a correct broker must have sent it a snapshot.
func (c *coverage) snapshots() {
	c.counter("snapshots sent", "chronik_raft_snapshots_sent_total", "by leaders to followers that needed compacted entries")
	installed := c.metric("chronik_raft_snapshots_applied_total")
	c.add("snapshots installed", installed, "metrics: chronik_raft_snapshots_applied_total", "received from a leader and applied")
	c.counter("log compactions", "chronik_raft_log_compactions_total", fmt.Sprintf("every %d applied entries per group, keeping %d", c.entries(), c.in.snapshotCatchUp))
	if installed == nil {
		c.warn("metrics: no node's /metrics could be read; snapshot, retry and read counts are missing")
		return
	}
	// A node down while more than 2*(entries+catchup) writes to one key
	// applied misses entries its leader has compacted (package doc of
	// broker/cluster: the last compaction point is then past the node's
	// last entry), so catching up takes a snapshot.
	need := 2 * (c.entries() + c.in.snapshotCatchUp)
	var best struct {
		w    windows.Window
		key  string
		sent int
	}
	for _, w := range c.in.hist.windows {
		if w.Instant || (w.Family != nemesis.FamilyKill && w.Family != nemesis.FamilyPause) {
			continue
		}
		for k, ss := range c.in.hist.sends {
			n := 0
			for _, s := range ss {
				if s.from >= w.Start && s.to <= w.End {
					n++
				}
			}
			if n > best.sent {
				best.w, best.key, best.sent = w, k, n
			}
		}
	}
	if uint64(best.sent) >= need && *installed == 0 {
		c.warn("snapshots: %s was down (%s at %s for %s) while %d sends to %s were acknowledged, more than 2 x (%d + %d) entries, yet no node installed a snapshot",
			orNone(best.w.Nodes), best.w.F, seconds(best.w.Start), seconds(best.w.End-best.w.Start), best.sent, best.key, c.entries(), c.in.snapshotCatchUp)
	}
}

// produce reports the produce requests the broker answered with a
// retriable error (each one a retry by the client) and the duplicates it
// refused (retries of a batch it already held).
func (c *coverage) produce() {
	retriable := []string{"not_leader", "not_ready", "timeout"}
	var n *int64
	var parts []string
	if m := c.in.metrics; m != nil {
		var sum float64
		for _, r := range retriable {
			v := m.Totals[fmt.Sprintf("chronik_produce_rejected_total{reason=%q}", r)]
			sum += v
			parts = append(parts, fmt.Sprintf("%s %d", r, int64(v)))
		}
		if v := m.Totals["chronik_kafka_produce_overtaken_total"]; v > 0 {
			sum += v
			parts = append(parts, fmt.Sprintf("overtaken %d", int64(v)))
		}
		n = count(int64(sum))
	}
	c.add("produce retries", n, "metrics: chronik_produce_rejected_total (retriable reasons), chronik_kafka_produce_overtaken_total",
		"produce requests answered with an error the client retries: "+strings.Join(parts, ", "))
	dups := c.metric("chronik_produce_duplicates_refused_total")
	c.add("duplicates refused", dups, "metrics: chronik_produce_duplicates_refused_total", "idempotent retries of a batch the partition already held, answered with its offset")
	clientWindows, cut := 0, 0
	for _, w := range c.in.hist.windows {
		if w.Family == ClientFaultFamily && !w.Instant {
			clientWindows++
		}
	}
	for _, sp := range c.in.hist.infoSends {
		for _, w := range c.in.hist.windows {
			if w.Family == ClientFaultFamily && !w.Instant && sp.from < w.End && sp.to > w.Start {
				cut++
				break
			}
		}
	}
	c.add("sends cut off by client faults", count(int64(cut)), "history: info sends overlapping a client-fault window",
		"sends whose outcome the client never learned (its producer retried until the deadline) while its traffic to some node was faulted")
	c.add("sends by producer kind", count(int64(len(c.in.hist.byProducer))), "history: send completions by \"producer\"", c.producerDetail())
	if clientWindows > 0 && n != nil && dups != nil && *n == 0 && *dups == 0 && cut == 0 {
		c.warn("client faults: %d windows, but no produce was retried or refused as a duplicate, and no send was cut off", clientWindows)
	}
}

// producerDetail lists the send completions per producer kind.
func (c *coverage) producerDetail() string {
	var parts []string
	for _, kind := range history.ProducerKinds {
		n := c.in.hist.byProducer[kind]
		if n == nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: ok %d, fail %d, info %d", kind, n[history.Ok], n[history.Fail], n[history.Info]))
	}
	return strings.Join(parts, "; ")
}

// faultWindows counts the fault windows of the history per family.
func (c *coverage) faultWindows() {
	c.windows = map[string]int{}
	total := 0
	for _, w := range c.in.hist.windows {
		fam := w.Family
		if fam == "" {
			fam = w.F
		}
		c.windows[fam]++
		if !w.Instant && fam != nemesis.FamilyStaggeredStart {
			total++
		}
	}
	fams := make([]string, 0, len(c.windows))
	for f := range c.windows {
		fams = append(fams, f)
	}
	sort.Strings(fams)
	var parts []string
	for _, f := range fams {
		parts = append(parts, fmt.Sprintf("%s %d", f, c.windows[f]))
	}
	c.add("client-fault windows", count(int64(c.windows[ClientFaultFamily])), "history: nemesis operations", "faults on the harness's own client traffic")
	c.add("fault windows", count(int64(total)), "history: nemesis operations", strings.Join(parts, ", "))
}

// commits reports offset commits from the broker and from the history.
func (c *coverage) commits() {
	detail := fmt.Sprintf("history: %d ok commit operations, %d ok offsets reads", c.in.hist.okByF["commit"], c.in.hist.okByF["offsets"])
	c.add("offset commits", c.metric("chronik_offset_commits_total"), "metrics: chronik_offset_commits_total", detail)
}

// coverageLine renders the section's rows for the terminal.
func coverageLine(rows []CoverageRow) string {
	var parts []string
	for _, r := range rows {
		v := "n/a"
		if r.Count != nil {
			v = fmt.Sprint(*r.Count)
		}
		parts = append(parts, fmt.Sprintf("%s %s", r.Path, v))
	}
	return strings.Join(parts, ", ")
}

// leaderEvents reads the "became leader" events of every node's log.
func leaderEvents(runDir string, nodes []string) []raftEvent {
	var out []raftEvent
	for _, n := range nodes {
		f, err := os.Open(filepath.Join(runDir, n, NodeLogFile))
		if err != nil {
			continue
		}
		for _, e := range scanRaftEvents(n, f).events {
			if e.Msg == eventLeader {
				out = append(out, e)
			}
		}
		f.Close()
	}
	return out
}
