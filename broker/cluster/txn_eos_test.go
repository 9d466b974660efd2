package cluster_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// clientOpts are franz-go settings for a cluster whose nodes die: short
// backoffs and metadata refreshes, so the tests spend their time on the
// broker, not in client sleeps.
func clientOpts(kc *kafkaCluster, more ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{
		kgo.SeedBrokers(kc.seeds()...),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.RequestTimeoutOverhead(3 * time.Second),
	}, more...)
}

// readTopic reads every partition of topic from the start with the given
// isolation until no record arrived for quiet (bounded by limit) and
// returns how often each value was read.
func readTopic(t *testing.T, kc *kafkaCluster, topic string, iso kgo.IsolationLevel, quiet, limit time.Duration) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(clientOpts(kc, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]int{}
	deadline := time.Now().Add(limit)
	last := time.Now()
	for time.Since(last) < quiet && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			last = time.Now()
		})
	}
	return seen
}

// franz-go's GroupTransactSession consume-transform-produce loop copies
// every record of "in" to "out" while a partition leader and then the
// transaction (and group) coordinator are killed and restarted: "out",
// read with read_committed, holds every input value exactly once. With two
// workers in the group, rebalances move partitions between transactional
// producers as well.
func TestTxnExactlyOnceAcrossLeaderAndCoordinatorKills(t *testing.T) {
	if testing.Short() {
		t.Skip("kills nodes under a client workload")
	}
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) { exactlyOnce(t, workers) })
	}
}

func exactlyOnce(t *testing.T, workers int) {
	kc := newKafkaCluster(t, 3, nil)
	kc.startAll()
	kc.waitReady(20 * time.Second)
	kc.createTopic(1, "in", 3)
	kc.createTopic(1, "out", 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const n = 600
	var sent atomic.Int64
	feederDone := make(chan struct{})
	go func() {
		defer close(feederDone)
		cl, err := kgo.NewClient(clientOpts(kc, kgo.DefaultProduceTopic("in"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))...)
		if err != nil {
			t.Error(err)
			return
		}
		defer cl.Close()
		for i := range n {
			pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
			err := cl.ProduceSync(pctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr()
			pcancel()
			if err != nil {
				t.Logf("input %d: %v (outcome unknown)", i, err)
			}
			sent.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	}()

	var stats struct {
		sync.Mutex
		commits, aborts, sessions int
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(t, ctx, kc, w, stop, func(committed bool) {
				stats.Lock()
				defer stats.Unlock()
				if committed {
					stats.commits++
				} else {
					stats.aborts++
				}
			}, func() {
				stats.Lock()
				defer stats.Unlock()
				stats.sessions++
			})
		}()
	}
	workerDone := make(chan struct{})
	go func() { wg.Wait(); close(workerDone) }()

	// The kills: a partition leader of "out" that is not the
	// coordinator, then the coordinator; each comes back 2 s later.
	kill := func(what string, at int64, pick func() *cluster.Node) {
		waitFor(t, time.Minute, "input progress", func() bool { return sent.Load() >= at })
		victim := uint64(pick().NodeID())
		t.Logf("killing node %d (%s) after %d inputs", victim, what, sent.Load())
		kc.stop(victim)
		time.Sleep(2 * time.Second)
		kc.start(victim)
	}
	kill("partition leader", n/4, func() *cluster.Node {
		coord := kc.coordinator()
		_, l := kc.partitionAwayFrom("out", 3, coord.NodeID())
		return l
	})
	kill("coordinator", n/2, kc.coordinator)
	<-feederDone
	kc.waitReady(30 * time.Second)

	in := readTopic(t, kc, "in", kgo.ReadUncommitted(), 2*time.Second, 30*time.Second)
	var out map[string]int
	waitFor(t, time.Minute, "every input copied", func() bool {
		out = readTopic(t, kc, "out", kgo.ReadCommitted(), time.Second, 10*time.Second)
		return len(out) >= len(in)
	})
	close(stop)
	<-workerDone
	out = readTopic(t, kc, "out", kgo.ReadCommitted(), 2*time.Second, 30*time.Second)
	stats.Lock()
	t.Logf("inputs %d, outputs %d distinct; %d commits, %d aborts, %d sessions", len(in), len(out), stats.commits, stats.aborts, stats.sessions)
	stats.Unlock()
	for v, c := range in {
		if c != 1 {
			t.Errorf("input %s appears %d times", v, c)
		}
		if out[v] != 1 {
			t.Errorf("input %s copied %d times", v, out[v])
		}
	}
	for v := range out {
		if in[v] == 0 {
			t.Errorf("output %s has no input", v)
		}
	}
}

// work is one consume-transform-produce worker (transactional id eos-w):
// it copies records from "in" to "out" in transactions until stop closes.
// A session whose End fails for good is replaced by a new one with the
// same transactional id, as a restarted process would be; the new
// instance fences the old one.
func work(t *testing.T, ctx context.Context, kc *kafkaCluster, w int, stop <-chan struct{}, ended func(committed bool), began func()) {
	for session := 0; session < 20; session++ {
		select {
		case <-stop:
			return
		default:
		}
		began()
		sess, err := kgo.NewGroupTransactSession(clientOpts(kc,
			kgo.TransactionalID(fmt.Sprintf("eos-%d", w)), kgo.TransactionTimeout(20*time.Second),
			kgo.ConsumerGroup("eos-g"), kgo.ConsumeTopics("in"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.RequireStableFetchOffsets(),
			kgo.DefaultProduceTopic("out"), kgo.SessionTimeout(6*time.Second))...)
		if err != nil {
			t.Error(err)
			return
		}
		for err == nil {
			select {
			case <-stop:
				sess.Close()
				return
			default:
			}
			pctx, pcancel := context.WithTimeout(ctx, time.Second)
			fs := sess.PollFetches(pctx)
			pcancel()
			if err = sess.Begin(); err != nil {
				break
			}
			fs.EachRecord(func(r *kgo.Record) {
				sess.Produce(ctx, &kgo.Record{Value: r.Value}, nil)
			})
			var committed bool
			committed, err = sess.End(ctx, kgo.TryCommit)
			ended(committed)
		}
		t.Logf("worker %d session %d ended: %v", w, session, err)
		sess.Close()
	}
}
