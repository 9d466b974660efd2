package reports

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// The saved runs in testdata/ are made by this generator. Regenerate them
// with CHRONIK_UPDATE_TESTDATA=1 go test ./reports -run TestUpdateTestdata.
func TestUpdateTestdata(t *testing.T) {
	if os.Getenv("CHRONIK_UPDATE_TESTDATA") == "" {
		t.Skip("set CHRONIK_UPDATE_TESTDATA=1 to regenerate reports/testdata")
	}
	for name, gen := range testdataRuns {
		dir := filepath.Join("testdata", name)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		gen(t, dir)
	}
}

var testdataRuns = map[string]func(testing.TB, string) *synthRun{
	"valid":   genValid,
	"invalid": genInvalid,
	"unknown": genUnknown,
}

func statsChecker(r *synthRun) map[string]any {
	return map[string]any{
		"valid": true, "ok": r.Events/2 - 20, "fail": 12, "info": 8,
		"latency_ms":             map[string]any{"p50": 1.9, "p90": 6.2, "p99": 14.8, "max": 503.1},
		"longest_unavailability": map[string]any{"inside_nemesis": "1.2s", "outside_nemesis": "0.05s"},
	}
}

func genValid(tb testing.TB, dir string) *synthRun {
	return writeSyntheticRun(tb, dir, synthOptions{
		Ops: 300, Seed: 1, Nemesis: []string{"start", "kill", "partition"}, NemesisEvery: 60, Name: "queue-kill",
		Results: func(r *synthRun) any {
			return map[string]any{"valid": true, "checkers": map[string]any{
				"kafka":        map[string]any{"valid": true, "errors": map[string]any{}},
				"linearizable": map[string]any{"valid": true, "partitions": map[string]any{"t0/0": "ok", "t0/1": "ok", "t0/2": "ok", "t0/3": "ok"}},
				"stats":        statsChecker(r),
			}}
		},
	})
}

func genInvalid(tb testing.TB, dir string) *synthRun {
	return writeSyntheticRun(tb, dir, synthOptions{
		Ops: 600, Seed: 2, Nemesis: []string{"kill", "pause", "partition", "loss"}, NemesisEvery: 70, Name: "queue-all",
		Conflicts: []synthConflict{{Key: "t0/1", Offset: 20}},
		Results: func(r *synthRun) any {
			var lost, dup1, dup2, conflictSend synthSend
			for _, s := range r.AckedSends {
				switch {
				case s.Key == "t0/2" && s.Offset == 30:
					lost = s
				case s.Key == "t0/3" && s.Offset == 10:
					dup1 = s
				case s.Key == "t0/3" && s.Offset == 11:
					dup2 = s
				case s.Key == "t0/1" && s.Offset == 20:
					conflictSend = s
				}
			}
			last := int64(r.Events - 3)
			conflictOps := []int64{conflictSend.Index}
			conflictOps = append(conflictOps, r.ConflictPolls...)
			return map[string]any{"valid": false, "checkers": map[string]any{
				"kafka": map[string]any{"valid": false, "errors": map[string]any{
					"lost-write": map[string]any{"count": 1, "fatal_count": 1, "examples": []any{map[string]any{
						"key": lost.Key, "values": []int64{lost.Value}, "offsets": []int64{lost.Offset}, "ops": []int64{lost.Index, last}, "fatal": true,
						"explanation": "value was acknowledged at offset 30 and later offsets were read, but no poll ever saw it",
					}}},
					"duplicate": map[string]any{"count": 2, "fatal_count": 2, "examples": []any{
						map[string]any{"key": dup1.Key, "values": []int64{dup1.Value}, "offsets": []int64{dup1.Offset, dup2.Offset}, "ops": []int64{dup1.Index, dup2.Index}, "fatal": true,
							"explanation": "value appears at two offsets"},
						map[string]any{"key": dup1.Key, "values": []int64{dup2.Value}, "offsets": []int64{dup2.Offset, dup2.Offset + 2}, "ops": []int64{dup2.Index}, "fatal": true,
							"explanation": "value appears at two offsets"},
					}},
					"inconsistent-offsets": map[string]any{"count": 1, "fatal_count": 1, "examples": []any{map[string]any{
						"key": conflictSend.Key, "offsets": []int64{conflictSend.Offset}, "values": []int64{conflictSend.Value, 1_000_000 + conflictSend.Value},
						"ops": conflictOps, "fatal": true, "explanation": "one offset holds two values",
					}}},
				}},
				"linearizable": map[string]any{"valid": false,
					"partitions": map[string]any{"t0/0": "ok", "t0/1": "nonlinearizable", "t0/2": "ok", "t0/3": "ok"},
					"errors": map[string]any{"nonlinearizable": map[string]any{"count": 1, "fatal_count": 1, "examples": []any{map[string]any{
						"key": "t0/1", "ops": conflictOps, "explanation": "no linearization explains the read of offset 20", "fatal": true,
					}}}},
				},
				"stats": statsChecker(r),
			}}
		},
	})
}

func genUnknown(tb testing.TB, dir string) *synthRun {
	return writeSyntheticRun(tb, dir, synthOptions{
		Ops: 200, Seed: 3, Nemesis: []string{"pause"}, NemesisEvery: 50, Name: "log-pause",
		Results: func(r *synthRun) any {
			return map[string]any{"valid": "unknown", "checkers": map[string]any{
				"kafka": map[string]any{"valid": true, "errors": map[string]any{}},
				"linearizable": map[string]any{"valid": "unknown", "error": "porcupine timed out on t0/2 after 30s",
					"partitions": map[string]any{"t0/0": "ok", "t0/1": "ok", "t0/2": "unknown", "t0/3": "ok"}},
				"stats": statsChecker(r),
			}}
		},
	})
}

// TestWriteSyntheticStore writes a synthetic run of CHRONIK_SYNTH_OPS
// operations (default 1,000,000) into the store CHRONIK_SYNTH_STORE and
// renders it, for looking at a large report by hand:
//
//	CHRONIK_SYNTH_STORE=/tmp/store go test ./reports -run TestWriteSyntheticStore
func TestWriteSyntheticStore(t *testing.T) {
	store := os.Getenv("CHRONIK_SYNTH_STORE")
	if store == "" {
		t.Skip("set CHRONIK_SYNTH_STORE=DIR to write a large synthetic run there")
	}
	n := 1_000_000
	if s := os.Getenv("CHRONIK_SYNTH_OPS"); s != "" {
		if v, err := strconv.Atoi(s); err == nil {
			n = v
		}
	}
	dir := filepath.Join(store, "queue-1m", "20261127T120000")
	writeBigRun(t, dir, n)
	if err := RenderRun(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if err := RenderIndex(context.Background(), store); err != nil {
		t.Fatal(err)
	}
}
