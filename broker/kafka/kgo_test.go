package kafka

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests drive the server with franz-go's own client over loopback,
// against the fake backend: they check the protocol layer as a real client
// sees it. The same flows against the real cluster.Node live in
// broker/cmd/chronik-server's integration tests.

func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RetryTimeout(10 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func TestKgoProduceConsume(t *testing.T) {
	_, _, addr := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(newClient(t, addr))
	if _, err := adm.CreateTopic(ctx, 3, -1, nil, "e2e"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 3, -1, nil, "e2e"); err == nil {
		t.Fatal("creating an existing topic succeeded")
	}

	const n = 10000
	prod := newClient(t, addr, kgo.DefaultProduceTopic("e2e"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	for i := range n {
		wg.Add(1)
		prod.Produce(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}

	ends, err := adm.ListEndOffsets(ctx, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != n {
		t.Fatalf("end offsets sum to %d, want %d", total, n)
	}

	cons := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		"e2e": {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart()},
	}))
	seen := consumeN(ctx, t, cons, n)
	for i := range n {
		if !seen[strconv.Itoa(i)] {
			t.Fatalf("record %d never consumed", i)
		}
	}
}

// consumeN polls until n distinct values were seen or ctx ends.
func consumeN(ctx context.Context, t testing.TB, cl *kgo.Client, n int) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	for len(seen) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records: %v", len(seen), n, ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
	return seen
}

func TestKgoConsumerGroup(t *testing.T) {
	_, _, addr := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(newClient(t, addr))
	if _, err := adm.CreateTopic(ctx, 2, -1, nil, "grp"); err != nil {
		t.Fatal(err)
	}
	prod := newClient(t, addr, kgo.DefaultProduceTopic("grp"))
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0, 100)

	groupOpts := []kgo.Opt{kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("grp"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond)}
	c1 := newClient(t, addr, groupOpts...)
	seen := consumeN(ctx, t, c1, 100)
	if len(seen) != 100 {
		t.Fatalf("first member saw %d records", len(seen))
	}
	if err := c1.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}

	described, err := adm.DescribeGroups(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if g := described["g1"]; g.State != "Stable" || len(g.Members) != 1 {
		t.Fatalf("group g1: state %q with %d members, want Stable with 1", g.State, len(g.Members))
	}
	c1.Close()

	produce(100, 150)
	c2 := newClient(t, addr, groupOpts...)
	seen2 := consumeN(ctx, t, c2, 50)
	for v := range seen2 {
		i, _ := strconv.Atoi(v)
		if i < 100 {
			t.Fatalf("rejoined member re-read committed record %d", i)
		}
	}

	offs, err := adm.FetchOffsets(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	offs.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed != 100 {
		t.Fatalf("committed offsets sum to %d, want 100", committed)
	}
	listed, err := adm.ListGroups(ctx)
	if err != nil || len(listed.Groups()) == 0 {
		t.Fatalf("list groups: %v %v", listed, err)
	}
}

func TestKgoGroupRebalanceTwoMembers(t *testing.T) {
	_, _, addr := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(newClient(t, addr))
	if _, err := adm.CreateTopic(ctx, 4, -1, nil, "two"); err != nil {
		t.Fatal(err)
	}
	opts := []kgo.Opt{kgo.ConsumerGroup("g2"), kgo.ConsumeTopics("two"),
		kgo.SessionTimeout(6 * time.Second), kgo.HeartbeatInterval(300 * time.Millisecond)}
	a := newClient(t, addr, opts...)
	b := newClient(t, addr, opts...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Polling drives the group logic of both members.
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		a.PollFetches(pctx)
		b.PollFetches(pctx)
		pcancel()
		g, err := adm.DescribeGroups(ctx, "g2")
		if err == nil {
			d := g["g2"]
			assigned := 0
			for _, m := range d.Members {
				if ca, ok := m.Assigned.AsConsumer(); ok {
					for _, tp := range ca.Topics {
						assigned += len(tp.Partitions)
					}
				}
			}
			if d.State == "Stable" && len(d.Members) == 2 && assigned == 4 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("group never settled with two members: state %s members %d assigned %d", d.State, len(d.Members), assigned)
			}
		}
	}
}

func TestKgoMetadataAutoCreate(t *testing.T) {
	tests := []struct {
		name       string
		autoCreate bool
		wantErr    bool
	}{
		{"enabled", true, false},
		{"disabled", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, fb, addr := startServer(t, func(c *Config) { c.AutoCreateTopics = tc.autoCreate; c.DefaultPartitions = 3 })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			cl := newClient(t, addr, kgo.AllowAutoTopicCreation(), kgo.RetryTimeout(time.Second),
				kgo.RecordDeliveryTimeout(2*time.Second))
			err := cl.ProduceSync(ctx, &kgo.Record{Topic: "auto", Value: []byte("x")}).FirstErr()
			if (err != nil) != tc.wantErr {
				t.Fatalf("produce to a new topic: err %v, want error %v", err, tc.wantErr)
			}
			topic, ok := fb.Topic("auto")
			if ok != tc.autoCreate || (ok && len(topic.Partitions) != 3) {
				t.Fatalf("topic exists %v with %d partitions", ok, len(topic.Partitions))
			}
		})
	}
}

func TestNotCoordinator(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	fb.mu.Lock()
	fb.coord = 2
	fb.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	adm := kadm.NewClient(newClient(t, addr, kgo.RetryTimeout(500*time.Millisecond)))
	_, err := adm.FetchOffsets(ctx, "nobody")
	if err == nil {
		t.Fatal("offset fetch through a non-coordinator succeeded")
	}
	fmt.Fprintln(testWriter{t}, "expected error:", err)
}
