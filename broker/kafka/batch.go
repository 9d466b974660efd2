package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/recordbatch"
)

// Batch parse errors; the Produce handler maps errCorruptBatch to
// CORRUPT_MESSAGE and errUnsupportedBatch to INVALID_RECORD.
var (
	errCorruptBatch     = errors.New("corrupt record batch")
	errUnsupportedBatch = errors.New("unsupported record batch")
)

// splitBatches parses the records bytes of one partition of a Produce
// request into RecordBatch v2 batches. Each batch's Raw aliases records.
// It checks the magic byte, the length and the CRC-32C of every batch.
// Control batches are refused: only the transaction coordinator writes
// them (as Kafka refuses them from clients), and so is a transactional
// batch without a producer id.
func splitBatches(records []byte) ([]cluster.Batch, error) {
	var out []cluster.Batch
	for len(records) > 0 {
		if len(records) < recordbatch.HeaderLen {
			return nil, fmt.Errorf("%w: %d trailing bytes, shorter than a batch header", errCorruptBatch, len(records))
		}
		length := int64(int32(binary.BigEndian.Uint32(records[recordbatch.Length:])))
		total := recordbatch.LengthPrefix + length
		if length < recordbatch.HeaderLen-recordbatch.LengthPrefix || total > int64(len(records)) {
			return nil, fmt.Errorf("%w: batch length %d with %d bytes left", errCorruptBatch, length, len(records))
		}
		raw := records[:total]
		records = records[total:]
		if magic := raw[recordbatch.Magic]; magic != 2 {
			return nil, fmt.Errorf("%w: magic %d, only 2 is supported", errCorruptBatch, magic)
		}
		want := binary.BigEndian.Uint32(raw[recordbatch.CRC:])
		if got := recordbatch.Checksum(raw); got != want {
			return nil, fmt.Errorf("%w: crc %08x, header says %08x", errCorruptBatch, got, want)
		}
		attrs := binary.BigEndian.Uint16(raw[recordbatch.Attributes:])
		pid := int64(binary.BigEndian.Uint64(raw[recordbatch.ProducerID:]))
		txn := attrs&recordbatch.AttrTransactional != 0
		switch {
		case attrs&recordbatch.AttrControl != 0:
			return nil, fmt.Errorf("%w: a control batch from a client", errUnsupportedBatch)
		case txn && pid < 0:
			return nil, fmt.Errorf("%w: a transactional batch without a producer id", errUnsupportedBatch)
		}
		lastDelta := int32(binary.BigEndian.Uint32(raw[recordbatch.LastOffsetDelta:]))
		count := int32(binary.BigEndian.Uint32(raw[recordbatch.RecordCount:]))
		if lastDelta < 0 || count <= 0 || count != lastDelta+1 {
			return nil, fmt.Errorf("%w: %d records with last offset delta %d", errCorruptBatch, count, lastDelta)
		}
		out = append(out, cluster.Batch{
			Raw:            raw,
			ProducerID:     pid,
			ProducerEpoch:  int16(binary.BigEndian.Uint16(raw[recordbatch.ProducerEpoch:])),
			BaseSequence:   int32(binary.BigEndian.Uint32(raw[recordbatch.BaseSequence:])),
			Records:        lastDelta + 1,
			FirstTimestamp: int64(binary.BigEndian.Uint64(raw[recordbatch.FirstTimestamp:])),
			MaxTimestamp:   int64(binary.BigEndian.Uint64(raw[recordbatch.MaxTimestamp:])),
			Transactional:  txn,
		})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no batch", errCorruptBatch)
	}
	return out, nil
}
