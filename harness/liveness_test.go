package harness

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/docker"
	"github.com/chronik-chaos/chronik/nemesis"
)

func TestLivenessResult(t *testing.T) {
	base := time.Date(2026, 11, 27, 11, 40, 0, 0, time.UTC)
	exit := docker.Exit{Node: "n2", At: base.Add(12 * time.Second), ExitCode: 2, Tail: []string{"panic: boom"}}
	stuck := notRecovered{Node: "n3", At: base.Add(90 * time.Second), State: "running", LastError: "503", LastLines: []string{"a", "b"}}
	cases := []struct {
		name  string
		exits []docker.Exit
		stuck []notRecovered
		valid verdict.Validity
		// want maps anomaly names to the node and time of their example.
		want map[string]verdict.Case
	}{
		{name: "nothing happened", valid: verdict.True, want: map[string]verdict.Case{}},
		{name: "exit and no recovery", exits: []docker.Exit{exit}, stuck: []notRecovered{stuck}, valid: verdict.False,
			want: map[string]verdict.Case{
				AnomalyNodeExited:   {Node: "n2", Time: verdict.At(int64(12 * time.Second)), Log: []verdict.LogLine{{File: "n2/chronik-server.log", Text: "panic: boom"}}},
				AnomalyNotRecovered: {Node: "n3", Time: verdict.At(int64(90 * time.Second)), Log: make([]verdict.LogLine, 2)},
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := livenessResult(tc.exits, tc.stuck, nil, base)
			if res.Valid != tc.valid {
				t.Fatalf("valid = %v, want %v", res.Valid, tc.valid)
			}
			b, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			var got verdict.Findings
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Errors) != len(tc.want) {
				t.Fatalf("anomalies %v, want %v", got.Errors, tc.want)
			}
			for name, want := range tc.want {
				a := got.Errors[name]
				if a.Count != 1 || a.FatalCount != 1 || len(a.Examples) != 1 {
					t.Fatalf("%s = %+v, want one fatal case", name, a)
				}
				ex := a.Examples[0]
				if ex.Node != want.Node || ex.Time == nil || *ex.Time != *want.Time || len(ex.Log) != len(want.Log) || ex.Explanation == "" {
					t.Errorf("%s example %+v, want node %s at %d with %d log lines", name, ex, want.Node, *want.Time, len(want.Log))
				}
				if len(want.Log) > 0 && want.Log[0].Text != "" && ex.Log[0] != want.Log[0] {
					t.Errorf("%s cites %+v, want %+v", name, ex.Log[0], want.Log[0])
				}
			}
		})
	}
}

// A node that refused its damaged store is reported as an allowed
// refused-corrupt-store with its line, and alone leaves the verdict valid;
// with an unexpected exit the verdict is invalid all the same.
func TestLivenessRefusedStore(t *testing.T) {
	base := time.Date(2026, 11, 27, 11, 40, 0, 0, time.UTC)
	ref := nemesis.Refusal{Node: "n2", At: base.Add(30 * time.Second), ExitCode: 3, File: "/data/000004.log", Err: "pebble WAL corrupt",
		Line:      `level=ERROR msg="refusing to start: the store is corrupt" file=/data/000004.log`,
		Corrupted: nemesis.Corrupted{Kind: nemesis.CorruptFlip, File: "000004.log"}}
	exit := docker.Exit{Node: "n1", At: base.Add(12 * time.Second), ExitCode: 1}
	tests := []struct {
		name  string
		exits []docker.Exit
		valid verdict.Validity
	}{
		{"refusal only", nil, verdict.True},
		{"refusal and a crash", []docker.Exit{exit}, verdict.False},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := livenessResult(tt.exits, nil, []nemesis.Refusal{ref}, base)
			if res.Valid != tt.valid {
				t.Fatalf("valid = %v, want %v", res.Valid, tt.valid)
			}
			a := res.Errors[AnomalyRefusedCorruptStore]
			if a == nil || a.Count != 1 || a.FatalCount != 0 || len(a.Examples) != 1 {
				t.Fatalf("refused-corrupt-store = %+v, want one allowed case", a)
			}
			ex := a.Examples[0]
			if ex.Node != "n2" || len(ex.Log) != 1 || ex.Log[0].Text != ref.Line || !strings.Contains(ex.Explanation, "/data/000004.log") {
				t.Errorf("example %+v", ex)
			}
		})
	}
}
