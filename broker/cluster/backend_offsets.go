package cluster

// This file implements the consumer-group and producer-id part of
// broker/kafka's Backend on *Node. A "group" here is always a Kafka
// consumer group (a name with committed offsets in the __meta state
// machine), never a Raft group (raftGroup).

import (
	"context"
	"maps"
)

// InitProducerID allocates a producer id through __meta.
func (n *Node) InitProducerID(ctx context.Context) (int64, int16, error) {
	v, err := n.proposeMeta(ctx, metaCommand{Op: opProducerID})
	if err != nil {
		return 0, 0, err
	}
	id, _ := v.(int64)
	return id, 0, nil
}

// CommitOffsets stores a consumer group's offsets through __meta
// (coordinator only).
func (n *Node) CommitOffsets(ctx context.Context, group string, offsets map[TopicPartition]OffsetCommit) error {
	if !n.metaRaft.isLeader() {
		return ErrNotLeader
	}
	byTopic := map[string]map[int32]OffsetCommit{}
	for tp, oc := range offsets {
		offsetsOf(byTopic, tp.Topic)[tp.Partition] = oc
	}
	cmd := metaCommand{Op: opCommit, Group: group, Offsets: byTopic}
	if n.cfg.Unsafe.OffsetAckBeforeCommit {
		// Seeded bug: the commit is acknowledged once proposed; a
		// coordinator that loses its quorum or leadership before the
		// entry commits has acknowledged a commit nobody stores.
		return n.proposeMetaAsync(ctx, cmd)
	}
	_, err := n.proposeMeta(ctx, cmd)
	if err == nil {
		n.metrics.offsetCommits.Inc()
	}
	return err
}

// DeleteOffsets removes a consumer group's committed offsets through
// __meta: those of tps, or all of them (deleting the group) when tps is
// empty. Like CommitOffsets it is proposed on the __meta leader only.
func (n *Node) DeleteOffsets(ctx context.Context, group string, tps []TopicPartition) error {
	if !n.metaRaft.isLeader() {
		return ErrNotLeader
	}
	cmd := metaCommand{Op: opDeleteOffsets, Group: group}
	if len(tps) > 0 {
		cmd.Offsets = map[string]map[int32]OffsetCommit{}
		for _, tp := range tps {
			offsetsOf(cmd.Offsets, tp.Topic)[tp.Partition] = OffsetCommit{}
		}
	}
	_, err := n.proposeMeta(ctx, cmd)
	return err
}

// offsetsOf returns byTopic's partition map of topic, creating it: the
// shape of metaCommand.Offsets.
func offsetsOf(byTopic map[string]map[int32]OffsetCommit, topic string) map[int32]OffsetCommit {
	m := byTopic[topic]
	if m == nil {
		m = map[int32]OffsetCommit{}
		byTopic[topic] = m
	}
	return m
}

// groupOffsetsOf returns group's offsets by topic in byGroup (a state's
// committed or a transaction's pending offsets), adding the entry if absent.
func groupOffsetsOf(byGroup map[string]map[string]map[int32]OffsetCommit, group string) map[string]map[int32]OffsetCommit {
	g := byGroup[group]
	if g == nil {
		g = map[string]map[int32]OffsetCommit{}
		byGroup[group] = g
	}
	return g
}

// mergeOffsets copies a commit's offsets by topic into group's entry of
// byGroup: a later commit of a partition replaces the earlier one.
func mergeOffsets(byGroup map[string]map[string]map[int32]OffsetCommit, group string, offsets map[string]map[int32]OffsetCommit) {
	g := groupOffsetsOf(byGroup, group)
	for topic, parts := range offsets {
		maps.Copy(offsetsOf(g, topic), parts)
	}
}

// FetchOffsets reads a consumer group's committed offsets (linearizable).
func (n *Node) FetchOffsets(ctx context.Context, group string) (map[TopicPartition]OffsetCommit, error) {
	if err := n.metaRaft.linearizable(ctx); err != nil {
		return nil, err
	}
	return n.meta.groupOffsets(group), nil
}

// Groups lists the consumer groups that have committed offsets.
func (n *Node) Groups() []string { return n.meta.groupNames() }
