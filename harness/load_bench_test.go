package harness

import (
	"bufio"
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkSustainedLoad measures the load goal of issue 18: the queue and
// log workloads sustain at least 2,000 ok operations per second against a
// 3-node cluster on this machine (clients, brokers and recorder together),
// the history streamed to disk, with the harness's peak RSS (the benchmark
// process: clients, recorder, checkers) reported beside the rate. No
// faults, so the rate is the harness's and the broker's, not a fault's.
// It needs a Docker engine; wrap it in flock like every Docker run:
//
//	flock /tmp/chaos-docker.lock go test -run '^$' -bench SustainedLoad -benchtime 1x ./harness
//
// CHAOS_BENCH_TIME (default 30s), CHAOS_BENCH_RATE (default 4000) and
// CHAOS_BENCH_CONCURRENCY (default 200) change the run; CHAOS_BROKER_BINARY
// names a built chronik-server to use instead of building one, and
// CHAOS_BENCH_ACTIVE_KEYS (default 4, as chaos run) the keys written at a
// time: the log workload's linearizability check searches the operations
// of one key that overlap, so many clients on few keys make it expensive.
func BenchmarkSustainedLoad(b *testing.B) {
	limit := benchEnv(b, "CHAOS_BENCH_TIME", 30*time.Second, time.ParseDuration)
	rate := benchEnv(b, "CHAOS_BENCH_RATE", 4000.0, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
	conc := benchEnv(b, "CHAOS_BENCH_CONCURRENCY", 200, strconv.Atoi)
	keys := benchEnv(b, "CHAOS_BENCH_ACTIVE_KEYS", 4, strconv.Atoi)
	broker := os.Getenv("CHAOS_BROKER_BINARY")
	for _, wl := range []string{WorkloadQueue, WorkloadLog} {
		b.Run(wl, func(b *testing.B) {
			b.ReportAllocs()
			var okRate, opRate, rss float64
			for b.Loop() {
				cfg := DefaultConfig()
				cfg.Workload = wl
				cfg.Nemesis = nil
				cfg.Rate, cfg.Concurrency = rate, conc
				cfg.TimeLimit = Duration(limit)
				cfg.Store = b.TempDir()
				cfg.Seed = 18
				cfg.BrokerBinary = broker
				cfg.ActiveKeys = keys
				resetPeakRSS(b)
				o, err := Run(context.Background(), cfg, io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				okRate += o.OKPerSec
				opRate += o.OpsPerSec
				rss = max(rss, peakRSSMiB(b))
				b.Logf("%s: %d ok of %d ops, %.0f ok/s, verdict %v, store %s", wl, o.OK, o.Ops, o.OKPerSec, o.Valid, o.RunDir)
			}
			b.ReportMetric(okRate/float64(b.N), "ok/s")
			b.ReportMetric(opRate/float64(b.N), "ops/s")
			b.ReportMetric(rss, "peak-RSS-MiB")
		})
	}
}

// benchEnv reads an environment override of a benchmark parameter.
func benchEnv[T any](b *testing.B, name string, def T, parse func(string) (T, error)) T {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := parse(s)
	if err != nil {
		b.Fatalf("%s=%q: %v", name, s, err)
	}
	return v
}

// resetPeakRSS starts the process's peak resident set size (VmHWM) over
// from its current size (Linux: writing 5 to clear_refs).
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("peak RSS not reset (it covers the whole process): %v", err)
	}
}

// peakRSSMiB reads VmHWM, the process's peak resident set size.
func peakRSSMiB(b *testing.B) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatalf("peak RSS: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				b.Fatalf("peak RSS %q: %v", v, err)
			}
			return kb / 1024
		}
	}
	b.Fatal("peak RSS: no VmHWM in /proc/self/status")
	return 0
}
