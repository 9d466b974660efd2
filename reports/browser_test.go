package reports

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chromiumPath finds Debian's headless Chromium. The browser test must not
// silently pass without a browser: CI (.ci/run) installs chromium, so a
// missing binary is a failure.
func chromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found in PATH: install it (apt-get install -y chromium; .ci/run does) or set CHROMIUM")
	return ""
}

// browserResult is what one headless page load left behind.
type browserResult struct {
	DOM      string
	Console  []string // console errors and failed loads from Chromium's log
	Wall     time.Duration
	ReadyMs  int // performance.now() when report.js finished, -1 if never
	LoadMs   int // performance.now() at the load event, -1 if never
	JSErrors string
}

var (
	consoleLine = regexp.MustCompile(`(?m)^.*(?:CONSOLE|console).*$`)
	readyMsAttr = regexp.MustCompile(`data-ready-ms="(\d+)"`)
	loadMsAttr  = regexp.MustCompile(`data-load-ms="(\d+)"`)
	jsErrAttr   = regexp.MustCompile(`data-js-errors="([^"]*)"`)
)

// loadInChromium loads url in headless Chromium and returns the DOM after
// scripts ran. Console messages are read from Chromium's stderr log; our
// pages also record uncaught errors in data-js-errors on <html>.
func loadInChromium(t testing.TB, url string) browserResult {
	t.Helper()
	bin := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--disable-gpu", "--no-sandbox", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--user-data-dir="+t.TempDir(),
		"--enable-logging=stderr", "--v=0",
		"--virtual-time-budget=10000",
		"--dump-dom", url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, tail(stderr.String(), 3000))
	}
	r := browserResult{DOM: stdout.String(), Wall: time.Since(start), ReadyMs: -1, LoadMs: -1}
	// Our pages never log to the console, so any console line (errors,
	// warnings, failed loads) is a finding.
	for _, l := range strings.Split(stderr.String(), "\n") {
		if consoleLine.MatchString(l) || strings.Contains(l, "Failed to load resource") || strings.Contains(l, "Uncaught") {
			r.Console = append(r.Console, l)
		}
	}
	if m := readyMsAttr.FindStringSubmatch(r.DOM); m != nil {
		r.ReadyMs, _ = strconv.Atoi(m[1])
	}
	if m := loadMsAttr.FindStringSubmatch(r.DOM); m != nil {
		r.LoadMs, _ = strconv.Atoi(m[1])
	}
	if m := jsErrAttr.FindStringSubmatch(r.DOM); m != nil {
		r.JSErrors = m[1]
	}
	return r
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestBrowser loads run reports and the store index from a local server
// in headless Chromium and checks what a person would see: the verdict,
// the plots with the first anomaly marked, the stories, anomaly links
// that lead to rendered operations, a history page and a key view loaded
// from their files, the timeline drawn with the first anomaly on it, and
// no JavaScript errors.
func TestBrowser(t *testing.T) {
	store := t.TempDir()
	runs := map[string]string{}
	for i, name := range []string{"valid", "invalid", "unknown", "checked"} {
		dir := copyRun(t, name, store, "queue-"+name, fmt.Sprintf("20261127T10000%d", i))
		if err := RenderRun(context.Background(), dir); err != nil {
			t.Fatal(err)
		}
		runs[name] = fmt.Sprintf("queue-%s/20261127T10000%d/", name, i)
	}
	storyDir := filepath.Join(store, "queue-story", "20261127T100009")
	lost, _ := storyRun(t, storyDir)
	writeStoryCopies(t, storyDir, lost)
	if err := RenderRun(context.Background(), storyDir); err != nil {
		t.Fatal(err)
	}
	// A history with more pages than are inlined exercises page files,
	// and anomalies on every key put the key views in part files.
	bigDir := filepath.Join(store, "queue-big", "20261127T110000")
	big := writeSyntheticRun(t, bigDir, synthOptions{Ops: 20000, Seed: 9, Keys: 8, Nemesis: []string{"kill"}, Results: func(r *synthRun) any {
		var examples []any
		for _, s := range r.AckedSends {
			if s.Offset == 500 {
				examples = append(examples, map[string]any{"key": s.Key, "offsets": []int64{s.Offset}, "values": []int64{s.Value}, "ops": []int64{s.Index}, "fatal": true, "explanation": "lost"})
			}
		}
		return map[string]any{"valid": false, "checkers": map[string]any{"stats": map[string]any{"valid": true},
			"kafka": map[string]any{"valid": false, "errors": map[string]any{"lost-write": map[string]any{"count": len(examples), "fatal_count": len(examples), "examples": examples}}}}}
	}})
	if err := RenderRun(context.Background(), bigDir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(bigDir, partFile("key-0"))); err != nil {
		t.Fatalf("the big run's key views are not in part files: %v", err)
	}
	if err := RenderIndex(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(store)))
	defer srv.Close()

	farOp := big.Events - 5 // on the last page, which is only in a page file
	marker := func(plot, name string) string {
		return `id="` + plot + `"` + " ⟩ first anomaly: " + name + "</text>"
	}
	tests := []struct {
		name     string
		path     string
		want     []string
		minSVG   int
		opLinks  bool
		targetOp int
	}{
		{name: "valid report", path: runs["valid"], want: []string{`data-verdict="valid"`, ">VALID<", `id="op-0"`, `id="availability"`, `id="op-stats"`}, minSVG: 2},
		{name: "invalid report", path: runs["invalid"], want: []string{`data-verdict="invalid"`, ">INVALID<", `id="anomaly-lost-write"`,
			`<div class="story" id="story-lost-write">`, "Broken guarantee:", marker("latency-plot", "duplicate"), marker("throughput-plot", "duplicate")}, minSVG: 5, opLinks: true},
		{name: "timeline with the first anomaly", path: runs["invalid"] + "#timeline-first", want: []string{`data-timeline-drawn="`, `<div class="tl-first" style="top:`, `class="op t1 first"`}, minSVG: 5},
		{name: "unknown report", path: runs["unknown"], want: []string{`data-verdict="unknown"`, ">UNKNOWN<"}, minSVG: 2},
		// The checkers' own output: its unseen writes are proved at the
		// history's end, so the first anomaly marked is a later-dated one.
		{name: "checked report", path: runs["checked"], want: []string{`data-verdict="invalid"`, `id="anomaly-unseen"`, `<div class="story" id="story-unseen">`,
			marker("latency-plot", "nonlinearizable")}, minSVG: 4, opLinks: true},
		{name: "story with nodes", path: "queue-story/20261127T100009/", want: []string{"answered by <b>n", `<table class="grid small excerpt">`, "<th>on each node after the final heal</th>", `<span class="bad">n2 777</span>`, marker("latency-plot", "lost-write")}, minSVG: 3, opLinks: true},
		{name: "page file", path: "queue-big/20261127T110000/#op-" + strconv.Itoa(farOp), want: []string{`data-target-op="` + strconv.Itoa(farOp) + `"`}, minSVG: 2, targetOp: farOp},
		{name: "key view part", path: "queue-big/20261127T110000/#key-t0-1", want: []string{`data-parts-loaded="`, `<div class="keyview" id="key-t0-1">`, "first anomaly: lost-write</text>"}, minSVG: 3},
		{name: "index", path: "", want: []string{`id="runs-table"`, `id="tests-table"`, "6 runs", `data-verdict="invalid"`, `data-verdict="valid"`, `data-verdict="unknown"`, `id="trend-plot"`}, minSVG: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := loadInChromium(t, srv.URL+"/"+tc.path)
			t.Logf("%s: wall %v (includes browser start), report scripted at %d ms, load event at %d ms", tc.name, r.Wall.Round(time.Millisecond), r.ReadyMs, r.LoadMs)
			if !strings.Contains(r.DOM, `data-report-ready="1"`) {
				t.Errorf("page scripts did not finish (no data-report-ready)")
			}
			if r.JSErrors != "" {
				t.Errorf("JavaScript errors recorded by the page: %s", r.JSErrors)
			}
			for _, l := range r.Console {
				t.Errorf("browser console: %s", l)
			}
			for _, w := range tc.want {
				// "A ⟩ B" wants B inside the figure that A opens.
				if a, b, ok := strings.Cut(w, " ⟩ "); ok {
					if !strings.Contains(between(r.DOM, a, "</figure>"), b) {
						t.Errorf("DOM lacks %q inside the element with %s", b, a)
					}
					continue
				}
				if !strings.Contains(r.DOM, w) {
					t.Errorf("DOM lacks %q", w)
				}
			}
			if n := strings.Count(r.DOM, "<svg"); n < tc.minSVG {
				t.Errorf("DOM has %d SVG plots, want at least %d", n, tc.minSVG)
			}
			if tc.opLinks {
				links := regexp.MustCompile(`class="oplink" href="#op-(\d+)"`).FindAllStringSubmatch(r.DOM, -1)
				if len(links) == 0 {
					t.Fatal("no anomaly links to operations")
				}
				// Follow one link as a person would: the operation must be
				// rendered and highlighted in the history view.
				op := links[len(links)-1][1]
				r2 := loadInChromium(t, srv.URL+"/"+tc.path+"#op-"+op)
				if !strings.Contains(r2.DOM, `id="op-`+op+`"`) || !strings.Contains(r2.DOM, `data-target-op="`+op+`"`) {
					t.Errorf("following #op-%s did not render and select the operation", op)
				}
				if r2.JSErrors != "" {
					t.Errorf("JavaScript errors after following a link: %s", r2.JSErrors)
				}
			}
			if tc.targetOp > 0 && !strings.Contains(r.DOM, `id="op-`+strconv.Itoa(tc.targetOp)+`"`) {
				t.Errorf("operation %d was not rendered from its page file", tc.targetOp)
			}
		})
	}
}
