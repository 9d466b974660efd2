package checkers_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/kafka"
	"github.com/chronik-chaos/chronik/checkers/linear"
	"github.com/chronik-chaos/chronik/checkers/verdict"
)

// firstOps maps an anomaly name to the ops of its first example.
type firstOps map[string][]int64

// TestHistories checks every hand-written history in testdata: each
// anomaly file must produce exactly the listed anomalies (names, counts,
// the first example's operation indices) and verdict, and each correct
// twin must pass with no anomaly at all.
func TestHistories(t *testing.T) {
	tests := []struct {
		file   string
		valid  verdict.Validity
		counts map[string]int
		ops    firstOps
	}{
		{"lost-write", verdict.False, map[string]int{"lost-write": 1, "unseen": 1}, firstOps{"lost-write": {1, 5}, "unseen": {1}}},
		{"lost-write-ok", verdict.True, nil, nil},
		{"duplicate", verdict.False, map[string]int{"duplicate": 1, "int-nonmonotonic-poll": 1}, firstOps{"duplicate": {1, 3}, "int-nonmonotonic-poll": {3}}},
		{"duplicate-ok", verdict.True, nil, nil},
		{"inconsistent-offsets", verdict.False, map[string]int{"inconsistent-offsets": 1, "lost-write": 1, "unseen": 1, "nonlinearizable": 1},
			firstOps{"inconsistent-offsets": {1, 3}, "lost-write": {3, 5}, "unseen": {3}, "nonlinearizable": {3}}},
		{"inconsistent-offsets-ok", verdict.True, nil, nil},
		{"G1a", verdict.False, map[string]int{"G1a": 1}, firstOps{"G1a": {1, 5}}},
		{"G1a-ok", verdict.True, nil, nil},
		{"precommitted-read", verdict.False, map[string]int{"precommitted-read": 1}, firstOps{"precommitted-read": {1}}},
		{"precommitted-read-ok", verdict.True, nil, nil},
		{"poll-skip", verdict.False, map[string]int{"poll-skip": 1}, firstOps{"poll-skip": {9, 11}}},
		// A subscribed consumer may be rebalanced between polls: the skip
		// is reported but allowed, as in Jepsen.
		{"poll-skip-subscribed", verdict.True, map[string]int{"poll-skip": 1}, firstOps{"poll-skip": {9, 11}}},
		{"nonmonotonic-poll", verdict.False, map[string]int{"nonmonotonic-poll": 1}, firstOps{"nonmonotonic-poll": {9, 11}}},
		{"poll-ok", verdict.True, nil, nil},
		{"int-poll-skip", verdict.False, map[string]int{"int-poll-skip": 1}, firstOps{"int-poll-skip": {7}}},
		{"int-nonmonotonic-poll", verdict.False, map[string]int{"int-nonmonotonic-poll": 1}, firstOps{"int-nonmonotonic-poll": {7}}},
		{"int-poll-ok", verdict.True, nil, nil},
		{"nonmonotonic-send", verdict.False, map[string]int{"nonmonotonic-send": 1, "nonlinearizable": 1}, firstOps{"nonmonotonic-send": {1, 3}, "nonlinearizable": {1}}},
		{"nonmonotonic-send-ok", verdict.True, nil, nil},
		// Interleaved sends are normal in Kafka; they also form a G0 cycle,
		// which Jepsen allows as well.
		{"int-send-skip", verdict.True, map[string]int{"int-send-skip": 1, "G0": 1}, firstOps{"int-send-skip": {2}, "G0": {2, 3}}},
		{"int-nonmonotonic-send", verdict.False, map[string]int{"int-nonmonotonic-send": 1}, firstOps{"int-nonmonotonic-send": {1}}},
		{"int-send-ok", verdict.True, nil, nil},
		{"unseen", verdict.False, map[string]int{"unseen": 1}, firstOps{"unseen": {1}}},
		{"unseen-ok", verdict.True, nil, nil},
		{"G0", verdict.True, map[string]int{"G0": 1}, firstOps{"G0": {2, 3}}},
		{"G0-ok", verdict.True, nil, nil},
		{"G1c", verdict.False, map[string]int{"G1c": 1}, firstOps{"G1c": {2, 3}}},
		{"G1c-ok", verdict.True, nil, nil},
		{"info-legal", verdict.True, nil, nil},
		{"log-ok", verdict.True, nil, nil},
		// Process numbers beyond 32 bits stay distinct.
		{"process-large", verdict.False, map[string]int{"nonmonotonic-poll": 1}, firstOps{"nonmonotonic-poll": {11, 13}}},
		{"process-large-ok", verdict.True, nil, nil},
		// A read op starting mid-log bounds nothing for lost-write (only
		// consumer polls do, as Jepsen's reads-by-type): the unread ok
		// sends are unseen, not lost.
		{"read-partial", verdict.False, map[string]int{"unseen": 2}, firstOps{"unseen": {1}}},
		{"read-partial-ok", verdict.True, nil, nil},
		// A crash (even one recorded as ok) resets the consumer: re-reading
		// from the beginning is legal; without it, it is nonmonotonic.
		{"crash-ok", verdict.True, nil, nil},
		{"crash-reset-missing", verdict.False, map[string]int{"nonmonotonic-poll": 1}, firstOps{"nonmonotonic-poll": {7, 13}}},
		// One precommitted-read case per operation, as Jepsen.
		{"precommitted-read-multi", verdict.False, map[string]int{"precommitted-read": 1}, firstOps{"precommitted-read": {1}}},
		{"precommitted-read-multi-ok", verdict.True, nil, nil},
		// Txn sends to a key that plain sends also use: not a linearizability
		// violation (the model leaves transactional keys out).
		{"txn-mixed-ok", verdict.True, nil, nil},
		// Offsets not starting at 0 and with gaps are legal (transaction
		// markers); a skipped acknowledged value still is not.
		{"offsets-sparse", verdict.False, map[string]int{"int-poll-skip": 1, "lost-write": 1, "poll-skip": 1, "unseen": 1, "nonlinearizable": 1},
			firstOps{"int-poll-skip": {7}, "lost-write": {3, 13}, "poll-skip": {11, 13}, "unseen": {3}, "nonlinearizable": {7}}},
		{"offsets-sparse-ok", verdict.True, nil, nil},
		{"nonlinearizable", verdict.False, map[string]int{"nonlinearizable": 1}, firstOps{"nonlinearizable": {5}}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			out := t.TempDir()
			r, err := checkers.Check(context.Background(), filepath.Join("testdata", tt.file+".jsonl"), checkers.Options{OutDir: out})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if r.Valid != tt.valid {
				t.Errorf("valid = %v, want %v (counts %v)", r.Valid, tt.valid, r.Counts())
			}
			want := tt.counts
			if want == nil {
				want = map[string]int{}
			}
			if got := r.Counts(); !maps.Equal(got, want) {
				t.Errorf("counts = %v, want %v", got, want)
			}
			for name, ops := range tt.ops {
				a := anomaly(r, name)
				if a == nil || len(a.Examples) == 0 {
					t.Errorf("%s: no example", name)
					continue
				}
				if got := a.Examples[0].Ops; !slices.Equal(got, ops) {
					t.Errorf("%s: ops = %v, want %v", name, got, ops)
				}
				if a.Examples[0].Explanation == "" {
					t.Errorf("%s: empty explanation", name)
				}
			}
			_, err = os.Stat(filepath.Join(out, linear.VisualizationFile))
			if wantViz := tt.counts["nonlinearizable"] > 0; wantViz != (err == nil) {
				t.Errorf("visualization written = %v, want %v", err == nil, wantViz)
			}
		})
	}
	// Every testdata history must be in the table.
	files, _ := filepath.Glob("testdata/*.jsonl")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".jsonl")
		if !seen[name] {
			t.Errorf("testdata/%s.jsonl has no expectation", name)
		}
	}
}

