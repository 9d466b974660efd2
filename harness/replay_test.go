package harness

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/nemesis"
)

// writeRun lays out a stored run: test.json, history.jsonl, results.json.
func writeRun(t *testing.T, cfg Config, history string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store", cfg.Name, "20261201T120000")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(filepath.Join(dir, TestFile), cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, HistoryFile), []byte(strings.TrimSpace(history)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := `{"valid":false,"checkers":{"kafka":{"valid":false,"errors":{"lost-write":{"count":2,"examples":[]},"unseen":{"count":0,"examples":[]}}}}}`
	if err := os.WriteFile(filepath.Join(dir, "results.json"), []byte(res), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

const recordedHistory = `
{"index":0,"time":100000000,"process":"nemesis","type":"info","f":"start","value":{"nodes":["n1"]}}
{"index":1,"time":2000000000,"process":0,"type":"invoke","f":"send","value":[["send","t0/0",1]]}
{"index":2,"time":2100000000,"process":0,"type":"ok","f":"send","value":[["send","t0/0",[0,1]]]}
{"index":3,"time":6000000000,"process":"nemesis","type":"invoke","f":"kill","value":{"nodes":["n2"],"target":"leader"}}
{"index":4,"time":6500000000,"process":"nemesis","type":"info","f":"kill","value":{"nodes":["n2"],"verified":{"state":{"n2":"exited"}}}}
{"index":5,"time":9000000000,"process":"nemesis","type":"invoke","f":"restart","value":{"nodes":["n2"]}}
{"index":6,"time":9500000000,"process":"nemesis","type":"info","f":"restart","value":{"nodes":["n2"]}}
{"index":7,"time":30000000000,"process":"nemesis","type":"invoke","f":"restart","value":{"nodes":[],"final":true}}
`

func TestLoadRecorded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Name, cfg.Seed, cfg.Nemesis = "chronik-queue-kill", 42, []string{"staggered-start", "kill"}
	cfg.RunID, cfg.NodeNames = "old-run", []string{"n1", "n2", "n3"}
	dir := writeRun(t, cfg, recordedHistory)
	rec, err := LoadRecorded(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []nemesis.Action{{At: 6 * time.Second, Family: "kill", Nodes: []string{"n2"}, Target: "leader"}, {At: 9 * time.Second, Family: "kill", Stop: true}}
	if len(rec.Schedule.Actions) != 2 || rec.Schedule.Actions[0].At != want[0].At || !slices.Equal(rec.Schedule.Actions[0].Nodes, want[0].Nodes) || !rec.Schedule.Actions[1].Stop {
		t.Errorf("schedule %+v, want %+v", rec.Schedule.Actions, want)
	}
	if rec.WorkloadStart != 2*time.Second || rec.End != 30*time.Second {
		t.Errorf("workload start %s, end %s", rec.WorkloadStart, rec.End)
	}
	if rec.Valid != verdict.False || !slices.Equal(rec.Anomalies, []string{"lost-write"}) {
		t.Errorf("verdict %s anomalies %v", rec.Valid, rec.Anomalies)
	}
	if rec.Config.RunID != "" || rec.Config.Seed != 42 || rec.Config.Store != filepath.Dir(filepath.Dir(dir)) {
		t.Errorf("config: run id %q seed %d store %q", rec.Config.RunID, rec.Config.Seed, rec.Config.Store)
	}

	// The replay's configuration links to the original and carries the
	// script; stored, a replay of it replays the script, not its history.
	rc := rec.ReplayConfig(rec.Schedule)
	if rc.ReplayOf != dir || rc.Script == nil || len(rc.Script.Actions) != 2 {
		t.Fatalf("replay config: replay_of %q script %v", rc.ReplayOf, rc.Script)
	}
	rc.Name = "again"
	shifted := nemesis.Schedule{Actions: []nemesis.Action{{At: 7 * time.Second, Family: "kill", Nodes: []string{"n3"}}}}
	rc.Script = &shifted
	again, err := LoadRecorded(writeRun(t, rc, recordedHistory))
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Schedule.Actions) != 1 || again.Schedule.Actions[0].Nodes[0] != "n3" {
		t.Errorf("a replayed run's schedule %+v, want its script", again.Schedule.Actions)
	}
	if again.Config.ReplayOf != "" || again.Config.Script != nil {
		t.Errorf("replay facts carried over: %+v", again.Config.ReplayFacts)
	}
}

func TestLoadRecordedRefuses(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Name, cfg.Seed = "x", 0
	if _, err := LoadRecorded(writeRun(t, cfg, recordedHistory)); err == nil || !strings.Contains(err.Error(), "no seed") {
		t.Errorf("no seed: err = %v", err)
	}
	cfg.Seed = 1
	twice := recordedHistory + `{"index":8,"time":31000000000,"process":"nemesis","type":"invoke","f":"kill","value":{"nodes":["n1"]}}
{"index":9,"time":32000000000,"process":"nemesis","type":"invoke","f":"kill","value":{"nodes":["n2"]}}`
	if _, err := LoadRecorded(writeRun(t, cfg, twice)); err == nil || !strings.Contains(err.Error(), "starts while it is active") {
		t.Errorf("two starts: err = %v", err)
	}
	if _, err := LoadRecorded(t.TempDir()); err == nil {
		t.Error("empty dir accepted")
	}
}

func TestFatalAnomalies(t *testing.T) {
	tests := []struct {
		name, results string
		want          []string
	}{
		{"fatal counts decide", `{"valid":false,"checkers":{"kafka":{"valid":false,"errors":{
			"G0":{"count":124,"fatal_count":0},"lost-write":{"count":3,"fatal_count":3},"unseen":{"count":0,"fatal_count":0}}}}}`,
			[]string{"lost-write"}},
		{"a valid run's harmless counts", `{"valid":true,"checkers":{"kafka":{"valid":true,"errors":{"G0":{"count":124,"fatal_count":0}}}}}`, nil},
		{"an invalid section without fatal counts", `{"valid":false,"checkers":{"kafka":{"valid":true,"errors":{"G0":{"count":1,"fatal_count":0}}},
			"replicas":{"valid":false,"errors":{"replica-divergence":{"count":2}}}}}`, []string{"replica-divergence"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "results.json"), []byte(tt.results), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := checkers.ReadResults(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := FatalAnomalies(res); !slices.Equal(got, tt.want) {
				t.Errorf("FatalAnomalies = %v, want %v", got, tt.want)
			}
		})
	}
}
