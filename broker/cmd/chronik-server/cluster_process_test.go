package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestProcessClusterSeedPlan runs the seed's plan end to end with three
// real chronik-server processes on loopback ports: staggered start in an
// odd order with gaps (a lone node must keep retrying, never exit), topic
// creation, produce, consume bootstrapped from a follower only, SIGKILL of
// the partition leader, produce and consume again; every acknowledged
// record must be read back at its acknowledged offset.
func TestProcessClusterSeedPlan(t *testing.T) {
	c := newProcCluster(t, 3)
	t.Cleanup(c.close)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Staggered start: 3, then 1, then 2, with gaps.
	for k, i := range []int{2, 0, 1} {
		c.procs[i] = spawnProc(t, c.bin, quiet(c.args[i])...)
		if k < 2 {
			time.Sleep(2 * time.Second)
			select {
			case <-c.procs[i].exited:
				t.Fatalf("node %d exited while waiting for peers:\n%s", i+1, c.procs[i].logs())
			default:
			}
		}
	}
	for _, p := range c.procs {
		waitReady(t, p.admin, 60*time.Second)
	}

	adm := kadm.NewClient(client(t, c.seeds[0]))
	if _, err := adm.CreateTopic(ctx, 1, 3, nil, "plan"); err != nil {
		t.Fatal(err)
	}
	acked := map[string]int64{}
	produce := func(from, to int) {
		prod := client(t, c.seeds[0]+","+c.seeds[1]+","+c.seeds[2], kgo.DefaultProduceTopic("plan"))
		defer prod.Close()
		for i := from; i < to; i++ {
			r := &kgo.Record{Value: []byte(strconv.Itoa(i))}
			if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
			acked[string(r.Value)] = r.Offset
		}
	}
	produce(0, 200)

	leader := c.leaderOf(ctx, "plan/0")
	follower := leader%3 + 1
	check := func(seed string) {
		t.Helper()
		cl := client(t, seed, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"plan": {0: kgo.NewOffset().AtStart()}}))
		defer cl.Close()
		found := map[string]int64{}
		for len(found) < len(acked) {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("read %d of %d acknowledged records through %s", len(found), len(acked), seed)
			}
			fs.EachRecord(func(r *kgo.Record) { found[string(r.Value)] = r.Offset })
		}
		for v, off := range acked {
			if got, ok := found[v]; !ok || got != off {
				t.Fatalf("record %s acknowledged at %d, read at %d (present %v)", v, off, got, ok)
			}
		}
	}
	check(c.seeds[follower-1])

	victim := c.procs[leader-1]
	victim.cmd.Process.Kill()
	<-victim.exited
	produce(200, 400)
	check(c.seeds[follower-1])

	c.procs[leader-1] = spawnProc(t, c.bin, quiet(c.args[leader-1])...)
	waitReady(t, c.procs[leader-1].admin, 60*time.Second)
	check(c.seeds[leader-1])
}

// quiet returns args with the log level raised to info so the serving line
// (which spawnProc waits for) is printed.
func quiet(args []string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		if a == "--log-level" {
			out[i+1] = "info"
		}
	}
	return out
}
