package reports

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// runPage is the data of the run report template.
type runPage struct {
	Title       string
	Verdict     Verdict
	VerdictNote string
	Config      *TestConfig
	Results     *Results
	RunDir      string
	Generated   time.Time

	HasHistory   bool
	HistoryError string
	// HistoryPartial is set when the views show only the events before
	// the malformed line HistoryError names.
	HistoryPartial bool
	Events         int
	Operations     int
	Duration       time.Duration
	OpStats        []opStat

	Anomalies []anomalyView
	// Coverage is the harness's coverage section, shown on its own.
	Coverage *coverageView
	Windows  []NemesisWindow

	LatencySVG    template.HTML
	LatencyDrawn  int
	LatencyTotal  int
	ThroughputSVG template.HTML
	KeyViews      []keyViewHTML

	Links []link
	Logs  []link

	// History view data.
	PageSize     int
	PagesPerFile int
	Pages        int
	InlinePages  []template.JS
	FNames       []string
	PageFiles    bool
}

type anomalyView struct {
	Anomaly
	Shown    []exampleView
	Hidden   int
	Fatalish bool
}

type exampleView struct {
	Example
	Rows     []opRow
	MoreOps  int
	KeyLinks []string
}

// opRow is one operation of an anomaly example as rendered server-side.
type opRow struct {
	Index   int64
	Found   bool
	Time    string
	Process string
	Type    string
	F       string
	Value   string
	Error   string
}

type keyViewHTML struct {
	KeyView
	PlotHTML template.HTML
	Anchor   string
}

// maxExamplesShown and maxOpsPerExample keep the anomaly section readable;
// everything is in results.json, which the section links.
const (
	maxExamplesShown = 10
	maxOpsPerExample = 12
)

// RenderRun writes runDir/index.html, the report of one run, from the
// files the harness saved there (test.json, history.jsonl, results.json,
// node logs). It reads only those files, so it can re-render any saved run.
// Large histories also get runDir/history-pages/ (see history_pages.go).
func RenderRun(ctx context.Context, runDir string) error {
	if err := renderRun(ctx, runDir); err != nil {
		return fmt.Errorf("render run %s: %w", runDir, err)
	}
	return nil
}

func renderRun(ctx context.Context, runDir string) error {
	pg, err := readRunPage(runDir)
	if err != nil {
		return err
	}
	keys := anomalyKeys(pg.Results)
	h := pg.loadHistory(ctx, runDir, keys)
	if err := ctx.Err(); err != nil {
		return err
	}
	if h != nil {
		if err := pg.addHistoryViews(runDir, h, keys); err != nil {
			return err
		}
	}
	if pg.Results != nil {
		pg.Anomalies = anomalyViews(pg.Results, h)
	}
	pg.Links, pg.Logs = runLinks(runDir)
	var buf bytes.Buffer
	if err := runTemplate.Execute(&buf, pg); err != nil {
		return fmt.Errorf("execute template: %w", err)
	}
	return writeFileAtomic(filepath.Join(runDir, "index.html"), buf.Bytes())
}

// readRunPage starts the page from test.json and results.json.
func readRunPage(runDir string) (*runPage, error) {
	cfg, err := readTestConfig(filepath.Join(runDir, "test.json"))
	if err != nil {
		return nil, err
	}
	res, err := readResults(filepath.Join(runDir, "results.json"))
	if err != nil {
		return nil, err
	}
	pg := &runPage{Config: cfg, Results: res, RunDir: runDir, Generated: time.Now().UTC(), PageSize: pageSize, PagesPerFile: pagesPerFile}
	pg.Title = cfg.Name
	if pg.Title == "" {
		pg.Title = filepath.Base(filepath.Dir(runDir))
	}
	pg.Verdict, pg.VerdictNote = verdictOf(res)
	pg.Coverage = coverageOf(res)
	return pg, nil
}

