package main

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPipelinedProduceOrderRealNode: an idempotent producer with small
// batches keeps several produce requests in flight on one connection; the
// Kafka layer runs them concurrently against the real Raft core. Every
// record must land exactly once, at the offset equal to its position in
// the produce order (one partition, one producer).
func TestPipelinedProduceOrderRealNode(t *testing.T) {
	b := startBroker(t, testOptions(t.TempDir()))
	defer b.stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prod := client(t, b.kafka, kgo.DefaultProduceTopic("order"), kgo.AllowAutoTopicCreation(),
		kgo.ProducerBatchMaxBytes(512), kgo.ProducerLinger(0))
	const n = 20000
	var wg sync.WaitGroup
	var mu sync.Mutex
	offsets := make([]int64, n)
	var firstErr error
	for i := range n {
		wg.Add(1)
		prod.Produce(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}, func(r *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			offsets[i] = r.Offset
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	for i, off := range offsets {
		if off != int64(i) {
			t.Fatalf("record %d acknowledged at offset %d", i, off)
		}
	}
	resp, err := http.Get("http://" + b.admin + "/metrics")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "chronik_kafka_produce_overtaken_total") {
				t.Log(line) // how often the reorder repair ran
			}
		}
	}
	got := consumeAll(ctx, t, b.kafka, "order", 1, n)
	for i := range n {
		if off, ok := got[strconv.Itoa(i)]; !ok || off != int64(i) {
			t.Fatalf("record %d read at %d (present %v)", i, off, ok)
		}
	}
}
