package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Benchmarks compare the standalone broker (Raft + pebble, every
// acknowledged batch fsynced) with franz-go's in-memory kfake in the same
// run, on the same client settings: 100-byte records, acks=all, idempotent
// producer (kgo's defaults), one partition.

var (
	benchOnce   sync.Once
	benchBroker *broker
	benchDir    string
	benchErr    error
	benchTopics atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if cluster3 != nil {
		cluster3.close()
	}
	if benchBroker != nil {
		benchBroker.cancel()
		<-benchBroker.done
	}
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	if builtPath != "" {
		os.RemoveAll(filepath.Dir(builtPath))
	}
	os.Exit(code)
}

// benchFaultFS is set by CHRONIK_BENCH_FAULT_FS=1: the benchmarks' brokers
// then run with --fault-fs, to measure what it costs.
func benchFaultFS() bool { return os.Getenv("CHRONIK_BENCH_FAULT_FS") != "" }

// sharedBroker starts one standalone broker for every benchmark of the run:
// the benchmark functions are called repeatedly with growing b.N.
func sharedBroker(b *testing.B) *broker {
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "chronik-bench-")
		if benchErr != nil {
			return
		}
		o := testOptions(benchDir)
		o.logLevel = slog.LevelError
		o.faultFS = benchFaultFS()
		benchBroker = startBroker(b, o)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchBroker
}

func newKfake(b *testing.B) string {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// newTopic creates a fresh one-partition topic.
func newTopic(b *testing.B, addr string) string {
	name := fmt.Sprintf("bench-%d", benchTopics.Add(1))
	cl := client(b, addr)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, name); err != nil {
		b.Fatal(err)
	}
	return name
}

var value100 = make([]byte, 100)

// produceRate produces n records asynchronously and returns records/s.
func produceRate(b *testing.B, addr string, n int) float64 {
	topic := newTopic(b, addr)
	cl := client(b, addr, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	defer cl.Close()
	ctx := context.Background()
	// Warm up: metadata, producer id, connections.
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: value100}).FirstErr(); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := time.Now()
	for range n {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Value: value100}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
			wg.Done()
		})
	}
	wg.Wait()
	el := time.Since(start)
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d records failed", f, n)
	}
	return float64(n) / el.Seconds()
}

// BenchmarkProduceThroughput reports records/s of both brokers for b.N
// records each, and chronik/kfake as "ratio".
func BenchmarkProduceThroughput(b *testing.B) {
	chronik := sharedBroker(b).kafka
	kf := newKfake(b)
	b.ReportAllocs()
	b.ResetTimer()
	cr := produceRate(b, chronik, b.N)
	kr := produceRate(b, kf, b.N)
	b.ReportMetric(cr, "chronik-rec/s")
	b.ReportMetric(kr, "kfake-rec/s")
	b.ReportMetric(cr*100/1e6, "chronik-MB/s")
	b.ReportMetric(cr/kr, "ratio")
}

// syncLatencies runs n ProduceSync calls one after another.
func syncLatencies(b *testing.B, addr string, n int) []time.Duration {
	topic := newTopic(b, addr)
	cl := client(b, addr, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	defer cl.Close()
	ctx := context.Background()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: value100}).FirstErr(); err != nil {
		b.Fatal(err)
	}
	out := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: value100}).FirstErr(); err != nil {
			b.Fatal(err)
		}
		out = append(out, time.Since(t0))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(q*float64(len(d))))]
}

// BenchmarkProduceSyncLatency reports ProduceSync p50/p99 (ms) of both
// brokers over b.N sequential produces each.
func BenchmarkProduceSyncLatency(b *testing.B) {
	chronik := sharedBroker(b).kafka
	kf := newKfake(b)
	b.ReportAllocs()
	b.ResetTimer()
	c := syncLatencies(b, chronik, b.N)
	k := syncLatencies(b, kf, b.N)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(quantile(c, 0.5)), "chronik-p50-ms")
	b.ReportMetric(ms(quantile(c, 0.99)), "chronik-p99-ms")
	b.ReportMetric(ms(quantile(k, 0.5)), "kfake-p50-ms")
	b.ReportMetric(ms(quantile(k, 0.99)), "kfake-p99-ms")
	if quantile(k, 0.5) > 0 {
		b.ReportMetric(float64(quantile(c, 0.5))/float64(quantile(k, 0.5)), "p50-ratio")
	}
}
