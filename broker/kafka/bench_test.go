package kafka

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkDecodeProduce measures the protocol layer's own cost for one
// produce frame carrying a 100-record batch: header and body decoding plus
// batch splitting and the CRC-32C check.
func BenchmarkDecodeProduce(b *testing.B) {
	req := produceReq("bench", -1, makeBatch(100, 7, 0))
	body := frame(req, 1)[4:]
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		p, err := decodeRequest(body)
		if err != nil {
			b.Fatal(err)
		}
		pr := p.req.(*kmsg.ProduceRequest)
		if _, err := splitBatches(pr.Topics[0].Partitions[0].Records); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProduceSyncFake is a ProduceSync round trip through the server
// to the in-memory fake backend: the protocol layer's latency floor, with
// no Raft and no fsync.
func BenchmarkProduceSyncFake(b *testing.B) {
	_, _, addr := startServer(b, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("bench"), kgo.AllowAutoTopicCreation())
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	value := make([]byte, 100)
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
}
