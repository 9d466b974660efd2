package kafka

// OffsetCommit: v0-8
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
// * A partition of an unknown topic is UNKNOWN_TOPIC_OR_PARTITION; the
//   other partitions are committed.
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

import (
	"context"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(8, 0, 8, handleOffsetCommit) }

func handleOffsetCommit(ctx context.Context, s *Server, _ *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)

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
			oc := cluster.OffsetCommit{Offset: rp.Offset, LeaderEpoch: -1, CommitTime: now}
			if req.Version >= 6 {
				oc.LeaderEpoch = rp.LeaderEpoch
			}
			if rp.Metadata != nil {
				oc.Metadata = *rp.Metadata
			}
			offsets[cluster.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}] = oc
		}
	}
	if code == 0 && len(offsets) > 0 {
		if err := s.backend.CommitOffsets(ctx, req.Group, offsets); err != nil {
			ec := groupErrCode(err)
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
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for j, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition, sp.ErrorCode = rp.Partition, codes[i][j]
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
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
