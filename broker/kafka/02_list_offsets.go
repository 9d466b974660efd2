package kafka

// ListOffsets: v0-9
//
// Behavior:
// * Timestamp -2 is the log start offset, -1 the high watermark (committed
//   end), anything else, as in Kafka, the offset and timestamp of the first
//   record at or after it: Backend.ListOffset finds the first batch whose
//   max timestamp is at or after it (offset -1 when there is none) and we
//   read that batch to find the record (the Java consumer's offsetsForTimes
//   returns that record's offset). In a batch stamped with LogAppendTime
//   every record has the batch's time, so that is its first record.
//   Backend.ListOffset proves leadership first, like Fetch, so "latest" is
//   linearizable.
// * -3 (v7+, KIP-734) is the first record with the largest timestamp, found
//   by reading the partition from its log start to its high watermark (no
//   time index is kept); -1 and -1 for an empty partition.
// * -4 (v8+, earliest local) is the log start, and -5 (v9+, latest tiered)
//   offset -1 with leader epoch -1, as in Kafka without tiered storage.
//   A negative timestamp the request's version does not define is
//   UNSUPPORTED_VERSION.
// * v0 answers OldStyleOffsets, at most MaxNumOffsets in descending order
//   as in Kafka's legacy lookup with the log as one segment: -1 gives the
//   high watermark and the log start, -2 the log start; any other time the
//   offset v1+ would answer (Kafka answered segment base offsets there,
//   which this log does not have).
// * Isolation level (v2+): read_committed's latest offset is the last
//   stable offset, and a timestamp lookup finds nothing at or above it
//   (offset -1), as in Kafka.
// * CurrentLeaderEpoch (v4+) is checked as in Fetch (FENCED_LEADER_EPOCH /
//   UNKNOWN_LEADER_EPOCH).
//
// Version notes:
// * v1: single offset per partition (no MaxNumOffsets)
// * v2: isolation level
// * v4: CurrentLeaderEpoch, LeaderEpoch (KIP-320)
// * v6: flexible versions
// * v7: max timestamp (KIP-734)
// * v8: earliest local offset (KIP-405)
// * v9: latest tiered offset (KIP-1005)

