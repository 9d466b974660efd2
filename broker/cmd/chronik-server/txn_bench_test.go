package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkCluster3TxnCommit: committed transactions per second, each
// transaction 4 records of 100 bytes to each of 3 partitions
// (AddPartitionsToTxn, Produce, EndTxn and its markers), on the three
// raft-cluster processes and on a three-broker kfake in the same run;
// chronik/kfake as "ratio". With one producer the figure is the latency of
// a transaction's sequential round trips (each a Raft commit here, memory
// in kfake); with eight producers (each its own transactional id, one
// topic) Raft commits and fsyncs are shared between transactions.
func BenchmarkCluster3TxnCommit(b *testing.B) {
	for _, producers := range []int{1, 8} {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) {
			c := sharedCluster3(b)
			kf := newKfake3(b)
			b.ReportAllocs()
			b.ResetTimer()
			cr := txnRate(b, strings.Join(c.seeds, ","), producers, b.N)
			kr := txnRate(b, strings.Join(kf, ","), producers, b.N)
			b.ReportMetric(cr, "chronik-txn/s")
			b.ReportMetric(kr, "kfake-txn/s")
			b.ReportMetric(cr/kr, "ratio")
		})
	}
}

// txnRate commits n transactions spread over the producers (after one
// each to warm up) and returns committed transactions per second.
func txnRate(b *testing.B, addr string, producers, n int) float64 {
	id := benchTopics.Add(1)
	topic := fmt.Sprintf("bench-txn-%d", id)
	adm := kadm.NewClient(client(b, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 3, -1, nil, topic); err != nil {
		b.Fatal(err)
	}
	records := func() []*kgo.Record {
		out := make([]*kgo.Record, 0, 12)
		for p := range int32(3) {
			for range 4 {
				out = append(out, &kgo.Record{Value: value100, Partition: p})
			}
		}
		return out
	}
	one := func(cl *kgo.Client, rs []*kgo.Record) error {
		if err := cl.BeginTransaction(); err != nil {
			return err
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			return err
		}
		return cl.EndTransaction(ctx, kgo.TryCommit)
	}
	clients := make([]*kgo.Client, producers)
	for i := range clients {
		clients[i] = client(b, addr, kgo.TransactionalID(fmt.Sprintf("bench-txn-%d-%d", id, i)), kgo.DefaultProduceTopic(topic),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
		defer clients[i].Close()
		if err := one(clients[i], records()); err != nil {
			b.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	start := time.Now()
	for i, cl := range clients {
		share := n / producers
		if i < n%producers {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs := records()
			for range share {
				if err := one(cl, rs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return float64(n) / el.Seconds()
}
