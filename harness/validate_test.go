package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/reports"
)

func TestRegistrationPatience(t *testing.T) {
	cases := []struct {
		attempts int
		fast     time.Duration
	}{
		// Sleeps 100, 200, 400, 800, 1600 ms, then 2 s each.
		{attempts: 1, fast: 0},
		{attempts: 3, fast: 300 * time.Millisecond},
		{attempts: 12, fast: 3100*time.Millisecond + 6*2*time.Second},
		{attempts: 30, fast: 3100*time.Millisecond + 24*2*time.Second},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.attempts)+" attempts", func(t *testing.T) {
			fast, slow := registrationPatience(tc.attempts)
			if fast != tc.fast || slow != fast+time.Duration(tc.attempts)*2*time.Second {
				t.Errorf("patience(%d) = %v, %v; want %v", tc.attempts, fast, slow, tc.fast)
			}
			if gap := registrationGap(tc.attempts); gap <= fast {
				t.Errorf("gap %v does not exceed the patience %v", gap, fast)
			}
		})
	}
}

func TestCatalogueConfigsValid(t *testing.T) {
	for _, short := range []bool{false, true} {
		rows := Catalogue(short, 20)
		controls := 0
		seen := map[string]bool{}
		for _, r := range rows {
			// --rows selects by name and the store names tests by it.
			if seen[r.Name] {
				t.Errorf("short=%v: two rows named %q", short, r.Name)
			}
			seen[r.Name] = true
			t.Run(r.Name, func(t *testing.T) {
				cfg := rowConfig(r, ValidateOptions{Store: t.TempDir()}, 1)
				if err := cfg.Validate(); err != nil {
					t.Fatal(err)
				}
				if cfg.TimeLimit.D() > 2*time.Minute {
					t.Errorf("time limit %v over 2 minutes", cfg.TimeLimit.D())
				}
				if !r.Control && len(r.BrokerArgs) == 0 {
					t.Error("a bug row without the bug's flag")
				}
			})
			if r.Control {
				controls += r.Runs
			}
		}
		// As many runs again of the txn workload.
		if want := map[bool]int{false: 40, true: 2}[short]; controls != want {
			t.Errorf("short=%v: %d control runs, want %d", short, controls, want)
		}
	}
}

func TestSelectRows(t *testing.T) {
	all := Catalogue(false, 6)
	var controls, txnControls int
	for _, r := range all {
		if r.Control {
			controls++
			if r.Workload == WorkloadTxn {
				txnControls++
			}
		}
	}
	cases := []struct {
		name  string
		sel   []string
		count int
	}{
		{"all", nil, len(all)},
		{"one bug", []string{"no-dedup"}, 1},
		{"prefix", []string{"correct"}, controls},
		{"txn controls", []string{"correct-txn"}, txnControls},
		{"txn bugs", []string{"txn-"}, 3},
		{"none", []string{"nope"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := selectRows(all, tc.sel); len(got) != tc.count {
				t.Errorf("%d rows, want %d: %v", len(got), tc.count, rowNames(got))
			}
		})
	}
}

func TestAnalyzeRun(t *testing.T) {
	history := `{"index":0,"time":1000,"process":0,"type":"invoke","f":"send","value":[["send","t0/0",1]]}
{"index":1,"time":5000000000,"process":0,"type":"ok","f":"send","value":[["send","t0/0",[0,1]]]}
{"index":2,"time":7000000000,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}
{"index":3,"time":9000000000,"process":1,"type":"ok","f":"poll","value":[["poll",{}]]}
`
	cases := []struct {
		name    string
		results string
		names   []string
		first   time.Duration
	}{
		{name: "valid run", results: `{"valid":true,"checkers":{"kafka":{"valid":true,"errors":{}}}}`, first: -1},
		{name: "lost write dated by its ops",
			results: `{"valid":false,"checkers":{
			  "kafka":{"valid":false,"errors":{"lost-write":{"count":1,"fatal_count":1,"examples":[{"key":"t0/0","ops":[3,1],"fatal":true}]},
			                                    "unseen":{"count":1,"fatal_count":0,"examples":[{"ops":[0],"fatal":false}]}}},
			  "stats":{"valid":true}}}`,
			names: []string{"lost-write"}, first: 5 * time.Second},
		{name: "log-based example dated by its own time, not its cited lines",
			results: `{"valid":false,"checkers":{"raft-safety":{"valid":false,"errors":{"election-safety":{"count":1,"fatal_count":1,
			  "examples":[{"key":"t0/0","ops":[],"fatal":true,"time":8000000000,"node":"n2","log":[{"file":"n1/chronik-server.log","line":1,"time":2000000000},{"file":"n2/chronik-server.log","line":4,"time":8000000000}]}]}}},
			  "kafka":{"valid":false,"errors":{"duplicate":{"count":1,"fatal_count":1,"examples":[{"ops":[3],"fatal":true}]}}}}}`,
			names: []string{"duplicate", "election-safety"}, first: 8 * time.Second},
		{name: "older raft-safety shape: fatal without saying so",
			results: `{"valid":false,"checkers":{"raft-safety":{"valid":false,"errors":{"election-safety":{"count":1,
			  "examples":[{"group":"t0/0","time":8000000000,"first":{"node":"n1","time":2000000000},"second":{"node":"n2","time":8000000000},"message":"two leaders"}]}}}}}`,
			names: []string{"election-safety"}, first: 8 * time.Second},
		{name: "allowed examples do not date the run",
			results: `{"valid":false,"checkers":{"kafka":{"valid":false,"errors":{"poll-skip":{"count":2,"fatal_count":1,
			  "examples":[{"ops":[3],"fatal":true},{"ops":[0],"fatal":false}]}}}}}`,
			names: []string{"poll-skip"}, first: 9 * time.Second},
		{name: "invalid checker without named errors", results: `{"valid":false,"checkers":{"linearizable":{"valid":false}}}`,
			names: []string{"linearizable"}, first: -1},
		{name: "unknown verdict named by its checker", results: `{"valid":"unknown","checkers":{"linearizable":{"valid":"unknown"}}}`,
			names: []string{"linearizable"}, first: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "results.json"), []byte(tc.results), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, HistoryFile), []byte(history), 0o644); err != nil {
				t.Fatal(err)
			}
			an, err := AnalyzeRun(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(an.Anomalies, tc.names) || an.First != tc.first {
				t.Errorf("got %v first %v, want %v first %v", an.Anomalies, an.First, tc.names, tc.first)
			}
		})
	}
}

