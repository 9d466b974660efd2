package kafka

// OffsetDelete: v0
//
// Behavior:
// * Coordinator only (NOT_COORDINATOR elsewhere, for the whole request).
//   A group with neither members nor committed offsets is
//   GROUP_ID_NOT_FOUND.
// * As in Kafka's GroupCoordinator.handleDeleteOffsets: an empty group
//   loses the named offsets; a consumer group with members keeps those of
//   topics a member subscribes to (GROUP_SUBSCRIBED_TO_TOPIC per
//   partition; a subscription that cannot be decoded counts as every
//   topic) and loses the others; a group with members of another protocol
//   type is NON_EMPTY_GROUP.
// * A partition of an unknown topic is UNKNOWN_TOPIC_OR_PARTITION. The
//   deletions are one __meta proposal (Backend.DeleteOffsets); if it fails,
//   every partition it carried gets the error.

import (
	"context"
	"slices"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(47, 0, 0, typed(handleOffsetDelete)) }

func handleOffsetDelete(ctx context.Context, s *Server, _ *clientConn, req *kmsg.OffsetDeleteRequest, resp *kmsg.OffsetDeleteResponse) error {
	code, subscribed := s.groups.offsetDeletable(req.Group, slices.Contains(s.backend.Groups(), req.Group))
	if code != 0 {
		resp.ErrorCode = code
		return nil
	}
	var tps []cluster.TopicPartition
	var pc partitionCodes
	for _, rt := range req.Topics {
		pc.topic(s.backend, rt.Topic)
		var code int16
		if subscribed(rt.Topic) {
			code = kerr.GroupSubscribedToTopic.Code
		}
		for _, rp := range rt.Partitions {
			if pc.add(rp.Partition, code) {
				tps = append(tps, cluster.TopicPartition{Topic: rt.Topic, Partition: rp.Partition})
			}
		}
	}
	pc.propose(func() error { return s.backend.DeleteOffsets(ctx, req.Group, tps) })
	resp.Topics = answerTopics(&pc,
		func(t string, ps []kmsg.OffsetDeleteResponseTopicPartition) kmsg.OffsetDeleteResponseTopic {
			return kmsg.OffsetDeleteResponseTopic{Topic: t, Partitions: ps}
		},
		func(p int32, code int16) kmsg.OffsetDeleteResponseTopicPartition {
			return kmsg.OffsetDeleteResponseTopicPartition{Partition: p, ErrorCode: code}
		})
	return nil
}

// offsetDeletable checks the group as a whole and returns which topics
// its members subscribe to (for a group with members).
func (c *groupCoordinator) offsetDeletable(name string, hasOffsets bool) (int16, func(topic string) bool) {
	none := func(string) bool { return false }
	c.mu.Lock()
	defer c.mu.Unlock()
	if code := c.checkGroupLocked(name); code != 0 {
		return code, none
	}
	g := c.groups[name]
	switch {
	case g == nil || len(g.members) == 0:
		if g == nil && !hasOffsets {
			return kerr.GroupIDNotFound.Code, none
		}
		return 0, none
	case g.protocolType != "consumer":
		return kerr.NonEmptyGroup.Code, none
	}
	topics := map[string]bool{}
	all := false
	for _, m := range g.members {
		for _, p := range m.protocols {
			if p.Name != g.protocol && g.protocol != "" {
				continue
			}
			var md kmsg.ConsumerMemberMetadata
			if err := md.ReadFrom(p.Metadata); err != nil {
				all = true
				continue
			}
			for _, t := range md.Topics {
				topics[t] = true
			}
		}
	}
	return 0, func(topic string) bool { return all || topics[topic] }
}
