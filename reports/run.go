package reports

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"slices"
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
	// HasNodes says the history names the node that answered operations.
	HasNodes bool

	Anomalies []anomalyView
	// First is the run's first anomaly, marked on every plot and on the
	// timeline; FirstTime is its moment as the page shows times.
	First     *firstAnomaly
	FirstTime string
	FirstOp   int64
	// Coverage is the harness's coverage section, shown on its own.
	Coverage *coverageView
	Windows  []NemesisWindow

	// Statistics computed from the history.
	Availability []availRow
	Errors       []errorGroup
	ErrorsMore   int

	LatencySVG    template.HTML
	LatencyDrawn  int
	LatencyTotal  int
	ThroughputSVG template.HTML
	KeyViews      []keyViewHTML
	// KeyParts is set when the key views are written to report-parts/
	// and loaded on demand (parts.go).
	KeyParts bool

	Links []link
	Logs  []link

	// History view data.
	PageSize     int
	PagesPerFile int
	Pages        int
	InlinePages  []template.JS
	FNames       []string
	NodeNames    []string
	PageFiles    bool
	// PartAnchors maps ids inside parts to the part that holds them, so
	// that a link to one loads its part first.
	PartAnchors map[string]string
}

type anomalyView struct {
	Anomaly
	Shown    []exampleView
	Hidden   int
	Fatalish bool
	// Story tells the anomaly's earliest fatal case.
	Story *storyView
}

type exampleView struct {
	Example
	Rows     []storyStep
	MoreOps  int
	KeyLinks []string
	// Told marks the example the story tells.
	Told bool
}

type keyViewHTML struct {
	KeyView
	PlotHTML template.HTML
	Anchor   string
	// Part names the report part holding the view when it is loaded on
	// demand; Bytes is its size.
	Part  string
	Bytes int
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
	h := pg.loadHistory(ctx, runDir, keys, anomalyOps(pg.Results))
	if err := ctx.Err(); err != nil {
		return err
	}
	if h != nil {
		pg.First = findFirstAnomaly(pg.Results, h)
		if pg.First != nil {
			pg.FirstTime = fmtSeconds(pg.First.T)
			pg.FirstOp = lastOp(pg.First.Ops)
		}
		if err := pg.addHistoryViews(runDir, h, keys); err != nil {
			return err
		}
	}
	if pg.Results != nil {
		pg.Anomalies = anomalyViews(pg.Results, h, pg.Windows)
		pg.addReplicaCopies(runDir)
		pg.linkStoryKeys()
	}
	if err := pg.writeParts(runDir); err != nil {
		return err
	}
	pg.Links, pg.Logs = runLinks(runDir)
	var buf bytes.Buffer
	if err := runTemplate.Execute(&buf, pg); err != nil {
		return fmt.Errorf("execute template: %w", err)
	}
	return writeFileAtomic(filepath.Join(runDir, "index.html"), buf.Bytes())
}

// linkStoryKeys leaves the link to a story's key view out when the key
// has none (more keys are named than get a view).
func (pg *runPage) linkStoryKeys() {
	has := map[string]bool{}
	for _, kv := range pg.KeyViews {
		has[kv.Anchor] = true
	}
	for _, av := range pg.Anomalies {
		if av.Story != nil && !has[av.Story.KeyAnchor] {
			av.Story.KeyAnchor = ""
		}
	}
}