// verdictOf is the run's verdict and, when it is unknown, why.
func verdictOf(res *Results) (Verdict, string) {
	if res == nil {
		return Unknown, "results.json is missing: the history was not checked."
	}
	if res.Valid != Unknown {
		return res.Valid, ""
	}
	// Say at the top why nothing could be decided.
	var why []string
	for _, c := range res.Checkers {
		if c.Valid == Unknown {
			w := c.Name + " could not decide"
			if c.Explanation != "" {
				w = c.Name + ": " + c.Explanation
			}
			why = append(why, w)
		}
	}
	return Unknown, strings.Join(why, "; ")
}

// viewKeys are the keys that get an offset view, in the order anomalies
// name them, with the offsets the anomalies point at.
type viewKeys struct {
	order   []string
	offsets map[string][]int64
}

// anomalyKeys picks the keys named by anomaly examples and the partitions
// a checker did not pass, at most maxKeyViews of them.
func anomalyKeys(res *Results) viewKeys {
	k := viewKeys{offsets: map[string][]int64{}}
	add := func(key string, offsets []int64) {
		if _, ok := k.offsets[key]; !ok {
			k.order = append(k.order, key)
			k.offsets[key] = nil
		}
		k.offsets[key] = append(k.offsets[key], offsets...)
	}
	if res != nil {
		for _, c := range res.Checkers {
			for _, a := range c.Anomalies {
				for _, ex := range a.Examples {
					for _, key := range ex.Keys {
						add(key, ex.Offsets)
					}
				}
			}
			for _, p := range c.Partitions {
				if p.Result != "ok" && p.Result != "valid" && p.Result != "true" {
					add(p.Key, nil)
				}
			}
		}
	}
	if len(k.order) > maxKeyViews {
		k.order = k.order[:maxKeyViews]
	}
	return k
}

// loadHistory reads runDir/history.jsonl, if there is one. A history that
// cannot be read is reported on the page; a malformed one still shows the
// events before its first bad line.
func (pg *runPage) loadHistory(ctx context.Context, runDir string, keys viewKeys) *loadedHistory {
	histPath := filepath.Join(runDir, "history.jsonl")
	if _, err := os.Stat(histPath); err != nil {
		return nil
	}
	want := map[string]bool{}
	for _, k := range keys.order {
		want[k] = true
	}
	h, err := loadHistory(ctx, histPath, want)
	if err == nil {
		return h
	}
	pg.HistoryError = err.Error()
	if h == nil || len(h.events) == 0 {
		return nil
	}
	pg.HistoryPartial = true
	return h
}

// addHistoryViews fills everything drawn from the history: the summary,
// the nemesis windows, the plots, the key views and the history pages.
func (pg *runPage) addHistoryViews(runDir string, h *loadedHistory, keys viewKeys) error {
	pg.HasHistory = true
	pg.Events = len(h.events)
	pg.Duration = time.Duration(h.end)
	pg.FNames = h.fs
	pg.Windows = nemesisWindows(h)
	pg.OpStats, pg.Operations = operationStats(h)
	lat, drawn, total, err := latencyPlot(h, pg.Windows)
	if err != nil {
		return err
	}
	pg.LatencySVG, pg.LatencyDrawn, pg.LatencyTotal = template.HTML(lat), drawn, total
	thr, err := throughputPlot(h, pg.Windows)
	if err != nil {
		return err
	}
	pg.ThroughputSVG = template.HTML(thr)
	for _, k := range keys.order {
		ko := h.keyObs[k]
		if ko == nil {
			continue
		}
		kv := buildKeyView(ko, keys.offsets[k])
		svg, err := keyPlot(ko, h.end, pg.Windows)
		if err != nil {
			return err
		}
		pg.KeyViews = append(pg.KeyViews, keyViewHTML{KeyView: kv, PlotHTML: template.HTML(svg), Anchor: keyAnchor(k)})
	}
	return pg.paginate(runDir, h)
}

func keyAnchor(k string) string {
	r := strings.NewReplacer("/", "-", " ", "-", "#", "-", "?", "-", "%", "-", "\"", "-", "'", "-")
	return "key-" + r.Replace(k)
}

