package kafka

// TxnOffsetCommit: v0-3
//
// Behavior:
// * Group coordinator only (the __meta leader, which also coordinates
//   transactions), else NOT_COORDINATOR for every partition.
// * Membership (v3+, KIP-447): a request naming a member is checked as
//   OffsetCommit checks it (FENCED_INSTANCE_ID, UNKNOWN_MEMBER_ID,
//   ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS), so a zombie that lost its
//   partitions in a rebalance cannot commit their offsets; one without
//   member information (generation -1, and every request before v3) is
//   accepted whatever the group's state, as in Kafka.
// * The offsets are stored in the producer's ongoing transaction through
//   __meta; they become the group's committed offsets in the same entry as
//   the commit decision (EndTxn) and are dropped by an abort. Until then
//   OffsetFetch with RequireStable answers UNSTABLE_OFFSET_COMMIT for them.
// * The group must have been added with AddOffsetsToTxn and the transaction
//   be ongoing, else INVALID_TXN_STATE. Producer checks as in
//   AddPartitionsToTxn: INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED (v0-1:
//   INVALID_PRODUCER_EPOCH). A partition of an unknown topic is
//   UNKNOWN_TOPIC_OR_PARTITION; the others are committed.
//
// Version notes:
// * v1: ThrottleMillis behaviour (KIP-219)
// * v2: LeaderEpoch (KIP-320)
// * v3: Generation, MemberID, InstanceID (KIP-447), flexible versions

import (
	"context"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(28, 0, 3, handleTxnOffsetCommit) }

func handleTxnOffsetCommit(ctx context.Context, s *Server, _ *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.TxnOffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)

	generation, memberID, instanceID := int32(-1), "", (*string)(nil)
	if req.Version >= 3 {
		generation, memberID, instanceID = req.Generation, req.MemberID, req.InstanceID
	}
	code := s.groups.validateTxnCommit(req.Group, generation, memberID, instanceID)

	offsets := map[cluster.TopicPartition]cluster.OffsetCommit{}
	codes := make([][]int16, len(req.Topics))
	now := time.Now().UnixMilli()
	for i, rt := range req.Topics {
		topic, known := s.backend.Topic(rt.Topic)
		codes[i] = make([]int16, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			if code != 0 {
				codes[i][j] = code
				continue
			}
			if _, ok := findPartition(topic, rp.Partition); !known || !ok {
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
				continue
			}
			tp := cluster.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
			offsets[tp] = offsetCommit(rp.Offset, rp.LeaderEpoch, rp.Metadata, req.Version >= 2, now)
		}
	}
	if code == 0 && len(offsets) > 0 {
		p := cluster.TxnProducer{ID: req.TransactionalID, ProducerID: req.ProducerID, Epoch: req.ProducerEpoch}
		if err := s.backend.CommitTxnOffsets(ctx, p, req.Group, offsets); err != nil {
			ec := txnErrCode(err, req.Version < 2)
			for i, rt := range req.Topics {
				for j, rp := range rt.Partitions {
					if _, ok := offsets[cluster.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}]; ok {
						codes[i][j] = ec
					}
				}
			}
		}
	}
	for i, rt := range req.Topics {
		st := kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for j, rp := range rt.Partitions {
			sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, codes[i][j]
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
