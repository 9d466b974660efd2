package kafka

// OffsetCommit: v0-9
//
// Behavior:
// * Coordinator only (NOT_COORDINATOR elsewhere). Offsets are committed
//   through __meta (Backend.CommitOffsets), so they survive restarts and
//   coordinator failover; the answer comes after the commit applied.
// * Simple commits (generation -1 and empty member id, as kadm and
//   standalone consumers send) are accepted while the group has no members.
// * Group members are checked as in Kafka: a replaced static member (v7+
//   InstanceID, see JoinGroup) is FENCED_INSTANCE_ID, an unknown member is
//   UNKNOWN_MEMBER_ID, another generation ILLEGAL_GENERATION, and during
//   CompletingRebalance REBALANCE_IN_PROGRESS. During PreparingRebalance a
//   member of the current generation may still commit (so it can commit
//   before rejoining, as Kafka allows).
// * A partition of an unknown topic is UNKNOWN_TOPIC_OR_PARTITION, checked
//   before the group as Kafka's KafkaApis does; the other partitions are
//   committed.
// * RetentionTimeMillis (v2-4) is ignored: offsets are kept until the group
//   is deleted. The v1 per-partition timestamp is ignored; CommitTime is
//   the coordinator's clock.
//
// Version notes:
// * v1: Generation, MemberID, per-partition Timestamp
// * v2: RetentionTimeMillis
// * v3: ThrottleMillis
// * v6: LeaderEpoch (KIP-320)
// * v7: InstanceID (KIP-345)
// * v8: flexible versions
// * v9: no change for classic groups (the first version KIP-848 consumer
//   groups may use; those are not served, see ListGroups)

import (
	"context"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(8, 0, 9, typed(handleOffsetCommit)) }

func handleOffsetCommit(ctx context.Context, s *Server, _ *clientConn, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse) error {
	generation, memberID := req.Generation, req.MemberID
	if req.Version == 0 {
		generation, memberID = -1, ""
	}
	var instanceID *string
	if req.Version >= 7 {
		instanceID = req.InstanceID
	}
	code := s.groups.validateCommit(req.Group, generation, memberID, instanceID)

	offsets := map[cluster.TopicPartition]cluster.OffsetCommit{}
	var pc partitionCodes
	now := time.Now().UnixMilli()
	for _, rt := range req.Topics {
		pc.topic(s.backend, rt.Topic)
		for _, rp := range rt.Partitions {
			if !pc.add(rp.Partition, code) {
				continue
			}
			tp := cluster.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
			offsets[tp] = offsetCommit(rp.Offset, rp.LeaderEpoch, rp.Metadata, req.Version >= 6, now)
		}
	}
	pc.propose(func() error { return s.backend.CommitOffsets(ctx, req.Group, offsets) })
	resp.Topics = answerTopics(&pc,
		func(t string, ps []kmsg.OffsetCommitResponseTopicPartition) kmsg.OffsetCommitResponseTopic {
			return kmsg.OffsetCommitResponseTopic{Topic: t, Partitions: ps}
		},
		func(p int32, code int16) kmsg.OffsetCommitResponseTopicPartition {
			return kmsg.OffsetCommitResponseTopicPartition{Partition: p, ErrorCode: code}
		})
	return nil
}

// offsetCommit is what a commit (OffsetCommit, TxnOffsetCommit) stores for
// one partition at time now (Unix ms): the leader epoch only where the
// request version carries it (hasEpoch), else -1 (unknown).
func offsetCommit(offset int64, epoch int32, metadata *string, hasEpoch bool, now int64) cluster.OffsetCommit {
	oc := cluster.OffsetCommit{Offset: offset, LeaderEpoch: -1, CommitTime: now}
	if hasEpoch {
		oc.LeaderEpoch = epoch
	}
	if metadata != nil {
		oc.Metadata = *metadata
	}
	return oc
}

// validateCommit checks a commit against the group's membership and
// returns the error code for every partition (0: commit).
func (c *groupCoordinator) validateCommit(name string, generation int32, memberID string, instanceID *string) int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if code := c.checkGroupLocked(name); code != 0 {
		return code
	}
	g := c.groups[name]
	if g.fenced(instanceID, memberID) {
		return kerr.FencedInstanceID.Code
	}
	simple := generation < 0 && memberID == "" && instanceID == nil
	if g == nil || len(g.members) == 0 {
		if simple {
			return 0
		}
		return kerr.IllegalGeneration.Code
	}
	if simple {
		// An active group does not accept commits from outside it.
		return kerr.UnknownMemberID.Code
	}
	m := g.members[memberID]
	switch {
	case m == nil:
		return kerr.UnknownMemberID.Code
	case generation != g.generation:
		return kerr.IllegalGeneration.Code
	case g.state == stateCompletingRebalance:
		return kerr.RebalanceInProgress.Code
	}
	c.touchLocked(g, m)
	return 0
}
