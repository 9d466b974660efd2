package harness

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/replicas"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/docker"
	"github.com/chronik-chaos/chronik/nemesis"
	mobyclient "github.com/moby/moby/client"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests need a Docker engine (as `make test` does) and build the
// real broker image.

func engine(t *testing.T) *docker.Engine {
	t.Helper()
	eng, err := docker.Connect(context.Background())
	if err != nil {
		t.Fatalf("these tests need a Docker engine: %v", err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

// assertRunGone fails if any container or network of runID is left.
func assertRunGone(t *testing.T, eng *docker.Engine, runID string) {
	t.Helper()
	f := make(mobyclient.Filters).Add("label", docker.LabelRun+"="+runID)
	cs, err := eng.Client().ContainerList(context.Background(), mobyclient.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := eng.Client().NetworkList(context.Background(), mobyclient.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Items)+len(ns.Items) != 0 {
		t.Errorf("run %s left %d containers and %d networks", runID, len(cs.Items), len(ns.Items))
	}
}

// TestBrokerClusterInDocker: the cluster comes up with a staggered start,
// accepts produce/consume, replaces a killed partition leader, and leaves
// nothing behind.
func TestBrokerClusterInDocker(t *testing.T) {
	eng := engine(t)
	ctx := context.Background()
	log := discard()
	tag, err := docker.BuildImage(ctx, eng, docker.BrokerImage(), log)
	if err != nil {
		t.Fatal(err)
	}
	runID := "test-harness-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	c, err := docker.NewCluster(ctx, eng, docker.ClusterConfig{RunID: runID, Image: tag, Nodes: 3, LogDir: t.TempDir()}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	defer func() {
		if t.Failed() {
			for _, n := range c.Nodes() {
				t.Logf("%s log tail:\n%s", n, strings.Join(c.LogTail(n, 20), "\n"))
			}
		}
	}()

	var buf strings.Builder
	base := time.Now()
	w := history.NewWriter(&buf, base)
	rec := NewRecorder(w, base)
	if err := nemesis.StaggeredStart(ctx, c, 2*time.Second, SubRand(1, "staggered-start"), rec); err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	if got := strings.Count(buf.String(), `"f":"start"`); got < 3 {
		t.Errorf("staggered start recorded %d start events, want 3 or more:\n%s", got, buf.String())
	}
	r := &runner{cluster: c, log: log}
	ready, err := r.waitReady(ctx, 60*time.Second, 3)
	if err != nil || len(ready) != 3 {
		t.Fatalf("ready = %v, %v", ready, err)
	}

	cl, err := kgo.NewClient(append(clientOpts(c.KafkaAddrs(), "test", 10*time.Second, log), producerOpts(10*time.Second)...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 3, nil, "it"); err != nil {
		t.Fatal(err)
	}
	produce := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := cl.ProduceSync(pctx, &kgo.Record{Topic: "it", Value: []byte(strconv.Itoa(i))}).FirstErr()
			cancel()
			if err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
		}
	}
	produce(0, 10)
	leader := func() int32 {
		md, err := adm.Metadata(ctx, "it")
		if err != nil {
			return -1
		}
		return md.Topics["it"].Partitions[0].Leader
	}
	// A node that has not yet heard from the partition's leader answers
	// Metadata with leader -1 (LEADER_NOT_AVAILABLE), as Kafka does; clients
	// retry, and so does this test, within a bound.
	waitLeader := func(not int32) int32 {
		t.Helper()
		l := leader()
		for deadline := time.Now().Add(30 * time.Second); (l < 1 || l == not) && time.Now().Before(deadline); l = leader() {
			time.Sleep(200 * time.Millisecond)
		}
		return l
	}
	old := waitLeader(-1)
	if old < 1 {
		t.Fatalf("no leader for it/0 within 30 s: %d", old)
	}
	victim := "n" + strconv.Itoa(int(old))
	if err := c.Kill(ctx, victim); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitState(ctx, victim, nemesis.Exited, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	produce(10, 20) // must succeed through a new leader
	if now := waitLeader(old); now == old || now < 1 {
		t.Errorf("leader of it/0 after killing n%d is %d", old, now)
	}

	cons, err := kgo.NewClient(append(clientOpts(c.KafkaAddrs(), "test-c", 10*time.Second, log),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"it": {0: kgo.NewOffset().AtStart()}}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var got []string
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(got) < 20 && cctx.Err() == nil {
		cons.PollFetches(cctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	for i := range 20 {
		if i >= len(got) || got[i] != strconv.Itoa(i) {
			t.Fatalf("consumed %v, want 0..19 in order", got)
		}
	}
	if ex := c.Exits(); len(ex) != 0 {
		t.Errorf("unexpected exits: %+v", ex)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	assertRunGone(t, eng, runID)
}

// TestShortRunValid is a short `chaos run` against the correct broker:
// staggered start and kills for 20 s must end valid, with the whole store
// written and no Docker object left.
func TestShortRunValid(t *testing.T) {
	eng := engine(t)
	cfg := DefaultConfig()
	cfg.TimeLimit = Duration(20 * time.Second)
	cfg.NemesisInterval = Duration(6 * time.Second)
	cfg.StartGap = Duration(3 * time.Second)
	// The long wait before a majority (65 s by default) is what make
	// chaos measures; here it would only lengthen make test.
	cfg.LongStartGap = 0
	cfg.Store = t.TempDir()
	cfg.Seed = 20261127
	var out strings.Builder
	o, err := Run(context.Background(), cfg, &out)
	t.Logf("progress:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if o.Valid != verdict.True {
		t.Errorf("run judged %v: %v (store %s)", o.Valid, o.Counts, o.RunDir)
	}
	if o.Ops < 500 {
		t.Errorf("only %d operations recorded", o.Ops)
	}
	for _, f := range []string{TestFile, HistoryFile, "results.json", "index.html", LogFile, "n1/chronik-server.log", replicas.File, MetricsFile} {
		if st, err := os.Stat(filepath.Join(o.RunDir, f)); err != nil || st.Size() == 0 {
			t.Errorf("store file %s missing or empty: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.Store, LatestLink, TestFile)); err != nil {
		t.Errorf("store/latest does not lead to the run: %v", err)
	}
	if !strings.Contains(out.String(), "nemesis kill") {
		t.Errorf("no kill happened in 20 s with a 6 s interval:\n%s", out.String())
	}
	// Every node's copy of every partition was read and agrees; the
	// coverage section counted what the run did.
	if rs, ok := o.Results.Checkers[replicas.Name].(*replicas.Result); !ok || rs.Valid != verdict.True || rs.Copies < 3 {
		t.Errorf("replicas section %+v", o.Results.Checkers[replicas.Name])
	}
	if cov, ok := o.Results.Checkers[CoverageName].(*checkers.Extra); !ok || len(cov.Fields["rows"].([]CoverageRow)) == 0 {
		t.Errorf("coverage section %+v", o.Results.Checkers[CoverageName])
	}
	assertRunGone(t, eng, o.RunID)
}

// cancelOn cancels when the progress output mentions a phase.
type cancelOn struct {
	mu     sync.Mutex
	buf    strings.Builder
	phase  string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if strings.Contains(string(p), c.phase) {
		c.cancel()
	}
	return len(p), nil
}

// TestRunInterruptedCleansUp: Ctrl-C (a cancelled context) in the middle
// of the workload ends the run as an infrastructure error and removes the
// run's containers and network; the history written so far is kept.
func TestRunInterruptedCleansUp(t *testing.T) {
	eng := engine(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := DefaultConfig()
	cfg.Nemesis = nil
	cfg.Store = t.TempDir()
	cfg.Seed = 5
	out := &cancelOn{phase: "workload", cancel: cancel}
	o, err := Run(ctx, cfg, out)
	if !errors.Is(err, ErrInfra) {
		t.Fatalf("interrupted run returned %v, want an infrastructure error\n%s", err, out.buf.String())
	}
	if o == nil || o.RunID == "" {
		t.Fatalf("no outcome for the interrupted run")
	}
	assertRunGone(t, eng, o.RunID)
	if _, err := os.Stat(filepath.Join(o.RunDir, HistoryFile)); err != nil {
		t.Errorf("history of the interrupted run missing: %v", err)
	}
}

// BenchmarkTimeToFirstOp measures the harness's start-up goal (at most
// 15 s from `chaos run` to the first client operation, staggered start
// included) and the operation rate, with short runs of the default
// configuration. Run: go test -run '^$' -bench TimeToFirstOp -benchtime 2x ./harness
func BenchmarkTimeToFirstOp(b *testing.B) {
	b.ReportAllocs()
	var first, rate float64
	for b.Loop() {
		cfg := DefaultConfig()
		cfg.Nemesis = []string{"staggered-start"}
		// Without the long wait before a majority, which adds 65 s by
		// design.
		cfg.LongStartGap = 0
		cfg.TimeLimit = Duration(10 * time.Second)
		cfg.Store = b.TempDir()
		o, err := Run(context.Background(), cfg, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		first += o.FirstOp.Seconds()
		rate += o.OpsPerSec
	}
	b.ReportMetric(first/float64(b.N), "s-to-first-op")
	b.ReportMetric(rate/float64(b.N), "ops/s")
}