func lastOp(ops []int64) int64 {
	if len(ops) == 0 {
		return -1
	}
	return slices.Max(ops)
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

// viewKeys are the keys the history load observes (observed, for the
// stories' log excerpts) and the first of them, which get an offset view
// (order), in the order anomalies name them, fatal cases first, with the
// offsets the anomalies point at.
type viewKeys struct {
	order    []string
	observed []string
	offsets  map[string][]int64
}

// maxObservedKeys bounds the keys whose every acknowledgement and read the
// load keeps: the views' keys and the stories'.
const maxObservedKeys = 3 * maxKeyViews

// anomalyKeys picks the keys named by anomaly examples (each anomaly's
// fatal cases first, so that every story's key is among them) and the
// partitions a checker did not pass.
func anomalyKeys(res *Results) viewKeys {
	k := viewKeys{offsets: map[string][]int64{}}
	add := func(key string, offsets []int64) {
		if key == "" {
			return
		}
		if _, ok := k.offsets[key]; !ok {
			k.observed = append(k.observed, key)
			k.offsets[key] = nil
		}
		k.offsets[key] = append(k.offsets[key], offsets...)
	}
	if res != nil {
		for _, pass := range []func(Example) bool{
			func(ex Example) bool { return ex.Fatal },
			func(ex Example) bool { return !ex.Fatal },
		} {
			for _, c := range res.Checkers {
				for _, a := range c.Anomalies {
					for _, ex := range a.Examples {
						if pass(ex) {
							add(ex.Key, ex.Offsets)
						}
					}
				}
			}
		}
		for _, c := range res.Checkers {
			for _, p := range c.Partitions {
				if p.Result != "ok" && p.Result != "valid" && p.Result != "true" {
					add(p.Key, nil)
				}
			}
		}
	}
	if len(k.observed) > maxObservedKeys {
		k.observed = k.observed[:maxObservedKeys]
	}
	k.order = k.observed[:min(len(k.observed), maxKeyViews)]
	return k
}

// anomalyOps are the history indices the anomaly sections show, whose
// whole values the load keeps.
func anomalyOps(res *Results) map[int64]bool {
	ops := map[int64]bool{}
	if res == nil {
		return ops
	}
	for _, c := range res.Checkers {
		for _, a := range c.Anomalies {
			for _, ex := range a.Examples {
				for i, idx := range ex.Ops {
					if i == maxOpsPerExample {
						break
					}
					ops[idx] = true
				}
			}
		}
	}
	return ops
}

// loadHistory reads runDir/history.jsonl, if there is one. A history that
// cannot be read is reported on the page; a malformed one still shows the
// events before its first bad line.
func (pg *runPage) loadHistory(ctx context.Context, runDir string, keys viewKeys, ops map[int64]bool) *loadedHistory {
	histPath := filepath.Join(runDir, "history.jsonl")
	if _, err := os.Stat(histPath); err != nil {
		return nil
	}
	want := map[string]bool{}
	for _, k := range keys.observed {
		want[k] = true
	}
	h, err := loadHistory(ctx, histPath, want, ops)
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
// the nemesis windows, the statistics, the plots, the key views and the
// history pages.
func (pg *runPage) addHistoryViews(runDir string, h *loadedHistory, keys viewKeys) error {
	pg.HasHistory = true
	pg.Events = len(h.events)
	pg.Duration = time.Duration(h.end)
	pg.FNames = h.fs
	pg.NodeNames = h.nodes
	pg.HasNodes = len(h.nodes) > 0
	pg.Windows = nemesisWindows(h)
	pg.OpStats, pg.Operations = operationStats(h)
	pg.Availability = availability(h, pg.Windows)
	pg.Errors, pg.ErrorsMore = errorGroups(h, pg.Windows)
	ov := overlay{windows: pg.Windows, first: pg.First}
	lat, drawn, total, err := latencyPlot(h, ov)
	if err != nil {
		return err
	}
	pg.LatencySVG, pg.LatencyDrawn, pg.LatencyTotal = template.HTML(lat), drawn, total
	thr, err := throughputPlot(h, ov)
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
		svg, err := keyPlot(ko, h.end, ov)
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

func anomalyViews(res *Results, h *loadedHistory, wins []NemesisWindow) []anomalyView {
	var out []anomalyView
	for _, c := range res.Checkers {
		for ai := range c.Anomalies {
			a := &c.Anomalies[ai]
			av := anomalyView{Anomaly: *a}
			if av.Explanation == "" {
				av.Explanation = anomalyExplanations[a.Name]
			}
			told := -1
			if len(a.Examples) > 0 {
				var earliest bool
				told, earliest = toldCase(a, h)
				av.Story = storyOf(a, told, h, wins)
				av.Story.Earliest = earliest
			}
			for i, ex := range a.Examples {
				if i >= maxExamplesShown {
					av.Hidden = len(a.Examples) - i
					break
				}
				ev := exampleView{Example: ex, Told: i == told}
				ops := ex.Ops
				if len(ops) > maxOpsPerExample {
					ev.MoreOps = len(ops) - maxOpsPerExample
					ops = ops[:maxOpsPerExample]
				}
				if h != nil {
					fc := caseFocus(&ev.Example, h)
					for _, idx := range ops {
						ev.Rows = append(ev.Rows, storyStepOf(h, idx, fc))
					}
				} else {
					for _, idx := range ops {
						ev.Rows = append(ev.Rows, storyStep{Index: idx})
					}
				}
				ev.KeyLinks = append(ev.KeyLinks, ex.Keys...)
				av.Shown = append(av.Shown, ev)
			}
			out = append(out, av)
		}
	}
	return out
}

func fmtSeconds(ns int64) string {
	return fmt.Sprintf("%.3f s", float64(ns)/1e9)
}
