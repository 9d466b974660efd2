package kafka

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/recordbatch"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Message sets are the record format before KIP-98: messages of magic 0
// (Kafka 0.8-0.9) and 1 (0.10, with a timestamp). Produce v0-2 requests
// carry them, and Fetch v0-3 answers must use them: magic 0 for v0-1,
// magic 1 for v2-3 (a client of those versions cannot read RecordBatch v2).
// The log holds RecordBatch v2 only, so, like Kafka 3.x (whose message
// format is always v2 since KIP-724: LogValidator up-converts on append,
// LazyDownConversionRecords down-converts on fetch), they are converted at
// the protocol edge:
//
//   - upConvert turns a produced message set into one uncompressed v2
//     batch without producer id (no idempotence before v3);
//   - downConvert turns stored batches into uncompressed messages.
//
// Compressed messages are decompressed with franz-go's decompressor (gzip,
// snappy plain or xerial-framed, lz4) and not compressed again, which
// costs disk and network bytes on these old paths only.

// legacyDecompressor decompresses compressed wrapper messages.
var legacyDecompressor = kgo.DefaultDecompressor()

// legacyRecord is one record read from a message set.
type legacyRecord struct {
	timestamp  int64 // -1 for magic 0, which has none
	key, value []byte
}

// upConvert turns the message set of one partition of a Produce v0-2
// request into one RecordBatch v2 with the same records in order. Every
// message's CRC is checked; a truncated set, a bad CRC, an unknown magic,
// a compressed message inside a compressed message, or a codec magic 0/1
// cannot carry (zstd) is errCorruptBatch.
func upConvert(set []byte) ([]byte, error) {
	recs, err := readMessageSet(set, true)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: empty message set", errCorruptBatch)
	}
	first, maxTS := recs[0].timestamp, recs[0].timestamp
	var body []byte
	for i, r := range recs {
		maxTS = max(maxTS, r.timestamp)
		var rec []byte
		rec = append(rec, 0) // attributes
		rec = kbin.AppendVarlong(rec, r.timestamp-first)
		rec = kbin.AppendVarint(rec, int32(i))
		rec = kbin.AppendVarintBytes(rec, r.key)
		rec = kbin.AppendVarintBytes(rec, r.value)
		rec = kbin.AppendVarint(rec, 0) // no headers before magic 2
		body = kbin.AppendVarint(body, int32(len(rec)))
		body = append(body, rec...)
	}
	b := kmsg.RecordBatch{
		Length:               int32(recordbatch.HeaderLen - recordbatch.LengthPrefix + len(body)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       first,
		MaxTimestamp:         maxTS,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              body,
	}
	raw := b.AppendTo(make([]byte, 0, recordbatch.HeaderLen+len(body)))
	binary.BigEndian.PutUint32(raw[recordbatch.CRC:], recordbatch.Checksum(raw))
	return raw, nil
}

// readMessageSet parses messages of magic 0 and 1. A compressed message
// (outer only) wraps a compressed message set of uncompressed messages.
func readMessageSet(set []byte, outer bool) ([]legacyRecord, error) {
	var out []legacyRecord
	for len(set) > 0 {
		// offset, size, crc, magic, attributes, key and value lengths
		const minMessage = 8 + 4 + 4 + 1 + 1 + 4 + 4
		if len(set) < minMessage {
			return nil, fmt.Errorf("%w: %d trailing bytes, shorter than a message", errCorruptBatch, len(set))
		}
		total := 12 + int64(int32(binary.BigEndian.Uint32(set[8:])))
		if total < minMessage || total > int64(len(set)) {
			return nil, fmt.Errorf("%w: message size %d with %d bytes left", errCorruptBatch, total-12, len(set))
		}
		raw := set[:total]
		set = set[total:]
		if got, want := crc32.ChecksumIEEE(raw[16:]), binary.BigEndian.Uint32(raw[12:]); got != want {
			return nil, fmt.Errorf("%w: message crc %08x, header says %08x", errCorruptBatch, got, want)
		}
		var (
			attrs      int8
			ts         int64 = -1
			key, value []byte
		)
		switch magic := raw[16]; magic {
		case 0:
			var m kmsg.MessageV0
			if err := m.ReadFrom(raw); err != nil {
				return nil, fmt.Errorf("%w: message v0: %v", errCorruptBatch, err)
			}
			attrs, key, value = m.Attributes, m.Key, m.Value
		case 1:
			var m kmsg.MessageV1
			if err := m.ReadFrom(raw); err != nil {
				return nil, fmt.Errorf("%w: message v1: %v", errCorruptBatch, err)
			}
			attrs, ts, key, value = m.Attributes, m.Timestamp, m.Key, m.Value
		default:
			return nil, fmt.Errorf("%w: magic %d in a message set", errCorruptBatch, magic)
		}
		codec := attrs & 0x07
		switch {
		case codec == 0:
			out = append(out, legacyRecord{timestamp: ts, key: key, value: value})
			continue
		case !outer:
			return nil, fmt.Errorf("%w: compressed message inside a compressed message", errCorruptBatch)
		case codec > 3:
			return nil, fmt.Errorf("%w: compression codec %d needs RecordBatch v2", errCorruptBatch, codec)
		}
		inner, err := legacyDecompressor.Decompress(value, kgo.CompressionCodecType(codec))
		if err != nil {
			return nil, fmt.Errorf("%w: decompress codec %d: %v", errCorruptBatch, codec, err)
		}
		recs, err := readMessageSet(inner, false)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

// downConvert rewrites stored RecordBatch v2 batches of tp as uncompressed
// messages of magic (0 or 1), leaving out records before from (a batch may
// start before the fetch offset; clients of message sets skip such records
// too, but need not be sent them). Headers cannot be carried and are
// dropped, as in Kafka.
func downConvert(tp cluster.TopicPartition, batches [][]byte, from int64, magic int8) ([]byte, error) {
	recs, err := storedRecords(tp, batches, from)
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, r := range recs {
		start := len(out)
		if magic == 0 {
			m := kmsg.MessageV0{Offset: r.Offset, Key: r.Key, Value: r.Value}
			out = m.AppendTo(out)
		} else {
			m := kmsg.MessageV1{Offset: r.Offset, Magic: 1, Timestamp: r.Timestamp.UnixMilli(), Key: r.Key, Value: r.Value}
			if r.Attrs.TimestampType() == 1 {
				m.Attributes = 0x08 // LogAppendTime
			}
			out = m.AppendTo(out)
		}
		msg := out[start:]
		binary.BigEndian.PutUint32(msg[8:], uint32(len(msg)-12))
		binary.BigEndian.PutUint32(msg[12:], crc32.ChecksumIEEE(msg[16:]))
	}
	return out, nil
}

// storedRecords decodes batches this broker stored (RecordBatch v2, any
// codec) with franz-go's fetch decoder, the one its consumers run, and
// returns the records at or after from.
func storedRecords(tp cluster.TopicPartition, batches [][]byte, from int64) ([]*kgo.Record, error) {
	p := kmsg.NewFetchResponseTopicPartition()
	p.Partition = tp.Partition
	for _, b := range batches {
		p.RecordBatches = append(p.RecordBatches, b...)
	}
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
		Offset: from, Topic: tp.Topic, Partition: tp.Partition,
	}, &p, legacyDecompressor, nil)
	if fp.Err != nil {
		return nil, fmt.Errorf("decode stored batches of %s/%d: %w", tp.Topic, tp.Partition, fp.Err)
	}
	return fp.Records, nil
}
