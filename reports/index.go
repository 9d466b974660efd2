package reports

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"image/color"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// runDirLayout is the timestamp format of run directories,
// store/<test>/<YYYYMMDDTHHMMSS>/ (the store layout in README.md).
const runDirLayout = "20060102T150405"

// RunSummary is one run as the store index lists it.
type RunSummary struct {
	// Dir is the run directory relative to the store, with slashes.
	Dir       string
	Test      string
	Time      time.Time
	Nemeses   []string
	Workload  string
	Seed      string
	Verdict   Verdict
	Anomalies map[string]int
	// HasReport says whether index.html exists in the run directory.
	HasReport bool
	// OkPerSec is the run's throughput (ok operations per second of
	// history), when its results.json has the stats checker's section.
	OkPerSec      float64
	HasThroughput bool
	// PrevDir is the previous run of the same test ("" for the first),
	// with its verdict and time; Change is the throughput change since
	// then, in percent.
	PrevDir     string
	PrevVerdict Verdict
	PrevTime    time.Time
	Change      float64
	HasChange   bool
}

// AnomalyList renders the counts as "lost-write × 2, duplicate × 1".
func (r RunSummary) AnomalyList() string {
	parts := make([]string, 0, len(r.Anomalies))
	for _, k := range sortedKeys(r.Anomalies) {
		parts = append(parts, fmt.Sprintf("%s × %d", k, r.Anomalies[k]))
	}
	return strings.Join(parts, ", ")
}

// ListRuns finds every run directory store/<test>/<timestamp>/ (one that
// holds test.json, results.json or history.jsonl), newest first. The
// store/latest link is skipped so that no run is listed twice.
func ListRuns(ctx context.Context, storeDir string) ([]RunSummary, error) {
	tests, err := os.ReadDir(storeDir)
	if err != nil {
		return nil, fmt.Errorf("list store: %w", err)
	}
	var runs []RunSummary
	for _, t := range tests {
		if !t.IsDir() || t.Name() == "latest" || t.Name() == pagesDir || strings.HasPrefix(t.Name(), ".") {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(storeDir, t.Name()))
		if err != nil {
			return nil, fmt.Errorf("list store: %w", err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("list store: %w", err)
			}
			if !e.IsDir() || e.Name() == "latest" {
				continue
			}
			dir := filepath.Join(storeDir, t.Name(), e.Name())
			if !isRunDir(dir) {
				continue
			}
			s, err := summarize(dir, t.Name(), e.Name())
			if err != nil {
				return nil, err
			}
			runs = append(runs, s)
		}
	}
	sort.SliceStable(runs, func(i, j int) bool {
		if !runs[i].Time.Equal(runs[j].Time) {
			return runs[i].Time.After(runs[j].Time)
		}
		return runs[i].Dir > runs[j].Dir
	})
	linkPrevious(runs)
	return runs, nil
}

func isRunDir(dir string) bool {
	for _, f := range []string{"test.json", "results.json", "history.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return true
		}
	}
	return false
}

func summarize(dir, test, stamp string) (RunSummary, error) {
	s := RunSummary{Dir: test + "/" + stamp, Test: test}
	cfg, err := readTestConfig(filepath.Join(dir, "test.json"))
	if err != nil {
		// One damaged run must not hide the others: list it as unknown.
		cfg = &TestConfig{}
	}
	if cfg.Name != "" {
		s.Test = cfg.Name
	}
	s.Nemeses, s.Workload, s.Seed = cfg.Nemesis, cfg.Workload, cfg.Seed
	res, err := readResults(filepath.Join(dir, "results.json"))
	if err != nil || res == nil {
		s.Verdict = Unknown
	} else {
		s.Verdict = res.Valid
		s.Anomalies = res.AnomalyCounts()
		s.OkPerSec, s.HasThroughput = runThroughput(res)
	}
	if t, err := time.Parse(runDirLayout, stamp); err == nil {
		s.Time = t
	} else if st, err := os.Stat(dir); err == nil {
		s.Time = st.ModTime().UTC()
	}
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err == nil {
		s.HasReport = true
	}
	return s, nil
}