func anomaly(r *checkers.Results, name string) *verdict.Anomaly {
	if k, ok := r.Checkers[checkers.NameKafka].(*kafka.Result); ok && k.Errors[name] != nil {
		return k.Errors[name]
	}
	if l, ok := r.Checkers[checkers.NameLinearizable].(*linear.Result); ok && l.Errors[name] != nil {
		return l.Errors[name]
	}
	return nil
}

// TestInfoResolution checks how indefinite sends enter the
// linearizability search: one seen by the final poll is resolved, one
// never seen and one left pending at the end are dropped.
func TestInfoResolution(t *testing.T) {
	r, err := checkers.Check(context.Background(), "testdata/info-legal.jsonl", checkers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := r.Checkers[checkers.NameLinearizable].(*linear.Result)
	if l.InfoResolved != 1 || l.InfoDropped != 2 {
		t.Errorf("resolved %d dropped %d, want 1 and 2", l.InfoResolved, l.InfoDropped)
	}
}

// TestResultsContract checks the JSON shape of results.json: valid is a
// JSON boolean or "unknown", the three checkers are present, and reading
// the file back gives the same verdicts.
func TestResultsContract(t *testing.T) {
	r, err := checkers.Check(context.Background(), "testdata/lost-write.jsonl", checkers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := checkers.WriteResults(dir, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, checkers.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Valid    any `json:"valid"`
		Checkers map[string]struct {
			Valid  any `json:"valid"`
			Errors map[string]struct {
				Count    int               `json:"count"`
				Examples []json.RawMessage `json:"examples"`
			} `json:"errors"`
		} `json:"checkers"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Valid != false {
		t.Errorf("valid = %#v, want false", raw.Valid)
	}
	for _, name := range []string{"kafka", "linearizable", "stats"} {
		if _, ok := raw.Checkers[name]; !ok {
			t.Errorf("checker %s missing", name)
		}
	}
	if lw := raw.Checkers["kafka"].Errors["lost-write"]; lw.Count != 1 || len(lw.Examples) != 1 {
		t.Errorf("kafka lost-write = %+v", lw)
	}
	back, err := checkers.ReadResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.Valid != verdict.False || back.Counts()["lost-write"] != 1 {
		t.Errorf("read back valid %v counts %v", back.Valid, back.Counts())
	}

	// Merging an extra checker recomputes the verdict.
	ok, _ := checkers.Check(context.Background(), "testdata/lost-write-ok.jsonl", checkers.Options{})
	if ok.Valid != verdict.True {
		t.Fatalf("lost-write-ok valid = %v", ok.Valid)
	}
	ok.Add("liveness", &checkers.Extra{Valid: verdict.Unknown, Fields: map[string]any{"exited": []string{"n2"}}})
	if ok.Valid != verdict.Unknown {
		t.Errorf("after unknown extra: valid = %v", ok.Valid)
	}
	ok.Add("liveness", &checkers.Extra{Valid: verdict.False})
	if ok.Valid != verdict.False {
		t.Errorf("after invalid extra: valid = %v", ok.Valid)
	}
	var buf strings.Builder
	if err := json.NewEncoder(&buf).Encode(map[string]verdict.Validity{"u": verdict.Unknown, "t": verdict.True}); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(buf.String()); got != `{"t":true,"u":"unknown"}` {
		t.Errorf("validity JSON = %s", got)
	}
}

// TestMalformedIsUsageError checks that Check reports a broken history as
// ErrMalformed with the line number.
func TestMalformedIsUsageError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "h.jsonl")
	data := `{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send","t0/0",1]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send","t0/0",[0,1]]
`
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := checkers.Check(context.Background(), p, checkers.Options{})
	if !errors.Is(err, checkers.ErrMalformed) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("err = %v, want ErrMalformed at line 2", err)
	}
}