func TestSummarizeAndVerdict(t *testing.T) {
	bug := ValidateRow{Name: "b", Bug: "--unsafe-x"}
	ctl := ValidateRow{Name: "c", Control: true}
	caught := func(first time.Duration, names ...string) ValidateRun {
		return ValidateRun{Checked: true, Valid: verdict.False, FirstAnomaly: first, Anomalies: names}
	}
	valid := ValidateRun{Checked: true, Valid: verdict.True, FirstAnomaly: -1}
	unknown := ValidateRun{Checked: true, Valid: verdict.Unknown, FirstAnomaly: -1}
	cases := []struct {
		name   string
		rows   []ValidateRowResult
		caught []int
		median []time.Duration
		all    bool
	}{
		{name: "all caught, no alarm",
			rows:   []ValidateRowResult{{Row: bug, Runs: []ValidateRun{caught(3*time.Second, "a"), caught(time.Second, "b"), caught(2 * time.Second)}}, {Row: ctl, Runs: []ValidateRun{valid}}},
			caught: []int{3, 0}, median: []time.Duration{2 * time.Second, -1}, all: true},
		{name: "an unknown verdict is not a catch",
			rows:   []ValidateRowResult{{Row: bug, Runs: []ValidateRun{caught(time.Second), unknown}}},
			caught: []int{1}, median: []time.Duration{time.Second}, all: false},
		{name: "an unknown verdict of the correct broker is a false alarm",
			rows:   []ValidateRowResult{{Row: ctl, Runs: []ValidateRun{valid, unknown}}},
			caught: []int{1}, median: []time.Duration{-1}, all: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i, r := range tc.rows {
				s := summarize(r)
				if s.Caught != tc.caught[i] || s.Median != tc.median[i] {
					t.Errorf("row %d: caught %d median %v, want %d %v", i, s.Caught, s.Median, tc.caught[i], tc.median[i])
				}
			}
			rep := &ValidateReport{Rows: tc.rows}
			if rep.AllCaught() != tc.all {
				t.Errorf("AllCaught = %v, want %v", !tc.all, tc.all)
			}
			var b strings.Builder
			rep.WriteTable(&b)
			if !strings.Contains(b.String(), "| bug |") {
				t.Errorf("table lacks its header:\n%s", b.String())
			}
		})
	}
}

func TestWriteValidationMerge(t *testing.T) {
	store := t.TempDir()
	ctx := t.Context()
	bugA := ValidateRow{Name: "a", Bug: "--unsafe-a", Workload: WorkloadQueue, Nemesis: []string{"kill"}}
	bugB := ValidateRow{Name: "b", Bug: "--unsafe-b", Workload: WorkloadQueue, Nemesis: []string{"partition"}}
	ctl := ValidateRow{Name: "c", Control: true, Workload: WorkloadLog, Nemesis: []string{"pause"}, Runs: 1}
	caught := ValidateRun{Checked: true, Valid: verdict.False, FirstAnomaly: time.Second, Anomalies: []string{"lost-write"}}
	missed := ValidateRun{Checked: true, Valid: verdict.True, FirstAnomaly: -1}
	first := &ValidateReport{Rows: []ValidateRowResult{{Row: bugA, Runs: []ValidateRun{missed}}, {Row: bugB, Runs: []ValidateRun{caught}}, {Row: ctl, Runs: []ValidateRun{missed}}}}
	if err := writeValidation(ctx, store, first, false); err != nil {
		t.Fatal(err)
	}
	again := &ValidateReport{Rows: []ValidateRowResult{{Row: bugA, Runs: []ValidateRun{caught, caught}}}}
	if err := writeValidation(ctx, store, again, true); err != nil {
		t.Fatal(err)
	}
	v, err := reports.ReadValidation(filepath.Join(store, reports.ValidationFile))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range v.Rows {
		got = append(got, fmt.Sprintf("%s:%v:%d/%d", r.Bug, r.Control, r.Caught, r.Runs))
	}
	want := []string{"--unsafe-b:false:1/1", "--unsafe-a:false:2/2", ":true:0/1"}
	if !slices.Equal(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(store, "index.html")); err != nil {
		t.Errorf("store index not rendered: %v", err)
	}
}
