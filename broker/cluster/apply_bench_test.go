package cluster

import (
	"encoding/binary"
	"testing"

	"github.com/cockroachdb/pebble"

	"github.com/chronik-chaos/chronik/broker/recordbatch"
	"github.com/chronik-chaos/chronik/broker/storage"
)

func benchBatch(pid int64, seq int32) Batch {
	raw := make([]byte, recordbatch.HeaderLen+100)
	binary.BigEndian.PutUint32(raw[recordbatch.Length:], uint32(len(raw)-recordbatch.LengthPrefix))
	raw[recordbatch.Magic] = 2
	binary.BigEndian.PutUint64(raw[recordbatch.ProducerID:], uint64(pid))
	binary.BigEndian.PutUint32(raw[recordbatch.BaseSequence:], uint32(seq))
	binary.BigEndian.PutUint32(raw[recordbatch.RecordCount:], 1)
	binary.BigEndian.PutUint32(raw[recordbatch.CRC:], recordbatch.Checksum(raw))
	return Batch{Raw: raw, ProducerID: pid, BaseSequence: seq, Records: 1}
}

// BenchmarkApply measures the partition state machine's apply path (offset
// assignment, sequence check, staging in pebble), committing a pebble batch
// per 64 entries as one Ready typically does under load.
func BenchmarkApply(b *testing.B) {
	for _, tc := range []struct {
		name string
		pid  int64
	}{{"plain", -1}, {"idempotent", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			db, err := storage.Open(b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			n := &Node{db: db}
			sm, err := loadPartitionSM(n, 2, TopicPartition{Topic: "t"})
			if err != nil {
				b.Fatal(err)
			}
			payloads := make([][]byte, 1024)
			b.ReportAllocs()
			b.ResetTimer()
			batch := db.NewBatch()
			for i := 0; i < b.N; i++ {
				p := payloads[i%len(payloads)]
				if tc.pid >= 0 || p == nil {
					p = encodeProduce(benchBatch(tc.pid, int32(i)))
					payloads[i%len(payloads)] = p
				}
				o := sm.apply(batch, uint64(i+2), 1, p).(produceOutcome)
				if o.err != nil {
					b.Fatal(o.err)
				}
				if i%64 == 63 {
					if err := sm.setApplied(batch, uint64(i+2)); err != nil {
						b.Fatal(err)
					}
					if err := batch.Commit(pebble.NoSync); err != nil {
						b.Fatal(err)
					}
					batch.Close()
					batch = db.NewBatch()
				}
			}
			batch.Close()
		})
	}
}
