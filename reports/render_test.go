package reports

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// copyRun copies a saved run from testdata into a temporary store laid out
// as the store is (store/<test>/<timestamp>/), so rendering never writes
// into the source tree.
func copyRun(t testing.TB, name, store, test, stamp string) string {
	t.Helper()
	dst := filepath.Join(store, test, stamp)
	src := filepath.Join("testdata", name)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestRenderRun(t *testing.T) {
	tests := []struct {
		name     string
		verdict  string
		want     []string
		wantNot  []string
		opLinks  int // minimum number of anomaly links to op anchors
		keyViews int
	}{
		{
			name: "valid", verdict: "valid",
			want:    []string{`data-verdict="valid"`, ">VALID<", `id="latency-plot"`, `id="throughput-plot"`, "<svg", "chaos run --nodes 3", "kill n", "n1/chronik-server.log", `href="history.jsonl"`, `href="results.json"`, "chronikPage(0,"},
			wantNot: []string{`id="anomalies"`, ">INVALID<"},
		},
		{
			name: "invalid", verdict: "invalid",
			want: []string{`data-verdict="invalid"`, ">INVALID<", `id="anomaly-lost-write"`, `id="anomaly-duplicate"`, `id="anomaly-inconsistent-offsets"`,
				`id="anomaly-nonlinearizable"`, "no poll ever saw it", "Two different values were observed", `id="key-t0-1"`, "several values", "partition n", "pause n", "p99"},
			opLinks:  6,
			keyViews: 3,
		},
		{
			name: "checked", verdict: "invalid",
			want: []string{">INVALID<", `id="anomaly-lost-write"`, `id="anomaly-inconsistent-offsets"`, "offset 20 of t0/1 holds 2 different values",
				`href="linearizability.html"`, "several values", `<a href="#op-144">#144</a>`},
			opLinks:  10,
			keyViews: 2,
		},
		{
			name: "unknown", verdict: "unknown",
			want:    []string{`data-verdict="unknown"`, ">UNKNOWN<", "porcupine timed out on t0/2", `id="key-t0-2"`},
			wantNot: []string{`id="anomalies"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyRun(t, tc.name, t.TempDir(), "queue", "20261127T100000")
			if err := RenderRun(context.Background(), dir); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "index.html"))
			if err != nil {
				t.Fatal(err)
			}
			page := string(b)
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("report lacks %q", w)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(page, w) {
					t.Errorf("report unexpectedly contains %q", w)
				}
			}
			links := regexp.MustCompile(`class="oplink" href="#op-(\d+)"`).FindAllStringSubmatch(page, -1)
			if len(links) < tc.opLinks {
				t.Errorf("got %d anomaly links to operations, want at least %d", len(links), tc.opLinks)
			}
			// Every linked operation must be in the embedded history data,
			// or the link would lead nowhere.
			for _, l := range links {
				if !strings.Contains(page, "["+l[1]+",") {
					t.Errorf("operation %s is linked but not in the page data", l[1])
				}
			}
			if n := strings.Count(page, `class="keyview"`); n < tc.keyViews {
				t.Errorf("got %d key views, want at least %d", n, tc.keyViews)
			}
			if regexp.MustCompile(`(src|href)="(https?:)?//`).MatchString(page) {
				t.Errorf("report refers to an external resource")
			}
		})
	}
}

// badTypeHistory breaks the contract at line 3, an event of a type the
// contract does not have.
const badTypeHistory = `{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send","t0/0",1]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send","t0/0",[0,1]]]}
{"index":2,"time":3,"process":0,"type":"done","f":"send","value":[["send","t0/0",2]]}
{"index":3,"time":4,"process":0,"type":"ok","f":"send","value":[["send","t0/0",[1,2]]]}
`