type indexPage struct {
	Runs       []RunSummary
	Tests      []testTrend
	Counts     map[string]int
	TrendSVG   template.HTML
	Strip      []RunSummary
	Validation template.HTML
	ValidGen   time.Time
	ValidError string
	Generated  time.Time
}

// RenderIndex writes storeDir/index.html: every run with its date, test
// name, nemeses, verdict and anomaly counts, newest first, a trend of
// verdicts over time, and the detection power table when
// storeDir/validation.json exists.
func RenderIndex(ctx context.Context, storeDir string) error {
	runs, err := ListRuns(ctx, storeDir)
	if err != nil {
		return fmt.Errorf("render index %s: %w", storeDir, err)
	}
	pg := &indexPage{Runs: runs, Tests: testTrends(runs), Counts: map[string]int{}, Generated: time.Now().UTC()}
	for _, r := range runs {
		pg.Counts[string(r.Verdict)]++
	}
	// The strip shows the latest runs oldest to newest, as a trend reads.
	for i := min(len(runs), 120) - 1; i >= 0; i-- {
		pg.Strip = append(pg.Strip, runs[i])
	}
	if len(runs) > 0 {
		svg, err := trendPlot(runs)
		if err != nil {
			return fmt.Errorf("render index %s: %w", storeDir, err)
		}
		pg.TrendSVG = template.HTML(svg)
	}
	vpath := filepath.Join(storeDir, ValidationFile)
	if _, err := os.Stat(vpath); err == nil {
		v, err := ReadValidation(vpath)
		if err != nil {
			pg.ValidError = err.Error()
		} else {
			pg.Validation = ValidationTable(v.Rows)
			pg.ValidGen = v.Generated
		}
	}
	var buf bytes.Buffer
	if err := indexTemplate.Execute(&buf, pg); err != nil {
		return fmt.Errorf("render index %s: execute template: %w", storeDir, err)
	}
	if err := writeFileAtomic(filepath.Join(storeDir, "index.html"), buf.Bytes()); err != nil {
		return fmt.Errorf("render index %s: %w", storeDir, err)
	}
	return nil
}

// verdictLevel places verdicts on the trend plot's y axis.
var verdictLevel = map[Verdict]float64{Valid: 0, Unknown: 1, Invalid: 2}

// trendPlot draws each run as a point at (date, verdict), coloured by
// verdict, so runs of failures and their onset stand out.
func trendPlot(runs []RunSummary) (string, error) {
	p := newPlot("Verdicts over time", "run date (UTC)", "")
	p.Y.Min, p.Y.Max = -0.5, 2.5
	p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "valid"}, {Value: 1, Label: "unknown"}, {Value: 2, Label: "invalid"}})
	p.X.Tick.Marker = plot.TimeTicks{Format: "01-02\n15:04"}
	p.Legend = plot.NewLegend()
	cols := map[Verdict]color.Color{Valid: colorOk, Unknown: color.NRGBA{R: 0x8b, G: 0x5c, B: 0xf6, A: 0xff}, Invalid: colorFail}
	shapes := map[Verdict]draw.GlyphDrawer{Valid: draw.CircleGlyph{}, Unknown: draw.BoxGlyph{}, Invalid: draw.PyramidGlyph{}}
	lo, hi := runs[len(runs)-1].Time, runs[0].Time
	span := hi.Sub(lo).Seconds()
	if span < 60 {
		span = 60
	}
	for _, v := range []Verdict{Valid, Unknown, Invalid} {
		var xys plotter.XYs
		for _, r := range runs {
			if r.Verdict == v {
				// A small vertical jitter by test keeps same-time runs apart.
				xys = append(xys, plotter.XY{X: float64(r.Time.Unix()), Y: verdictLevel[v] + jitter(r.Test)})
			}
		}
		if len(xys) == 0 {
			continue
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return "", fmt.Errorf("trend scatter: %w", err)
		}
		s.GlyphStyle = draw.GlyphStyle{Color: cols[v], Radius: vg.Points(4), Shape: shapes[v]}
		p.Add(s)
	}
	p.X.Min = float64(lo.Unix()) - span*0.03
	p.X.Max = float64(hi.Unix()) + span*0.03
	return svgOf(p, 9.5*vg.Inch, 2.4*vg.Inch)
}

func jitter(s string) float64 {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return (float64(h%1000)/1000 - 0.5) * 0.5
}
