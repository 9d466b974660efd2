package kafka

// ListOffsets: v1-6
//
// Behavior:
// * Timestamp -2 is the log start offset, -1 the high watermark (committed
//   end), anything else, as in Kafka, the offset and timestamp of the first
//   record at or after it: Backend.ListOffset finds the first batch whose
//   max timestamp is at or after it (offset -1 when there is none) and we
//   read that batch to find the record (the Java consumer's offsetsForTimes
//   returns that record's offset). A compressed batch, or one stamped with
//   LogAppendTime, answers the batch's base offset and max timestamp.
//   Backend.ListOffset proves leadership first, like Fetch, so "latest" is
//   linearizable.
// * Isolation level (v2+): read_committed's latest offset is the last
//   stable offset, and a timestamp lookup finds nothing at or above it
//   (offset -1), as in Kafka.
// * CurrentLeaderEpoch (v4+) is checked as in Fetch (FENCED_LEADER_EPOCH /
//   UNKNOWN_LEADER_EPOCH).
// * Max timestamp (-3, v7) and tiered-storage specs (-4/-5, v8-9) are not
//   served: those versions are not advertised.
//
// Version notes:
// * v1: single offset per partition (no MaxNumOffsets)
// * v2: isolation level
// * v4: CurrentLeaderEpoch, LeaderEpoch (KIP-320)
// * v6: flexible versions

import (
	"context"
	"encoding/binary"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/recordbatch"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(2, 1, 6, handleListOffsets) }

func handleListOffsets(ctx context.Context, s *Server, _ *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		topic, known := s.backend.Topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = -1, -1, -1
			pi, ok := findPartition(topic, rp.Partition)
			switch {
			case !known || !ok:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.CurrentLeaderEpoch >= 0 && rp.CurrentLeaderEpoch < pi.LeaderEpoch:
				sp.ErrorCode = kerr.FencedLeaderEpoch.Code
			case rp.CurrentLeaderEpoch > pi.LeaderEpoch:
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
			case rp.Timestamp < -2:
				sp.ErrorCode = kerr.UnsupportedVersion.Code
			default:
				tp := cluster.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
				off, ts, epoch, err := s.backend.ListOffset(ctx, tp, rp.Timestamp, req.Version >= 2 && req.IsolationLevel == 1)
				if err != nil {
					sp.ErrorCode = errCode(err)
				} else {
					if rp.Timestamp >= 0 && off >= 0 {
						if o, t, ok := recordAtTime(ctx, s.backend, tp, off, rp.Timestamp); ok {
							off, ts = o, t
						}
					}
					sp.Offset, sp.Timestamp, sp.LeaderEpoch = off, ts, epoch
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// recordAtTime reads the batch at base (the one Backend.ListOffset chose
// for target) and returns the offset and timestamp of its first record
// stamped at or after target. ok is false when the batch cannot be read
// record by record (compressed, LogAppendTime, unreadable): the caller
// keeps the batch's answer.
func recordAtTime(ctx context.Context, b Backend, tp cluster.TopicPartition, base, target int64) (off, ts int64, ok bool) {
	res, err := b.Fetch(ctx, tp, base, 1)
	if err != nil || len(res.Batches) == 0 {
		return 0, 0, false
	}
	raw := res.Batches[0]
	if len(raw) < recordbatch.HeaderLen || int64(binary.BigEndian.Uint64(raw)) != base {
		return 0, 0, false
	}
	if attrs := binary.BigEndian.Uint16(raw[recordbatch.Attributes:]); attrs&(recordbatch.AttrCompressionMask|recordbatch.AttrLogAppendTime) != 0 {
		return 0, 0, false
	}
	first := int64(binary.BigEndian.Uint64(raw[recordbatch.FirstTimestamp:]))
	count := int32(binary.BigEndian.Uint32(raw[recordbatch.RecordCount:]))
	rd := kbin.Reader{Src: raw[recordbatch.HeaderLen:]}
	for range count {
		n := rd.Varint()
		if !rd.Ok() || n < 0 || int(n) > len(rd.Src) {
			return 0, 0, false
		}
		rec := kbin.Reader{Src: rd.Src[:n]}
		rd.Src = rd.Src[n:]
		rec.Int8() // attributes
		tsDelta, offDelta := rec.Varlong(), rec.Varint()
		if !rec.Ok() {
			return 0, 0, false
		}
		if first+tsDelta >= target {
			return base + int64(offDelta), first + tsDelta, true
		}
	}
	return 0, 0, false
}
