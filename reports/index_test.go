package reports

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRenderIndex(t *testing.T) {
	store := t.TempDir()
	copyRun(t, "valid", store, "queue-kill", "20261125T220000")
	copyRun(t, "invalid", store, "queue-all", "20261127T100000")
	copyRun(t, "unknown", store, "log-pause", "20261126T220000")
	// store/latest must not list a run twice.
	if err := os.Symlink(filepath.Join("queue-all", "20261127T100000"), filepath.Join(store, "latest")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		validation string
		want       []string
		wantNot    []string
	}{
		{
			name: "runs only",
			want: []string{`id="runs-table"`, `id="trend-plot"`, "<svg", "3 runs", "duplicate × 2, inconsistent-offsets × 1, lost-write × 1, nonlinearizable × 1",
				`href="queue-all/20261127T100000/index.html"`, "kill, pause, partition, loss"},
			wantNot: []string{`id="validation"`},
		},
		{
			name: "with validation",
			validation: `{"generated":"2026-11-27T12:00:00Z","rows":[
				{"bug":"--unsafe-ack-before-commit","nemeses":["kill"],"runs":3,"caught":3,"median_time_to_first_anomaly":"14.2s","anomalies":["lost-write"]},
				{"bug":"--unsafe-no-dedup","nemeses":["partition"],"runs":3,"caught":1,"median_time_to_first_anomaly":31000000000},
				{"control":true,"nemeses":["kill"],"runs":20,"caught":1}]}`,
			want: []string{`id="validation-table"`, "--unsafe-ack-before-commit", "3 / 3", "14.2s", "1 / 3", "31s", "correct broker", "1 false alarm<", `class=" bad"`, `class="control bad"`},
		},
		{
			name:       "broken validation",
			validation: `{"rows": [`,
			want:       []string{"validation.json could not be read"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vpath := filepath.Join(store, ValidationFile)
			os.Remove(vpath)
			if tc.validation != "" {
				if err := os.WriteFile(vpath, []byte(tc.validation), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := RenderIndex(context.Background(), store); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(store, "index.html"))
			if err != nil {
				t.Fatal(err)
			}
			page := string(b)
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("index lacks %q", w)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(page, w) {
					t.Errorf("index unexpectedly contains %q", w)
				}
			}
			// Newest first.
			a := strings.Index(page, "queue-all/20261127T100000/index.html\">")
			bb := strings.Index(page, "log-pause/20261126T220000/index.html\">")
			c := strings.Index(page, "queue-kill/20261125T220000/index.html\">")
			if !(a >= 0 && a < bb && bb < c) {
				t.Errorf("runs not listed newest first: positions %d, %d, %d", a, bb, c)
			}
			if n := strings.Count(page, `class="run `); n != 3 {
				t.Errorf("listed %d runs, want 3", n)
			}
		})
	}
}

func TestListRuns(t *testing.T) {
	store := t.TempDir()
	copyRun(t, "invalid", store, "queue-all", "20261127T100000")
	copyRun(t, "valid", store, "queue-kill", "20261125T220000")
	if err := os.MkdirAll(filepath.Join(store, "queue-all", "not-a-run"), 0o755); err != nil {
		t.Fatal(err)
	}
	runs, err := ListRuns(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Fatalf("got %d runs, want 2: %+v", len(runs), runs)
	}
	tests := []struct {
		i       int
		test    string
		verdict Verdict
		time    time.Time
	}{
		{0, "queue-all", Invalid, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
		{1, "queue-kill", Valid, time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.test, func(t *testing.T) {
			r := runs[tc.i]
			if r.Test != tc.test || r.Verdict != tc.verdict || !r.Time.Equal(tc.time) {
				t.Errorf("got %s %s %v, want %s %s %v", r.Test, r.Verdict, r.Time, tc.test, tc.verdict, tc.time)
			}
		})
	}
}

func TestValidationRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), ValidationFile)
	in := &Validation{Generated: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), Rows: []ValidationRow{
		{Bug: "--unsafe-stale-reads", Nemeses: []string{"partition"}, Runs: 2, Caught: 2, MedianTimeToFirstAnomaly: Duration(12500 * time.Millisecond), Anomalies: []string{"nonlinearizable"}},
		{Control: true, Nemeses: []string{"kill"}, Runs: 20},
	}}
	if err := WriteValidation(path, in); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), `"median_time_to_first_anomaly": "12.5s"`) {
		t.Errorf("duration not written as a Go duration string:\n%s", raw)
	}
	out, err := ReadValidation(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Rows) != 2 || out.Rows[0].MedianTimeToFirstAnomaly != in.Rows[0].MedianTimeToFirstAnomaly || !out.Rows[1].Control {
		t.Errorf("round trip lost data: %+v", out.Rows)
	}
}

// The index compares the runs of one test: a row per test with its
// verdicts and throughput over time, and on every run a link to the
// previous run of the same test with the change in throughput.
func TestIndexComparesRuns(t *testing.T) {
	store := t.TempDir()
	runs := []struct {
		stamp, valid string
		ok           int
	}{
		{"20261125T100000", "true", 1000},
		{"20261126T100000", "false", 1500},
		{"20261127T100000", "true", 1200},
	}
	for _, r := range runs {
		dir := filepath.Join(store, "queue-kill", r.stamp)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		res := `{"valid":` + r.valid + `,"checkers":{"stats":{"valid":true,"ok":` + strconv.Itoa(r.ok) + `,"duration_s":10}}}`
		for name, body := range map[string]string{"results.json": res, "test.json": `{"name":"queue-kill","seed":1}`} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	copyRun(t, "unknown", store, "log-pause", "20261126T220000")
	if err := RenderIndex(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(store, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	row := between(page, `<tr data-test="queue-kill">`, "</tr>")
	for _, w := range []string{`class="spark"`, ">120<", ">-20.0<", "2 valid", "1 invalid"} {
		if !strings.Contains(row, w) {
			t.Errorf("queue-kill's trend row lacks %q:\n%s", w, row)
		}
	}
	if n := strings.Count(row, "<circle"); n != 3 {
		t.Errorf("throughput sparkline has %d points, want 3", n)
	}
	// The newest run links the one before it, which links the first.
	table := between(page, `id="runs-table"`, "</table>")
	newest := between(table, `<a href="queue-kill/20261127T100000/index.html">`, "</tr>")
	if !strings.Contains(newest, `<a class="prev" href="queue-kill/20261126T100000/index.html">`) || !strings.Contains(newest, "(-20.0 %)") {
		t.Errorf("newest run lacks its previous run and change:\n%s", newest)
	}
	oldest := between(table, `<a href="queue-kill/20261125T100000/index.html">`, "</tr>")
	if !strings.Contains(oldest, ">first<") {
		t.Errorf("oldest run should have no previous run:\n%s", oldest)
	}
	if strings.Contains(between(page, `<tr data-test="log-pause">`, "</tr>"), "<circle") {
		t.Error("a run without stats got a throughput point")
	}
}
