package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// broker is an in-process chronik-server (serve with a real cluster.Node).
type broker struct {
	kafka, admin string
	cancel       context.CancelFunc
	done         chan error
}

func testOptions(dataDir string) *options {
	return &options{
		mode: "standalone", listenHost: "127.0.0.1", advertisedAddr: "127.0.0.1",
		nodeID: 1, dataDir: dataDir, logLevel: slog.LevelInfo,
		defaultPartitions: 1, autoCreateTopics: true, maxFrameBytes: 100 << 20,
	}
}

func startBroker(t testing.TB, o *options) *broker {
	t.Helper()
	var log *slog.Logger
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	} else {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan listeners, 1)
	b := &broker{cancel: cancel, done: make(chan error, 1)}
	go func() { b.done <- serve(ctx, o, log, ready) }()
	select {
	case l := <-ready:
		b.kafka, b.admin = l.kafka.String(), l.admin.String()
	case err := <-b.done:
		cancel()
		t.Fatalf("broker did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("broker did not start within 30s")
	}
	waitReady(t, b.admin, 30*time.Second)
	return b
}

func (b *broker) stop(t testing.TB) {
	t.Helper()
	b.cancel()
	select {
	case err := <-b.done:
		if err != nil {
			t.Fatalf("broker stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("broker did not stop within 30s")
	}
}

// waitReady polls /readyz until 200 or d passes.
func waitReady(t testing.TB, admin string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 after %v (last: %v)", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type tbWriter struct{ t testing.TB }

func (w tbWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func client(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	seeds := strings.Split(addr, ",") // addr may list several brokers
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RetryTimeout(20 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// consumeAll reads partitions 0..parts-1 of topic from the start until n
// distinct values were seen.
func consumeAll(ctx context.Context, t testing.TB, addr, topic string, parts int32, n int) map[string]int64 {
	t.Helper()
	offs := map[int32]kgo.Offset{}
	for p := range parts {
		offs[p] = kgo.NewOffset().AtStart()
	}
	cl := client(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}))
	seen := map[string]int64{}
	for len(seen) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d: %v", len(seen), n, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = r.Offset })
	}
	cl.Close()
	return seen
}

func TestStandaloneEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b := startBroker(t, testOptions(dir))

	adm := kadm.NewClient(client(t, b.kafka))
	if _, err := adm.CreateTopic(ctx, 3, -1, nil, "it"); err != nil {
		t.Fatal(err)
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil || !topics.Has("it") || !topics.Has("chronik-default") {
		t.Fatalf("topics %v (err %v): want it and chronik-default", topics.Names(), err)
	}

	const n = 10000
	prod := client(t, b.kafka, kgo.DefaultProduceTopic("it"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var produceErr error
	for i := range n {
		wg.Add(1)
		prod.Produce(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				produceErr = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if produceErr != nil {
		t.Fatal(produceErr)
	}
	offsets := consumeAll(ctx, t, b.kafka, "it", 3, n)
	ends, err := adm.ListEndOffsets(ctx, "it")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != n {
		t.Fatalf("end offsets sum to %d, want %d", total, n)
	}
	starts, err := adm.ListStartOffsets(ctx, "it")
	if err != nil {
		t.Fatal(err)
	}
	starts.Each(func(o kadm.ListedOffset) {
		if o.Offset != 0 {
			t.Errorf("start offset of %d is %d", o.Partition, o.Offset)
		}
	})

	// Consumer group: read part, commit, leave; rejoin and resume.
	gopts := []kgo.Opt{kgo.ConsumerGroup("itg"), kgo.ConsumeTopics("it"), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SessionTimeout(6 * time.Second)}
	c1 := client(t, b.kafka, gopts...)
	got := 0
	for got < n {
		fs := c1.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		got += fs.NumRecords()
	}
	if err := c1.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	groups, err := adm.DescribeGroups(ctx, "itg")
	if err != nil || groups["itg"].State != "Stable" {
		t.Fatalf("describe itg: %+v %v", groups["itg"], err)
	}
	c1.Close()
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	c2 := client(t, b.kafka, gopts...)
	for {
		fs := c2.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Value) != "after" {
				t.Fatalf("rejoined member read committed record %q", r.Value)
			}
			done = true
		})
		if done {
			break
		}
	}
	c2.Close()
	committed, err := adm.FetchOffsets(ctx, "itg")
	if err != nil {
		t.Fatal(err)
	}
	var csum int64
	committed.Each(func(o kadm.OffsetResponse) { csum += o.At })
	if csum != n {
		t.Fatalf("committed offsets sum to %d, want %d", csum, n)
	}
	// Admin endpoints on a live node: metrics carry the core's and the
	// Kafka layer's series; status names the partition groups.
	for path, want := range map[string]string{
		"/metrics": `chronik_kafka_requests_total{api="Produce",outcome="ok"}`,
		"/status":  `"name": "it/2"`,
		"/healthz": "ok",
	} {
		resp, err := http.Get("http://" + b.admin + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("GET %s: %d, body lacks %q:\n%.2000s", path, resp.StatusCode, want, body)
		}
	}
	prod.Close()
	adm.Close()
	b.stop(t)

	// Restart from the data dir: every record at the same offset, and the
	// committed offsets, are still there.
	b2 := startBroker(t, testOptions(dir))
	defer b2.stop(t)
	again := consumeAll(ctx, t, b2.kafka, "it", 3, n+1)
	for v, off := range offsets {
		if again[v] != off {
			t.Fatalf("record %s at offset %d before restart, %d after", v, off, again[v])
		}
	}
	adm2 := kadm.NewClient(client(t, b2.kafka))
	committed2, err := adm2.FetchOffsets(ctx, "itg")
	if err != nil {
		t.Fatal(err)
	}
	var csum2 int64
	committed2.Each(func(o kadm.OffsetResponse) { csum2 += o.At })
	if csum2 != n {
		t.Fatalf("after restart committed offsets sum to %d, want %d", csum2, n)
	}
	fmt.Fprintln(io.Discard)
}
