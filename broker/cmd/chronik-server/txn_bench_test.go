package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkCluster3TxnCommit: committed transactions per second of one
// franz-go transactional producer, each transaction 4 records of 100 bytes
// to each of 3 partitions (AddPartitionsToTxn, Produce, EndTxn, the
// markers), on the three raft-cluster processes and on a three-broker
// kfake in the same run; chronik/kfake as "ratio".
func BenchmarkCluster3TxnCommit(b *testing.B) {
	c := sharedCluster3(b)
	kf := newKfake3(b)
	b.ReportAllocs()
	b.ResetTimer()
	cr := txnRate(b, strings.Join(c.seeds, ","), b.N)
	kr := txnRate(b, strings.Join(kf, ","), b.N)
	b.ReportMetric(cr, "chronik-txn/s")
	b.ReportMetric(kr, "kfake-txn/s")
	b.ReportMetric(cr/kr, "ratio")
}

// txnRate commits n transactions (after one to warm up) and returns
// transactions per second.
func txnRate(b *testing.B, addr string, n int) float64 {
	id := benchTopics.Add(1)
	topic := fmt.Sprintf("bench-txn-%d", id)
	adm := kadm.NewClient(client(b, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 3, -1, nil, topic); err != nil {
		b.Fatal(err)
	}
	cl := client(b, addr, kgo.TransactionalID(fmt.Sprintf("bench-txn-%d", id)), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
	defer cl.Close()
	records := make([]*kgo.Record, 0, 12)
	for p := range int32(3) {
		for range 4 {
			records = append(records, &kgo.Record{Value: value100, Partition: p})
		}
	}
	one := func() {
		if err := cl.BeginTransaction(); err != nil {
			b.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			b.Fatal(err)
		}
	}
	one()
	start := time.Now()
	for range n {
		one()
	}
	return float64(n) / time.Since(start).Seconds()
}
