package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// RecordBatch v2 field offsets (KIP-98). baseOffset and
// partitionLeaderEpoch are outside the CRC, which covers attributes to the
// end, so the broker may rewrite both.
const (
	batchLengthOff    = 8
	batchMagicOff     = 16
	batchCRCOff       = 17
	batchAttrOff      = 21
	batchLastDeltaOff = 23
	batchFirstTSOff   = 27
	batchMaxTSOff     = 35
	batchPIDOff       = 43
	batchEpochOff     = 51
	batchSeqOff       = 53
	batchCountOff     = 57
	batchHeaderLen    = 61

	attrTransactional = 0x10
	attrControl       = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Batch parse errors; the Produce handler maps errCorruptBatch to
// CORRUPT_MESSAGE and errUnsupportedBatch to INVALID_RECORD.
var (
	errCorruptBatch     = errors.New("corrupt record batch")
	errUnsupportedBatch = errors.New("unsupported record batch")
)

// splitBatches parses the records bytes of one partition of a Produce
// request into RecordBatch v2 batches. Each batch's Raw aliases records.
// It checks the magic byte, the length and the CRC-32C of every batch;
// transactional and control batches are refused because this broker does not
// implement transactions.
func splitBatches(records []byte) ([]cluster.Batch, error) {
	var out []cluster.Batch
	for len(records) > 0 {
		if len(records) < batchHeaderLen {
			return nil, fmt.Errorf("%w: %d trailing bytes, shorter than a batch header", errCorruptBatch, len(records))
		}
		length := int64(int32(binary.BigEndian.Uint32(records[batchLengthOff:])))
		total := 12 + length
		if length < batchHeaderLen-12 || total > int64(len(records)) {
			return nil, fmt.Errorf("%w: batch length %d with %d bytes left", errCorruptBatch, length, len(records))
		}
		raw := records[:total]
		records = records[total:]
		if magic := raw[batchMagicOff]; magic != 2 {
			return nil, fmt.Errorf("%w: magic %d, only 2 is supported", errCorruptBatch, magic)
		}
		want := binary.BigEndian.Uint32(raw[batchCRCOff:])
		if got := crc32.Checksum(raw[batchAttrOff:], castagnoli); got != want {
			return nil, fmt.Errorf("%w: crc %08x, header says %08x", errCorruptBatch, got, want)
		}
		attrs := binary.BigEndian.Uint16(raw[batchAttrOff:])
		if attrs&(attrTransactional|attrControl) != 0 {
			return nil, fmt.Errorf("%w: transactional or control batch (transactions are not supported)", errUnsupportedBatch)
		}
		lastDelta := int32(binary.BigEndian.Uint32(raw[batchLastDeltaOff:]))
		count := int32(binary.BigEndian.Uint32(raw[batchCountOff:]))
		if lastDelta < 0 || count <= 0 || count != lastDelta+1 {
			return nil, fmt.Errorf("%w: %d records with last offset delta %d", errCorruptBatch, count, lastDelta)
		}
		out = append(out, cluster.Batch{
			Raw:            raw,
			ProducerID:     int64(binary.BigEndian.Uint64(raw[batchPIDOff:])),
			ProducerEpoch:  int16(binary.BigEndian.Uint16(raw[batchEpochOff:])),
			BaseSequence:   int32(binary.BigEndian.Uint32(raw[batchSeqOff:])),
			Records:        lastDelta + 1,
			FirstTimestamp: int64(binary.BigEndian.Uint64(raw[batchFirstTSOff:])),
			MaxTimestamp:   int64(binary.BigEndian.Uint64(raw[batchMaxTSOff:])),
		})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no batch", errCorruptBatch)
	}
	return out, nil
}
