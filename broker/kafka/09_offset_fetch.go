package kafka

// OffsetFetch: v0-9
//
// Behavior:
// * Coordinator only; offsets are read through Backend.FetchOffsets
//   (linearizable), so a new coordinator after failover sees every
//   committed offset.
// * v0 reads the same group offsets as v1+ (in Kafka, v0 read offsets
//   committed to ZooKeeper; this broker has one offset store, which
//   OffsetCommit v0 writes too).
// * A null topic list (v2+) returns every committed offset of the group;
//   a partition without a commit is offset -1 with no error. v0-1 carry a
//   group-level error on every partition, v2+ also at the top.
// * v8+ batches several groups (KIP-709); each group has its own error.
//   Earlier versions are served as a batch of one.
// * RequireStable (v7, KIP-447): a partition whose offset sits in a
//   transaction that has not decided yet (TxnOffsetCommit before EndTxn)
//   is UNSTABLE_OFFSET_COMMIT, which clients retry, so that a consumer
//   taking over the partition starts after what the transaction will
//   commit, not before it. Without it the last committed offset is
//   answered.
//   transactional offsets.
// * MemberID and MemberEpoch (v9) are ignored: they are checked only for
//   KIP-848 consumer groups, which are not served.
//
// Version notes:
// * v1: offsets from Kafka instead of ZooKeeper
// * v2: group-level ErrorCode, null topics = all
// * v3: ThrottleMillis
// * v5: LeaderEpoch (KIP-320)
// * v6: flexible versions
// * v7: RequireStable
// * v8: Groups batch (KIP-709)
// * v9: MemberID, MemberEpoch (KIP-848)

import (
	"context"
	"sort"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(9, 0, 9, typed(handleOffsetFetch)) }

func handleOffsetFetch(ctx context.Context, s *Server, _ *clientConn, req *kmsg.OffsetFetchRequest, resp *kmsg.OffsetFetchResponse) error {
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			resp.Groups = append(resp.Groups, s.offsetFetch(ctx, rg.Group, rg.Topics, req.RequireStable))
		}
		return nil
	}
	// Before v8 the request names one group; its topics have the same
	// fields as a v8 group's, and so have the answer's partitions.
	var topics []kmsg.OffsetFetchRequestGroupTopic
	if req.Topics != nil {
		topics = make([]kmsg.OffsetFetchRequestGroupTopic, len(req.Topics))
		for i, t := range req.Topics {
			topics[i] = kmsg.OffsetFetchRequestGroupTopic{Topic: t.Topic, Partitions: t.Partitions}
		}
	}
	g := s.offsetFetch(ctx, req.Group, topics, req.Version >= 7 && req.RequireStable)
	if req.Version >= 2 {
		resp.ErrorCode = g.ErrorCode
	}
	for _, gt := range g.Topics {
		rt := kmsg.OffsetFetchResponseTopic{Topic: gt.Topic, Partitions: make([]kmsg.OffsetFetchResponseTopicPartition, len(gt.Partitions))}
		for i, p := range gt.Partitions {
			rt.Partitions[i] = kmsg.OffsetFetchResponseTopicPartition(p)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return nil
}

// offsetFetch answers one group: the requested partitions in request order,
// or, for a nil topic list, every committed one sorted by topic and
// partition. The group-level error is also every partition's. With
// requireStable, offsets of undecided transactions are
// UNSTABLE_OFFSET_COMMIT.
func (s *Server) offsetFetch(ctx context.Context, group string, topics []kmsg.OffsetFetchRequestGroupTopic, requireStable bool) kmsg.OffsetFetchResponseGroup {
	c := s.groups
	c.mu.Lock()
	coordinator := c.isCoordinatorLocked()
	c.mu.Unlock()
	out := kmsg.NewOffsetFetchResponseGroup()
	out.Group = group
	var committed map[cluster.TopicPartition]cluster.OffsetCommit
	if !coordinator {
		out.ErrorCode = groupErrCode(cluster.ErrNotLeader)
	} else if got, err := s.backend.FetchOffsets(ctx, group); err != nil {
		out.ErrorCode = groupErrCode(err)
	} else {
		committed = got
	}
	var unstable map[cluster.TopicPartition]bool
	if requireStable && out.ErrorCode == 0 {
		unstable = s.backend.PendingTxnOffsets(group)
	}
	if topics == nil {
		topics = committedTopics(committed)
	}
	for _, t := range topics {
		gt := kmsg.OffsetFetchResponseGroupTopic{Topic: t.Topic}
		for _, p := range t.Partitions {
			gp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			gp.Partition, gp.Offset, gp.LeaderEpoch, gp.ErrorCode = p, -1, -1, out.ErrorCode
			md := ""
			tp := cluster.TopicPartition{Topic: t.Topic, Partition: p}
			if oc, ok := committed[tp]; ok {
				gp.Offset, gp.LeaderEpoch, md = oc.Offset, oc.LeaderEpoch, oc.Metadata
			}
			if unstable[tp] {
				gp.Offset, gp.LeaderEpoch, md, gp.ErrorCode = -1, -1, "", kerr.UnstableOffsetCommit.Code
			}
			gp.Metadata = &md
			gt.Partitions = append(gt.Partitions, gp)
		}
		out.Topics = append(out.Topics, gt)
	}
	return out
}

// committedTopics lists the partitions of committed as a request for all of
// them, sorted by topic and partition.
func committedTopics(committed map[cluster.TopicPartition]cluster.OffsetCommit) []kmsg.OffsetFetchRequestGroupTopic {
	byTopic := map[string][]int32{}
	for tp := range committed {
		byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
	}
	out := make([]kmsg.OffsetFetchRequestGroupTopic, 0, len(byTopic))
	for t, ps := range byTopic {
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		out = append(out, kmsg.OffsetFetchRequestGroupTopic{Topic: t, Partitions: ps})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out
}
