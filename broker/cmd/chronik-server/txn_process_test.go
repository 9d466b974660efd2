package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnExactlyOnceProcessKills runs franz-go's GroupTransactSession
// consume-transform-produce loop against three real raft-cluster processes
// and SIGKILLs the transaction coordinator (the __meta leader) and then a
// partition leader of the output topic, restarting each: state applied but
// not fsynced is lost and re-applied from the Raft log, and a killed
// coordinator's prepared transactions are finished by the next one. The
// output, read with read_committed, holds every input exactly once.
func TestTxnExactlyOnceProcessKills(t *testing.T) {
	if testing.Short() {
		t.Skip("SIGKILLs broker processes under a client workload")
	}
	c := startProcCluster(t, 3)
	t.Cleanup(c.close)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	seeds := strings.Join(c.seeds, ",")
	adm := kadm.NewClient(client(t, seeds))
	for _, topic := range []string{"in", "out"} {
		if _, err := adm.CreateTopic(ctx, 3, 3, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	fast := []kgo.Opt{kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }), kgo.MetadataMinAge(100 * time.Millisecond)}

	const n = 600
	var sent atomic.Int64
	feederDone := make(chan struct{})
	go func() {
		defer close(feederDone)
		prod := client(t, seeds, append(fast, kgo.DefaultProduceTopic("in"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))...)
		for i := range n {
			pctx, pcancel := context.WithTimeout(ctx, 15*time.Second)
			if err := prod.ProduceSync(pctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
				t.Logf("input %d: %v (outcome unknown)", i, err)
			}
			pcancel()
			sent.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	}()

	stop := make(chan struct{})
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		for session := 0; session < 20; session++ {
			sess, err := kgo.NewGroupTransactSession(append([]kgo.Opt{kgo.SeedBrokers(c.seeds...),
				kgo.TransactionalID("eos"), kgo.TransactionTimeout(20 * time.Second),
				kgo.ConsumerGroup("eos-g"), kgo.ConsumeTopics("in"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.RequireStableFetchOffsets(),
				kgo.DefaultProduceTopic("out"), kgo.SessionTimeout(6 * time.Second)}, fast...)...)
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
				fs.EachRecord(func(r *kgo.Record) { sess.Produce(ctx, &kgo.Record{Value: r.Value}, nil) })
				_, err = sess.End(ctx, kgo.TryCommit)
			}
			t.Logf("session %d ended: %v", session, err)
			sess.Close()
		}
	}()

	kill := func(at int64, group string) {
		for sent.Load() < at && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		node := c.leaderOf(ctx, group)
		victim := c.procs[node-1]
		victim.cmd.Process.Kill()
		<-victim.exited
		t.Logf("SIGKILLed node %d (leader of %s) after %d inputs", node, group, sent.Load())
		time.Sleep(time.Second)
		c.procs[node-1] = startProcQuiet(t, c.bin, c.args[node-1]...)
	}
	kill(n/4, "__meta")
	kill(n/2, "out/1")
	<-feederDone

	read := func(topic string, iso kgo.IsolationLevel) map[string]int {
		cl := client(t, seeds, append(fast, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso))...)
		defer cl.Close()
		seen := map[string]int{}
		last := time.Now()
		for time.Since(last) < 2*time.Second && ctx.Err() == nil {
			pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
			cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++; last = time.Now() })
			pcancel()
		}
		return seen
	}
	in := read("in", kgo.ReadUncommitted())
	var out map[string]int
	for ctx.Err() == nil {
		if out = read("out", kgo.ReadCommitted()); len(out) >= len(in) {
			break
		}
	}
	close(stop)
	<-workerDone
	out = read("out", kgo.ReadCommitted())
	t.Logf("inputs %d, outputs %d distinct", len(in), len(out))
	var bad []string
	for v := range in {
		if out[v] != 1 {
			bad = append(bad, fmt.Sprintf("%s copied %d times", v, out[v]))
		}
	}
	for v := range out {
		if in[v] == 0 {
			bad = append(bad, fmt.Sprintf("%s in the output has no input", v))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%d of %d inputs not copied exactly once: %v", len(bad), len(in), bad[:min(len(bad), 20)])
	}
}