// TestRenderRunPartial covers run directories a crashed or interrupted run
// leaves: the report must still render and must never claim a pass.
func TestRenderRunPartial(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{name: "config only", files: map[string]string{"test.json": `{"name":"q","seed":7,"nemesis":"kill,pause","command_line":["chaos","run","--seed","7"]}`},
			want: []string{`data-verdict="unknown"`, "results.json is missing", "chaos run --seed 7", "kill, pause"}},
		{name: "broken history", files: map[string]string{"results.json": `{"valid":true}`, "history.jsonl": "{\"index\":0\n"},
			want: []string{`data-verdict="valid"`, "The history could not be read"}},
		{name: "empty directory", files: map[string]string{}, want: []string{`data-verdict="unknown"`, "No test.json"}},
		// A history the checkers' reader rejects is shown up to the bad
		// line, with the reader's error naming it, and never read on as
		// if the bad line were some other event.
		{name: "unknown type", files: map[string]string{"results.json": `{"valid":"unknown"}`, "history.jsonl": badTypeHistory},
			want: []string{"The history could not be read: line 3: unknown type", "only the 2 events before that line", `<section id="history">`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "q", "20261127T100000")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, body := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := RenderRun(context.Background(), dir); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "index.html"))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("report lacks %q", w)
				}
			}
		})
	}
}

// A case whose evidence is in node logs shows its node, time and cited
// lines, linked to the log files.
func TestRenderLogCase(t *testing.T) {
	dir := copyRun(t, "valid", t.TempDir(), "queue", "20261127T100000")
	results := `{"valid":false,"checkers":{"raft-safety":{"valid":false,"errors":{"election-safety":{"count":1,"fatal_count":1,"examples":[
	  {"key":"t0/0","ops":[],"explanation":"n1 and n2 both became leader of t0/0 in term 4","fatal":true,"time":21000000000,"node":"n2",
	   "log":[{"file":"n1/chronik-server.log","line":3,"time":16000000000,"text":"msg=\"became leader\" term=4"},
	          {"file":"n2/chronik-server.log","line":7,"time":21000000000,"text":"msg=\"became leader\" term=4"}]}]}}}}}`
	if err := os.WriteFile(filepath.Join(dir, "results.json"), []byte(results), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := RenderRun(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, w := range []string{`id="anomaly-election-safety"`, "n1 and n2 both became leader of t0/0 in term 4", "node n2 at 21.000 s",
		`<a href="n2/chronik-server.log">n2/chronik-server.log</a>:7`, "16.000 s", "msg=&#34;became leader&#34; term=4"} {
		if !strings.Contains(page, w) {
			t.Errorf("report lacks %q", w)
		}
	}
}

// The coverage section is a section of its own: its warnings first, then
// one row per path exercised, with "n/a" for a count whose source was
// missing; it is left out of the checkers' details. A replicas case names
// its node and offset.
func TestRenderCoverageAndReplicas(t *testing.T) {
	dir := copyRun(t, "valid", t.TempDir(), "queue", "20261127T100000")
	results := `{"valid":false,"checkers":{
	  "coverage":{"valid":true,"rows":[{"path":"snapshots installed","count":7,"source":"metrics: chronik_raft_snapshots_applied_total","detail":"received from a leader and applied"},
	                                  {"path":"follower reads served","count":null,"source":"metrics: chronik_follower_reads_total"}],
	              "warnings":["kill: no Raft group changed its leader after the first kill"],"fault_windows":{"kill":3}},
	  "replicas":{"valid":false,"keys":2,"errors":{"replica-divergence":{"count":1,"fatal_count":1,"examples":[
	    {"key":"t0/1","ops":[],"values":[52,77],"offsets":[199],"explanation":"n3 holds 52 at offset 199 of t0/1 where n1, n2 hold 77 (52 offsets of this copy differ)","fatal":true,"node":"n3"}]}}}}}`
	if err := os.WriteFile(filepath.Join(dir, "results.json"), []byte(results), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := RenderRun(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, w := range []string{`<section id="coverage">`, `href="#coverage"`, "kill: no Raft group changed its leader after the first kill",
		"<td>snapshots installed</td><td class=\"num\">7</td>", "n/a", "fault_windows",
		`id="anomaly-replica-divergence"`, "n3 holds 52 at offset 199 of t0/1", "node n3"} {
		if !strings.Contains(page, w) {
			t.Errorf("report lacks %q", w)
		}
	}
	if strings.Contains(page, `id="checker-coverage"`) {
		t.Error("coverage is shown among the checkers' details too")
	}
}
