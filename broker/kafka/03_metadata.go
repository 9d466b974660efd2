package kafka

// Metadata: v0-12
//
// Behavior:
// * Brokers are the brokers registered in __meta; the controller is the
//   __meta leader (-1 while unknown).
// * A null topic list returns every topic, an empty one none, except in
//   v0, which has no null list and where an empty one means every topic
//   (Kafka's MetadataRequest.isAllTopics; kafka-python's version probe
//   sends exactly that right after ApiVersions). Topics may
//   be named by name or, v10+, by topic id (stable, random, non-zero,
//   assigned at creation). An unknown id is UNKNOWN_TOPIC_ID with a null
//   name, as in Kafka (the Java admin client's describeTopics by id maps it
//   to UnknownTopicIdException).
// * Unknown topics are auto-created (with the default partition count)
//   when the server allows it and the request does (v4+
//   AllowAutoTopicCreation; always for v0-3); a topic just created but not
//   yet visible is LEADER_NOT_AVAILABLE so the client retries.
// * A partition without a known leader is LEADER_NOT_AVAILABLE with
//   leader -1; the leader epoch is the Raft term.
// * Authorized operations (v8+) are ignored: we answer -2147483648
//   ("not requested") as Kafka does when there is no authorizer.
//
// Version notes:
// * v0: brokers, topics, partitions with leader, replicas and ISR
// * v1: IsInternal, ControllerID, Rack; null topic list = all topics
// * v2: ClusterID
// * v4: AllowAutoTopicCreation
// * v5: OfflineReplicas
// * v7: LeaderEpoch (KIP-320)
// * v8: authorized operations (KIP-430)
// * v9: flexible versions
// * v10: TopicID (KIP-516)
// * v11: cluster authorized operations removed
// * v12: topic name nullable in the request

import (
	"context"
	"errors"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(3, 0, 12, typed(handleMetadata)) }

func handleMetadata(ctx context.Context, s *Server, _ *clientConn, req *kmsg.MetadataRequest, resp *kmsg.MetadataResponse) error {
	b := s.backend

	for _, bi := range b.Brokers() {
		rb := kmsg.NewMetadataResponseBroker()
		rb.NodeID, rb.Host, rb.Port = bi.ID, bi.Host, bi.Port
		if bi.Rack != "" {
			rb.Rack = &bi.Rack
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	cid := b.ClusterID()
	resp.ClusterID = &cid
	resp.ControllerID = b.ControllerID()
	resp.AuthorizedOperations = -2147483648

	if req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0) {
		for _, t := range b.Topics() {
			resp.Topics = append(resp.Topics, metadataTopic(t))
		}
		return nil
	}

	autoCreate := s.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	var missing []string
	for _, rt := range req.Topics {
		if rt.Topic == nil {
			continue
		}
		if _, ok := b.Topic(*rt.Topic); !ok {
			missing = append(missing, *rt.Topic)
		}
	}
	createErrs := map[string]error{}
	if autoCreate && len(missing) > 0 {
		createErrs = s.autoCreate(ctx, missing)
	}

	for _, rt := range req.Topics {
		var (
			t  cluster.TopicInfo
			ok bool
		)
		if rt.Topic != nil {
			t, ok = b.Topic(*rt.Topic)
		} else {
			t, ok = topicByID(b, rt.TopicID)
		}
		if ok {
			resp.Topics = append(resp.Topics, metadataTopic(t))
			continue
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
		mt.AuthorizedOperations = -2147483648
		mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		if rt.Topic == nil {
			mt.ErrorCode = kerr.UnknownTopicID.Code
		}
		if rt.Topic != nil && autoCreate {
			switch err := createErrs[*rt.Topic]; {
			case err == nil, errors.Is(err, cluster.ErrTopicExists):
				mt.ErrorCode = kerr.LeaderNotAvailable.Code
			case errors.Is(err, cluster.ErrInvalidTopic):
				mt.ErrorCode = kerr.InvalidTopicException.Code
			default:
				mt.ErrorCode = kerr.LeaderNotAvailable.Code
			}
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return nil
}

// autoCreate creates the named topics with the default partition count and
// returns each one's error (TOPIC_ALREADY_EXISTS included, which callers
// treat as success: a concurrent request created it).
func (s *Server) autoCreate(ctx context.Context, names []string) map[string]error {
	// Without quorum the creation cannot commit; answer the request in
	// bounded time and let the client retry.
	ctx, cancel := context.WithTimeout(ctx, autoCreateTimeout)
	defer cancel()
	specs := make([]cluster.TopicSpec, len(names))
	for i, n := range names {
		specs[i] = cluster.TopicSpec{Name: n, Partitions: s.cfg.DefaultPartitions}
	}
	errs := s.backend.CreateTopics(ctx, specs, false)
	out := make(map[string]error, len(names))
	for i, n := range names {
		if i < len(errs) {
			out[n] = errs[i]
		}
		if out[n] != nil && !errors.Is(out[n], cluster.ErrTopicExists) {
			s.log.Warn("auto-create topic failed", "topic", n, "err", out[n])
		}
	}
	return out
}

// autoCreateTimeout bounds the topic creation a Metadata or Produce request
// triggers.
const autoCreateTimeout = 5 * time.Second

func topicByID(b Backend, id [16]byte) (cluster.TopicInfo, bool) {
	if id == ([16]byte{}) {
		return cluster.TopicInfo{}, false
	}
	for _, t := range b.Topics() {
		if t.ID == id {
			return t, true
		}
	}
	return cluster.TopicInfo{}, false
}

func metadataTopic(t cluster.TopicInfo) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = false
	mt.AuthorizedOperations = -2147483648
	for _, p := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.Partition
		mp.Leader = p.Leader
		mp.LeaderEpoch = p.LeaderEpoch
		mp.Replicas = append([]int32(nil), p.Replicas...)
		mp.ISR = append([]int32(nil), p.ISR...)
		if mp.Replicas == nil {
			mp.Replicas = []int32{}
		}
		if mp.ISR == nil {
			mp.ISR = []int32{}
		}
		if p.Leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

// findPartition returns partition p of t.
func findPartition(t cluster.TopicInfo, p int32) (cluster.PartitionInfo, bool) {
	for _, pi := range t.Partitions {
		if pi.Partition == p {
			return pi, true
		}
	}
	return cluster.PartitionInfo{}, false
}
