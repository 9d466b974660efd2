package checkers_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/linear"
	"github.com/chronik-chaos/chronik/checkers/stats"
	"github.com/chronik-chaos/chronik/checkers/synth"
	"github.com/chronik-chaos/chronik/checkers/verdict"
)

// generate writes a synthetic history into a temp file.
func generate(t testing.TB, cfg synth.Config) (string, synth.Manifest) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "history.jsonl")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	man, err := synth.Write(f, cfg)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return p, man
}

// TestGeneratedCorrect checks that correct synthetic histories, with
// indefinite and failed operations and fault windows, are found valid.
func TestGeneratedCorrect(t *testing.T) {
	tests := []struct {
		name string
		cfg  synth.Config
	}{
		{"queue", synth.Config{Seed: 1, Lines: 30000, InfoRate: 0.02, FailRate: 0.01, NemesisEvery: 2000}},
		{"queue many info", synth.Config{Seed: 2, Lines: 20000, Keys: 3, Threads: 8, InfoRate: 0.2, FailRate: 0.1}},
		{"log", synth.Config{Seed: 3, Lines: 30000, Workload: synth.Log, InfoRate: 0.02, FailRate: 0.01, NemesisEvery: 2000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := generate(t, tt.cfg)
			r, err := checkers.Check(context.Background(), p, checkers.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Valid != verdict.True {
				t.Fatalf("valid = %v, counts %v", r.Valid, r.Counts())
			}
			s := r.Checkers[checkers.NameStats].(*stats.Result)
			if s.Info == 0 || s.Fail == 0 || s.Ok == 0 {
				t.Errorf("ok/fail/info = %d/%d/%d, want all positive", s.Ok, s.Fail, s.Info)
			}
			if tt.cfg.NemesisEvery > 0 && len(s.Faults) == 0 {
				t.Errorf("no fault windows")
			}
			l := r.Checkers[checkers.NameLinearizable].(*linear.Result)
			if l.InfoResolved == 0 || l.InfoDropped == 0 {
				t.Errorf("info resolved %d dropped %d, want both positive", l.InfoResolved, l.InfoDropped)
			}
		})
	}
}

// TestGeneratedInjected checks that anomalies injected at known places are
// found there, with the anomalies they imply.
func TestGeneratedInjected(t *testing.T) {
	tests := []struct {
		name     string
		cfg      synth.Config
		kind     string
		anomaly  string
		mustHave []string
	}{
		{"lost write", synth.Config{Seed: 4, Lines: 20000, InfoRate: 0.02}, synth.InjectLostWrite, "lost-write", []string{"lost-write", "unseen"}},
		{"duplicate", synth.Config{Seed: 5, Lines: 20000, InfoRate: 0.02}, synth.InjectDuplicate, "duplicate", []string{"duplicate", "nonlinearizable"}},
		{"aborted read", synth.Config{Seed: 6, Lines: 20000, InfoRate: 0.02}, synth.InjectG1a, "G1a", []string{"G1a", "nonlinearizable"}},
		{"stale read", synth.Config{Seed: 7, Lines: 20000, InfoRate: 0.02, Workload: synth.Log}, synth.InjectStaleRead, "nonlinearizable", []string{"nonlinearizable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Inject = []string{tt.kind}
			p, man := generate(t, tt.cfg)
			if len(man.Injected) != 1 {
				t.Fatalf("injected %v", man.Injected)
			}
			inj := man.Injected[0]
			r, err := checkers.Check(context.Background(), p, checkers.Options{OutDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if r.Valid != verdict.False {
				t.Fatalf("valid = %v", r.Valid)
			}
			counts := r.Counts()
			for _, n := range tt.mustHave {
				if counts[n] == 0 {
					t.Errorf("no %s in %v", n, counts)
				}
			}
			a := anomaly(r, tt.anomaly)
			if a == nil {
				t.Fatalf("no %s", tt.anomaly)
			}
			found := false
			for _, ex := range a.Examples {
				if slices.Contains(ex.Ops, inj.Op) && (tt.anomaly == "nonlinearizable" || ex.Key == inj.Key) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s examples %+v do not name injected op %d on %s", tt.anomaly, a.Examples, inj.Op, inj.Key)
			}
		})
	}
}

// TestGeneratorDeterministic checks that a seed fixes the history.
func TestGeneratorDeterministic(t *testing.T) {
	cfg := synth.Config{Seed: 9, Lines: 3000, InfoRate: 0.05}
	p1, _ := generate(t, cfg)
	p2, _ := generate(t, cfg)
	r1, _ := checkers.Check(context.Background(), p1, checkers.Options{})
	r2, _ := checkers.Check(context.Background(), p2, checkers.Options{})
	s1 := r1.Checkers[checkers.NameStats].(*stats.Result)
	s2 := r2.Checkers[checkers.NameStats].(*stats.Result)
	if s1.Ok != s2.Ok || s1.Info != s2.Info || !maps.Equal(r1.Counts(), r2.Counts()) {
		t.Errorf("two runs differ: %d/%d vs %d/%d", s1.Ok, s1.Info, s2.Ok, s2.Info)
	}
}

// TestTimeLimitGivesUnknown checks that running out of budget is unknown,
// never valid.
func TestTimeLimitGivesUnknown(t *testing.T) {
	p, _ := generate(t, synth.Config{Seed: 10, Lines: 50000})
	r, err := checkers.Check(context.Background(), p, checkers.Options{TimeLimit: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Valid != verdict.Unknown {
		t.Errorf("valid = %v, want unknown", r.Valid)
	}
}

// BenchmarkCheckMillion measures the speed goal of checkers/doc.go (a
// million-line history checks in a few seconds of CPU and a few hundred
// MB): a full check of a correct history of a million operations (10
// partitions, 20 client processes, 2% info operations, 1% failed, nemesis
// windows).
// "lines=1M" counts every history line (invocations and completions) as an
// operation, as Jepsen's history does; "pairs=1M" counts invoke/completion
// pairs (2M lines). Run with
//
//	go test -run '^$' -bench CheckMillion -benchtime 1x ./checkers/
//
// It reports the peak Go heap (sampled every 50 ms) next to time and
// allocations; peak RSS is best read with /usr/bin/time -v on the test
// binary.
func BenchmarkCheckMillion(b *testing.B) {
	b.Run("lines=1M", func(b *testing.B) { benchCheck(b, 1_000_000) })
	b.Run("pairs=1M", func(b *testing.B) { benchCheck(b, 2_000_000) })
}

// BenchmarkCheckTenMillion is the scale goal: a 10-million-line history of
// the same shape checked within 20 s and 2 GiB on the 2-core machine.
// Porcupine's search stays bounded per partition segment (a segment that
// runs out of budget is unknown, never a hang), so the time grows with
// the history, not with its worst partition. Run with
//
//	/usr/bin/time -v go test -run '^$' -bench CheckTenMillion -benchtime 1x ./checkers/
func BenchmarkCheckTenMillion(b *testing.B) { benchCheck(b, 10_000_000) }

// benchCheck checks a correct synthetic history of the given number of
// lines (10 partitions, 20 processes, 2% info, 1% failed, nemesis windows)
// b.N times and reports the peak Go heap, sampled every 50 ms.
func benchCheck(b *testing.B, lines int) {
	p, man := generate(b, synth.Config{Seed: 1, Lines: lines, Keys: 10, Threads: 20, InfoRate: 0.02, FailRate: 0.01, NemesisEvery: 50_000})
	b.Logf("history: %d lines", man.Lines)
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	var peak uint64
	for i := 0; i < b.N; i++ {
		done := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var ms runtime.MemStats
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse+ms.StackInuse)
				}
			}
		}()
		r, err := checkers.Check(context.Background(), p, checkers.Options{TimeLimit: 10 * time.Minute})
		close(done)
		<-sampled
		if err != nil {
			b.Fatal(err)
		}
		if r.Valid != verdict.True {
			b.Fatalf("valid = %v, counts %v", r.Valid, r.Counts())
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// TestVisualization checks the files written for non-linearizable
// partitions: one failing partition gives linearizability.html with the
// fault windows as annotations; several give one file per partition,
// linked from linearizability.html.
func TestVisualization(t *testing.T) {
	tests := []struct {
		name   string
		cfg    synth.Config
		failed int
	}{
		{"one partition", synth.Config{Seed: 11, Lines: 6000, Workload: synth.Log, NemesisEvery: 500, Inject: []string{synth.InjectStaleRead}}, 1},
		{"two partitions", synth.Config{Seed: 12, Lines: 6000, NemesisEvery: 500, Inject: []string{synth.InjectDuplicate, synth.InjectG1a}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, man := generate(t, tt.cfg)
			out := t.TempDir()
			r, err := checkers.Check(context.Background(), p, checkers.Options{OutDir: out})
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Counts()["nonlinearizable"]; got != tt.failed {
				t.Fatalf("nonlinearizable = %d, want %d (injected %+v)", got, tt.failed, man.Injected)
			}
			index, err := os.ReadFile(filepath.Join(out, linear.VisualizationFile))
			if err != nil {
				t.Fatal(err)
			}
			pages := []string{string(index)}
			if tt.failed > 1 {
				for _, inj := range man.Injected {
					name := "linearizability-" + strings.ReplaceAll(inj.Key, "/", "-") + ".html"
					if !strings.Contains(string(index), name) {
						t.Errorf("index does not link %s", name)
					}
					b, err := os.ReadFile(filepath.Join(out, name))
					if err != nil {
						t.Fatal(err)
					}
					pages = append(pages, string(b))
				}
				pages = pages[1:]
			}
			for i, page := range pages {
				if !strings.Contains(page, "kill .. restart") {
					t.Errorf("page %d has no nemesis annotation", i)
				}
			}
		})
	}
}

// TestHotPartitionIsCut guards the memory bound of the linearizability
// search: a single partition with 20 producers never goes quiet, yet its
// search must still be cut into many small segments.
func TestHotPartitionIsCut(t *testing.T) {
	p, _ := generate(t, synth.Config{Seed: 13, Lines: 40000, Keys: 1, Threads: 20, InfoRate: 0.02, FailRate: 0.01})
	r, err := checkers.Check(context.Background(), p, checkers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := r.Checkers[checkers.NameLinearizable].(*linear.Result)
	if r.Valid != verdict.True || l.Segments < l.Operations/4000 || l.Segments < 2 {
		t.Errorf("valid %v, %d operations in %d segments", r.Valid, l.Operations, l.Segments)
	}
}