import (
	"context"
	"encoding/binary"
	"slices"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/recordbatch"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(2, 0, 9, typed(handleListOffsets)) }

// The timestamps with a meaning of their own.
const (
	listLatest        = -1
	listEarliest      = -2
	listMaxTimestamp  = -3
	listEarliestLocal = -4
	listLatestTiered  = -5
)

// specVersion is the first version that defines each special timestamp
// below -2.
var specVersion = map[int64]int16{listMaxTimestamp: 7, listEarliestLocal: 8, listLatestTiered: 9}

func handleListOffsets(ctx context.Context, s *Server, _ *clientConn, req *kmsg.ListOffsetsRequest, resp *kmsg.ListOffsetsResponse) error {
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		topic, known := s.backend.Topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = -1, -1, -1
			_, sp.ErrorCode = readablePartition(topic, known, rp.Partition, rp.CurrentLeaderEpoch)
			if sp.ErrorCode == 0 {
				tp := cluster.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
				committed := req.Version >= 2 && req.IsolationLevel == 1
				if req.Version == 0 {
					sp.OldStyleOffsets, sp.ErrorCode = oldStyleOffsets(ctx, s.backend, tp, rp.Timestamp, rp.MaxNumOffsets)
				} else {
					sp.Offset, sp.Timestamp, sp.LeaderEpoch, sp.ErrorCode = listOffset(ctx, s.backend, tp, rp.Timestamp, req.Version, committed)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return nil
}

// listOffset answers one partition of a v1+ request (read_committed:
// committed).
func listOffset(ctx context.Context, b Backend, tp cluster.TopicPartition, ts int64, version int16, committed bool) (off, outTS int64, epoch int32, code int16) {
	spec := ts
	if ts < listEarliest {
		if v, ok := specVersion[ts]; !ok || version < v {
			return -1, -1, -1, kerr.UnsupportedVersion.Code
		}
		// -4 is the log start; -3 and -5 need the leadership proof
		// and, -3, the log start too.
		spec = listEarliest
	}
	off, outTS, epoch, err := b.ListOffset(ctx, tp, spec, committed)
	if err != nil {
		return -1, -1, -1, errCode(err)
	}
	switch {
	case ts == listLatestTiered:
		return -1, -1, -1, 0
	case ts == listMaxTimestamp:
		o, t, err := maxTimestampRecord(ctx, b, tp, off)
		if err != nil {
			return -1, -1, -1, errCode(err)
		}
		return o, t, epoch, 0
	case ts >= 0 && off >= 0:
		if r, ok := firstRecordFrom(ctx, b, tp, off, func(rts int64) bool { return rts >= ts }); ok {
			off, outTS = r.offset, r.timestamp
		}
	}
	return off, outTS, epoch, 0
}

// oldStyleOffsets answers one partition of a v0 request.
func oldStyleOffsets(ctx context.Context, b Backend, tp cluster.TopicPartition, ts int64, maxN int32) ([]int64, int16) {
	if ts < listEarliest {
		return nil, kerr.UnsupportedVersion.Code
	}
	start, _, _, err := b.ListOffset(ctx, tp, listEarliest, false)
	if err != nil {
		return nil, errCode(err)
	}
	var offs []int64
	switch ts {
	case listEarliest:
		offs = []int64{start}
	case listLatest:
		hw, _, _, err := b.ListOffset(ctx, tp, listLatest, false)
		if err != nil {
			return nil, errCode(err)
		}
		offs = []int64{hw}
		if start != hw {
			offs = append(offs, start)
		}
	default:
		if off, _, _, code := listOffset(ctx, b, tp, ts, 1, false); code != 0 {
			return nil, code
		} else if off >= 0 {
			offs = []int64{off}
		}
	}
	return offs[:min(len(offs), int(max(maxN, 0)))], 0
}

// maxTimestampRecord finds the first record with the largest timestamp
// between the log start and the high watermark. Batch headers carry each
// batch's max timestamp, so only the winning batch is decoded.
func maxTimestampRecord(ctx context.Context, b Backend, tp cluster.TopicPartition, start int64) (off, ts int64, err error) {
	best, bestTS := int64(-1), int64(-1)
	for next := start; ; {
		res, err := b.Fetch(ctx, tp, next, 1<<20)
		if err != nil {
			return -1, -1, err
		}
		if len(res.Batches) == 0 {
			break
		}
		for _, raw := range res.Batches {
			base := int64(binary.BigEndian.Uint64(raw))
			if mts := int64(binary.BigEndian.Uint64(raw[recordbatch.MaxTimestamp:])); best < 0 || mts > bestTS {
				best, bestTS = base, mts
			}
			next = base + int64(int32(binary.BigEndian.Uint32(raw[recordbatch.LastOffsetDelta:]))) + 1
		}
		if next >= res.HighWatermark {
			break
		}
	}
	if best < 0 {
		return -1, -1, nil
	}
	if r, ok := firstRecordFrom(ctx, b, tp, best, func(rts int64) bool { return rts == bestTS }); ok {
		return r.offset, r.timestamp, nil
	}
	return best, bestTS, nil
}

// foundRecord is a record located by firstRecordFrom.
type foundRecord struct{ offset, timestamp int64 }

// firstRecordFrom decodes the batch holding offset base and returns its
// first record whose timestamp matches. ok is false when the batch cannot
// be read or no record matches: the caller keeps the batch-level answer.
func firstRecordFrom(ctx context.Context, b Backend, tp cluster.TopicPartition, base int64, match func(ts int64) bool) (foundRecord, bool) {
	res, err := b.Fetch(ctx, tp, base, 1)
	if err != nil || len(res.Batches) == 0 {
		return foundRecord{}, false
	}
	recs, err := storedRecords(tp, res.Batches[:1], base)
	if err != nil {
		return foundRecord{}, false
	}
	i := slices.IndexFunc(recs, func(r *kgo.Record) bool { return match(r.Timestamp.UnixMilli()) })
	if i < 0 {
		return foundRecord{}, false
	}
	return foundRecord{recs[i].Offset, recs[i].Timestamp.UnixMilli()}, true
}
