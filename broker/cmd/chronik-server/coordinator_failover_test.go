package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupCoordinatorFailover: a consumer group keeps consuming and
// committing after the node coordinating it (the __meta leader) is
// SIGKILLed; membership moves to the new __meta leader and the committed
// offsets, replicated through __meta, are all there.
func TestGroupCoordinatorFailover(t *testing.T) {
	c := startProcCluster(t, 3)
	t.Cleanup(c.close)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	seeds := c.seeds[0] + "," + c.seeds[1] + "," + c.seeds[2]
	adm := kadm.NewClient(client(t, seeds))
	if _, err := adm.CreateTopic(ctx, 2, 3, nil, "cg"); err != nil {
		t.Fatal(err)
	}
	prod := client(t, seeds, kgo.DefaultProduceTopic("cg"))
	produce := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
		}
	}
	cons := client(t, seeds, kgo.ConsumerGroup("cgf"), kgo.ConsumeTopics("cg"), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SessionTimeout(6*time.Second),
		kgo.HeartbeatInterval(300*time.Millisecond))
	seen := map[string]bool{}
	consumeTo := func(n int) {
		t.Helper()
		for len(seen) < n {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("consumed %d of %d", len(seen), n)
			}
			fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
		}
		for {
			err := cons.CommitUncommittedOffsets(ctx)
			if err == nil {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("commit: %v", err)
			}
			t.Logf("commit failed, retrying: %v", err)
			time.Sleep(200 * time.Millisecond)
		}
	}
	produce(0, 100)
	consumeTo(100)

	coord := c.leaderOf(ctx, "__meta")
	victim := c.procs[coord-1]
	victim.cmd.Process.Kill()
	<-victim.exited
	c.procs[coord-1] = nil
	t.Logf("killed coordinator node %d", coord)

	produce(100, 200)
	// Membership lives in the coordinator's memory, so the new coordinator
	// does not know the member: its commits of the old generation fail
	// (ILLEGAL_GENERATION) until it has rejoined, and what it had not
	// committed is delivered again. Keep polling and committing until the
	// committed offsets cover all 200 records.
	var sum int64
	for sum != 200 {
		if ctx.Err() != nil {
			t.Fatalf("committed offsets sum to %d after coordinator failover, want 200", sum)
		}
		pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		cons.PollFetches(pctx)
		pcancel()
		if err := cons.CommitUncommittedOffsets(ctx); err != nil {
			t.Logf("commit: %v", err)
			continue
		}
		offs, err := adm.FetchOffsets(ctx, "cgf")
		if err != nil {
			continue // the admin client may try the dead node first
		}
		sum = 0
		offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
	}
	cons.Close()
}
