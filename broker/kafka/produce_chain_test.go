package kafka

import (
	"encoding/binary"
	"testing"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/recordbatch"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestPipelinedProduceKeepsOrder pipelines many produce requests on one
// connection against a backend that reorders concurrent calls: idempotent
// batches must all succeed at offsets in sequence order (an overtaking
// batch is retried after its predecessor), plain batches must land in
// request order (they wait for their predecessor).
func TestPipelinedProduceKeepsOrder(t *testing.T) {
	tests := []struct {
		name   string
		pid    int64
		strict bool
	}{
		{"idempotent", 900, false},
		{"no producer id", -1, false},
		{"idempotent, strict order", 901, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, fb, addr := startServer(t, func(c *Config) { c.StrictProduceOrder = tc.strict })
			fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: "pipe", Partitions: 1}}, false)
			fb.mu.Lock()
			fb.jitter = true
			fb.mu.Unlock()
			rc := dialRaw(t, addr)
			const n = 40
			reqs := make([]*kmsg.ProduceRequest, n)
			for i := range n {
				seq := int32(-1)
				if tc.pid >= 0 {
					seq = int32(2 * i)
				}
				batch := makeBatch(2, tc.pid, seq)
				// Tag the batch with i in its first timestamp so the order
				// in the log can be read back.
				binary.BigEndian.PutUint64(batch[recordbatch.FirstTimestamp:], uint64(i))
				fixCRC(batch)
				reqs[i] = produceReq("pipe", -1, batch)
				rc.send(reqs[i], int32(i))
			}
			for i := range n {
				corr, body, err := rc.recv(true)
				if err != nil || corr != int32(i) {
					t.Fatalf("response %d: corr %d err %v", i, corr, err)
				}
				resp := reqs[i].ResponseKind().(*kmsg.ProduceResponse)
				if err := resp.ReadFrom(body); err != nil {
					t.Fatal(err)
				}
				p := resp.Topics[0].Partitions[0]
				if p.ErrorCode != 0 || p.BaseOffset != int64(2*i) {
					t.Fatalf("request %d: code %d offset %d, want 0 at %d", i, p.ErrorCode, p.BaseOffset, 2*i)
				}
			}
			res, err := fb.Fetch(t.Context(), tpOf("pipe", 0), 0, 1<<30)
			if err != nil || len(res.Batches) != n {
				t.Fatalf("%d batches stored (err %v), want %d", len(res.Batches), err, n)
			}
			for i, b := range res.Batches {
				if got := binary.BigEndian.Uint64(b[recordbatch.FirstTimestamp:]); got != uint64(i) {
					t.Fatalf("batch %d of the log is request %d's", i, got)
				}
			}
		})
	}
}
