package reports

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bigRun writes a big synthetic run into a fresh store, laid out as
// store/<test>/<timestamp>/.
func bigRun(b *testing.B, n int) (store, dir string) {
	b.Helper()
	store = b.TempDir()
	dir = filepath.Join(store, "queue-1m", "20261127T120000")
	writeBigRun(b, dir, n)
	return store, dir
}

// writeBigRun writes a synthetic invalid run of n client operations (2n
// events) with nemesis windows and anomalies spread over the history.
func writeBigRun(tb testing.TB, dir string, n int) {
	tb.Helper()
	start := time.Now()
	writeSyntheticRun(tb, dir, synthOptions{
		Ops: n, Seed: 42, Concurrency: 20, Keys: 10, Nemesis: []string{"start", "kill", "pause", "partition", "loss", "delay"},
		NemesisEvery: max(n/40, 10), Name: "queue-1m",
		Results: func(r *synthRun) any {
			pick := func(frac float64) synthSend { return r.AckedSends[int(frac*float64(len(r.AckedSends)-1))] }
			var examples []any
			for _, f := range []float64{0.1, 0.35, 0.6, 0.9} {
				s := pick(f)
				examples = append(examples, map[string]any{"key": s.Key, "value": s.Value, "offset": s.Offset, "ops": []int64{s.Index}})
			}
			return map[string]any{"valid": false, "checkers": map[string]any{
				"kafka": map[string]any{"valid": false, "errors": map[string]any{
					"lost-write": map[string]any{"count": len(examples), "examples": examples},
				}},
				"stats": map[string]any{"valid": true, "ok": n},
			}}
		},
	})
	st, _ := os.Stat(filepath.Join(dir, "history.jsonl"))
	tb.Logf("generated %d operations (%.0f MiB history) in %v", n, float64(st.Size())/(1<<20), time.Since(start).Round(time.Millisecond))
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchOps() int {
	if s := os.Getenv("CHRONIK_BENCH_OPS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 1_000_000
}

// BenchmarkRender1M renders the report of a 1,000,000-operation history
// (CHRONIK_BENCH_OPS overrides the size). cpu-ms/op is the CPU time the
// process spent per render (every core, the garbage collector included),
// which a busy machine inflates much less than the wall time.
func BenchmarkRender1M(b *testing.B) {
	_, dir := bigRun(b, benchOps())
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		if err := RenderRun(context.Background(), dir); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(n), "cpu-ms/op")
	st, _ := os.Stat(filepath.Join(dir, "index.html"))
	b.ReportMetric(float64(st.Size())/(1<<20), "MiB-index.html")
}

// BenchmarkPageLoad1M measures how long headless Chromium takes to load
// and script the report of a 1,000,000-operation history, from a local
// HTTP server: ms-ready is performance.now() when report.js finished,
// ms-load at the load event, ms-wall the whole browser process (start-up
// included; ms-wall-blank is the same for an empty page). The parts loaded
// on demand are measured too, each as the load event of the page opened
// at a link that needs it: ms-load-timeline opens the timeline at the
// first anomaly (a history page file, the timeline drawn), ms-load-key a
// key view from its part file. It reports times, it asserts none.
func BenchmarkPageLoad1M(b *testing.B) {
	store, dir := bigRun(b, benchOps())
	if err := RenderRun(context.Background(), dir); err != nil {
		b.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(dir, "index.html"))
	srv := httptest.NewServer(http.FileServer(http.Dir(store)))
	defer srv.Close()
	base := srv.URL + "/queue-1m/20261127T120000/"
	// A key the anomalies name: its view is a part when the views are big.
	page, _ := os.ReadFile(filepath.Join(dir, "index.html"))
	key := regexp.MustCompile(`href="#(key-[^"]+)"`).FindSubmatch(page)
	if key == nil {
		b.Fatal("the report links no key view")
	}
	// The browser's own start-up, measured on an empty page, is part of
	// ms-wall but not of the page's cost.
	blank := loadInChromium(b, "about:blank").Wall
	var ready, load, wall, timeline, keyLoad float64
	b.ResetTimer()
	n := 0
	for b.Loop() {
		r := loadInChromium(b, base)
		if r.ReadyMs < 0 || r.LoadMs < 0 || r.JSErrors != "" {
			b.Fatalf("report did not load cleanly: ready %d, load %d, errors %q", r.ReadyMs, r.LoadMs, r.JSErrors)
		}
		ready += float64(r.ReadyMs)
		load += float64(r.LoadMs)
		wall += float64(r.Wall.Milliseconds())
		rt := loadInChromium(b, base+"#timeline-first")
		if !strings.Contains(rt.DOM, `data-timeline-drawn="`) || rt.JSErrors != "" {
			b.Fatalf("timeline at the first anomaly was not drawn (errors %q)", rt.JSErrors)
		}
		timeline += float64(rt.LoadMs)
		rk := loadInChromium(b, base+"#"+string(key[1]))
		if !strings.Contains(rk.DOM, `<div class="keyview" id="`+string(key[1])+`"`) || rk.JSErrors != "" {
			b.Fatalf("key view %s was not shown (errors %q)", key[1], rk.JSErrors)
		}
		keyLoad += float64(rk.LoadMs)
		n++
	}
	b.ReportMetric(ready/float64(n), "ms-ready")
	b.ReportMetric(load/float64(n), "ms-load")
	b.ReportMetric(wall/float64(n), "ms-wall")
	b.ReportMetric(float64(blank.Milliseconds()), "ms-wall-blank")
	b.ReportMetric(timeline/float64(n), "ms-load-timeline")
	b.ReportMetric(keyLoad/float64(n), "ms-load-key")
	b.ReportMetric(float64(st.Size())/(1<<20), "MiB-index.html")
}
