package kafka

// OffsetFetch: v1-8
//
// Behavior:
// * Coordinator only; offsets are read through Backend.FetchOffsets
//   (linearizable), so a new coordinator after failover sees every
//   committed offset.
// * A null topic list (v2+) returns every committed offset of the group;
//   a partition without a commit is offset -1 with no error.
// * v8 batches several groups (KIP-709); each group has its own error.
// * RequireStable (v7, KIP-447): a partition whose offset sits in a
//   transaction that has not decided yet (TxnOffsetCommit before EndTxn)
//   is UNSTABLE_OFFSET_COMMIT, which clients retry, so that a consumer
//   taking over the partition starts after what the transaction will
//   commit, not before it. Without it the last committed offset is
//   answered.
//   transactional offsets.
//
// Version notes:
// * v2: group-level ErrorCode, null topics = all
// * v3: ThrottleMillis
// * v5: LeaderEpoch (KIP-320)
// * v6: flexible versions
// * v7: RequireStable
// * v8: Groups batch (KIP-709)
// (v0 read offsets from ZooKeeper and is not served.)

import (
	"context"
	"sort"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(9, 1, 8, handleOffsetFetch) }

// fetchedPartition is one partition's answer, before it is put in the
// version's response shape.
type fetchedPartition struct {
	partition int32
	offset    int64
	epoch     int32
	metadata  string
	code      int16
}

type fetchedTopic struct {
	topic      string
	partitions []fetchedPartition
}

func handleOffsetFetch(ctx context.Context, s *Server, _ *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)

	if req.Version >= 8 {
		for _, rg := range req.Groups {
			var wanted map[string][]int32
			if rg.Topics != nil {
				wanted = map[string][]int32{}
				for _, t := range rg.Topics {
					wanted[t.Topic] = t.Partitions
				}
			}
			topics, code := s.offsetFetch(ctx, rg.Group, wanted, topicOrder(rg.Topics), req.RequireStable)
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group, g.ErrorCode = rg.Group, code
			for _, t := range topics {
				gt := kmsg.NewOffsetFetchResponseGroupTopic()
				gt.Topic = t.topic
				for _, p := range t.partitions {
					gp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					md := p.metadata
					gp.Partition, gp.Offset, gp.LeaderEpoch, gp.Metadata, gp.ErrorCode = p.partition, p.offset, p.epoch, &md, p.code
					gt.Partitions = append(gt.Partitions, gp)
				}
				g.Topics = append(g.Topics, gt)
			}
			resp.Groups = append(resp.Groups, g)
		}
		return resp, nil
	}

	var wanted map[string][]int32
	var order []string
	if req.Topics != nil {
		wanted = map[string][]int32{}
		for _, t := range req.Topics {
			wanted[t.Topic] = t.Partitions
			order = append(order, t.Topic)
		}
	}
	topics, code := s.offsetFetch(ctx, req.Group, wanted, order, req.Version >= 7 && req.RequireStable)
	if req.Version >= 2 {
		resp.ErrorCode = code
	}
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.topic
		for _, p := range t.partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			md := p.metadata
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.partition, p.offset, p.epoch, &md, p.code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

func topicOrder(ts []kmsg.OffsetFetchRequestGroupTopic) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Topic)
	}
	return out
}

// offsetFetch reads a group's offsets: the wanted partitions in request
// order (all committed ones when wanted is nil). code is the group-level
// error; v1 carries it on every partition instead.
func (s *Server) offsetFetch(ctx context.Context, group string, wanted map[string][]int32, order []string, requireStable bool) ([]fetchedTopic, int16) {
	c := s.groups
	c.mu.Lock()
	coordinator := c.isCoordinatorLocked()
	c.mu.Unlock()
	var code int16
	var committed map[cluster.TopicPartition]cluster.OffsetCommit
	if !coordinator {
		code = groupErrCode(cluster.ErrNotLeader)
	} else if got, err := s.backend.FetchOffsets(ctx, group); err != nil {
		code = groupErrCode(err)
	} else {
		committed = got
	}
	var unstable map[cluster.TopicPartition]bool
	if requireStable && code == 0 {
		unstable = s.backend.PendingTxnOffsets(group)
	}
	if wanted == nil {
		byTopic := map[string][]int32{}
		for tp := range committed {
			byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
		}
		wanted = byTopic
		order = order[:0]
		for t, ps := range byTopic {
			order = append(order, t)
			sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		}
		sort.Strings(order)
	}
	out := make([]fetchedTopic, 0, len(order))
	for _, t := range order {
		ft := fetchedTopic{topic: t}
		for _, p := range wanted[t] {
			fp := fetchedPartition{partition: p, offset: -1, epoch: -1, code: code}
			tp := cluster.TopicPartition{Topic: t, Partition: p}
			if oc, ok := committed[tp]; ok {
				fp.offset, fp.epoch, fp.metadata = oc.Offset, oc.LeaderEpoch, oc.Metadata
			}
			if unstable[tp] {
				fp.offset, fp.epoch, fp.metadata, fp.code = -1, -1, "", kerr.UnstableOffsetCommit.Code
			}
			ft.partitions = append(ft.partitions, fp)
		}
		out = append(out, ft)
	}
	return out, code
}
