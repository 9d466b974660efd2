package kafka

// ListOffsets: v1-6
//
// Behavior:
// * Timestamp -2 is the log start offset, -1 the high watermark (committed
//   end), anything else the first offset whose batch max timestamp is at or
//   after it (offset -1 when there is none). Backend.ListOffset proves
//   leadership first, like Fetch, so "latest" is linearizable.
// * Isolation level is ignored (no transactions: LSO = high watermark).
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

	"github.com/chronik-chaos/chronik/broker/cluster"
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
				off, ts, epoch, err := s.backend.ListOffset(ctx, tp, rp.Timestamp)
				if err != nil {
					sp.ErrorCode = errCode(err)
				} else {
					sp.Offset, sp.Timestamp, sp.LeaderEpoch = off, ts, epoch
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