func anomalyViews(res *Results, h *loadedHistory) []anomalyView {
	var out []anomalyView
	for _, c := range res.Checkers {
		for _, a := range c.Anomalies {
			av := anomalyView{Anomaly: a}
			if av.Explanation == "" {
				av.Explanation = anomalyExplanations[a.Name]
			}
			for i, ex := range a.Examples {
				if i >= maxExamplesShown {
					av.Hidden = len(a.Examples) - i
					break
				}
				ev := exampleView{Example: ex}
				ops := ex.Ops
				if len(ops) > maxOpsPerExample {
					ev.MoreOps = len(ops) - maxOpsPerExample
					ops = ops[:maxOpsPerExample]
				}
				for _, idx := range ops {
					ev.Rows = append(ev.Rows, opRowOf(h, idx))
				}
				for _, k := range ex.Keys {
					ev.KeyLinks = append(ev.KeyLinks, k)
				}
				av.Shown = append(av.Shown, ev)
			}
			out = append(out, av)
		}
	}
	return out
}

func opRowOf(h *loadedHistory, idx int64) opRow {
	r := opRow{Index: idx}
	if h == nil {
		return r
	}
	p := h.pos(idx)
	if p < 0 {
		return r
	}
	e := &h.events[p]
	r.Found = true
	r.Time = fmtSeconds(e.t)
	r.Process = "nemesis"
	if e.proc >= 0 {
		r.Process = fmt.Sprint(e.proc)
	}
	r.Type = typeNames[e.typ]
	r.F = h.fname(e.f)
	r.Value = h.value(e)
	r.Error = h.errText(e)
	return r
}

func fmtSeconds(ns int64) string {
	return fmt.Sprintf("%.3f s", float64(ns)/1e9)
}

// anomalyExplanations explains each anomaly name of Jepsen's Kafka
// workload, for results that do not carry their own explanation.
var anomalyExplanations = map[string]string{
	"lost-write":            "A write was acknowledged (or read by someone), and a later offset of the same key was read, yet no ok poll ever saw this write: the log lost it.",
	"duplicate":             "The same value appears at more than one offset of a key: a send was applied twice.",
	"inconsistent-offsets":  "Two different values were observed at the same offset of a key: replicas disagree about the log.",
	"nonmonotonic-poll":     "A consumer's polls went backwards: a later poll returned an offset below one an earlier poll had returned.",
	"nonmonotonic-send":     "A producer's sends to one key were acknowledged at offsets that went backwards.",
	"poll-skip":             "Between two polls of one consumer, offsets that exist in the log were skipped.",
	"int-poll-skip":         "Within a single poll, offsets that exist in the log were skipped.",
	"int-nonmonotonic-poll": "Within a single poll, offsets went backwards.",
	"int-send-skip":         "Within a single transaction's sends, other writes were interleaved at offsets in between.",
	"int-nonmonotonic-send": "Within a single transaction, later sends got lower offsets than earlier ones.",
	"unseen":                "Acknowledged writes that no poll had seen by the end of the test (a warning until the final drain confirms them lost).",
	"G1a":                   "Aborted read: a value was read whose send had failed.",
	"precommitted-read":     "A value was read before the send that wrote it could have committed (before the send was even invoked).",
	"G0":                    "Write cycle: transactions' writes are ordered inconsistently across keys.",
	"G1c":                   "Circular information flow: a cycle of write-write and write-read dependencies between transactions.",
	"nonlinearizable":       "No order of the operations consistent with real time explains what clients saw (Porcupine found no linearization).",
	// The replicas checker compares every node's copy of every partition,
	// read after the final heal.
	"replica-divergence": "Two nodes' copies of a partition hold different values at the same offset: the replicas' state machines diverged, though they apply one Raft log.",
	"replica-hole":       "A node's copy of a partition has no record at an offset below its high watermark where another copy has one.",
	"replica-lost-write": "A value acknowledged at an offset is not at that offset on a node's copy of the partition (missing, replaced, or above the copy's high watermark).",
	"replica-missing":    "A node answered that it does not host a partition of which another node's copy holds records.",
	"replica-stale":      "A node answered a lower high watermark than another node had answered before it: a linearizable read of the partition went back.",
}
