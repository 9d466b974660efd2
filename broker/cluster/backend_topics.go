package cluster

// This file implements the metadata half of broker/kafka's Backend on
// *Node: identity, brokers, topics and their creation and deletion through
// __meta.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// NodeID is this broker's id.
func (n *Node) NodeID() int32 { return int32(n.cfg.NodeID) }

// ClusterID is stable for a cluster: it derives from the voter set
// ("chronik-1-2-3").
func (n *Node) ClusterID() string {
	id := "chronik"
	voters := n.meta.bootVoters()
	if len(voters) == 0 {
		voters = n.voters // before the first __meta apply
	}
	for _, v := range voters {
		id += fmt.Sprintf("-%d", v)
	}
	return id
}

// Brokers lists the registered brokers that are still members (a removed
// member's registration stays in __meta but is not reported).
func (n *Node) Brokers() []BrokerInfo {
	v := n.members.Load()
	out := n.meta.brokers()
	return slices.DeleteFunc(out, func(b BrokerInfo) bool { return v.removed(uint64(b.ID)) })
}

// ControllerID is the __meta leader, -1 if unknown.
func (n *Node) ControllerID() int32 {
	if l := n.metaRaft.pubLead.Load(); l != 0 && !n.removedSelf.Load() {
		return int32(l)
	}
	return -1
}

// CoordinatorID is the node coordinating every consumer group: the __meta
// leader, so offset commits are proposed where they commit fastest.
func (n *Node) CoordinatorID() int32 { return n.ControllerID() }

// Topics returns every topic with its current leaders and epochs.
func (n *Node) Topics() []TopicInfo {
	names := n.meta.topicNames()
	out := make([]TopicInfo, 0, len(names))
	for _, name := range names {
		if t, ok := n.Topic(name); ok {
			out = append(out, t)
		}
	}
	return out
}

// Topic returns one topic.
func (n *Node) Topic(name string) (TopicInfo, bool) {
	tm, ok := n.meta.topic(name)
	if !ok {
		return TopicInfo{}, false
	}
	ti := TopicInfo{Name: tm.Name, ID: tm.ID, Configs: tm.Configs}
	removed := n.removedSelf.Load()
	// A group not created here yet reports the member voters.
	voters := []int32{}
	for _, id := range voterIDsOf(n.members.Load()) {
		voters = append(voters, int32(id))
	}
	for p, gid := range tm.RaftGroups {
		pi := PartitionInfo{Partition: int32(p), Leader: -1, Replicas: voters, ISR: voters}
		if g := n.raftGroup(gid); g != nil {
			pi.Replicas, pi.ISR = []int32{}, []int32{}
			// Replicas are the group's voters and learners; the ISR is
			// the voters (on the leader: those it sees caught up), since
			// learners never count toward acks=all.
			cs := g.confState()
			for _, v := range cs.GetVoters() {
				pi.Replicas = append(pi.Replicas, int32(v))
			}
			pi.ISR = slices.Clone(pi.Replicas)
			for _, l := range cs.GetLearners() {
				pi.Replicas = append(pi.Replicas, int32(l))
			}
			if l := g.pubLead.Load(); l != 0 && !removed {
				pi.Leader = int32(l)
			}
			pi.LeaderEpoch = int32(g.pubTerm.Load())
			if g.isLeader() && !removed {
				pi.ISR = g.isr()
			}
		}
		ti.Partitions = append(ti.Partitions, pi)
	}
	return ti, true
}

// CreateTopics creates topics through __meta. It returns once each
// creation committed and its partition groups exist on this node (the
// groups are created in the apply path before the proposer is answered).
func (n *Node) CreateTopics(ctx context.Context, specs []TopicSpec, validateOnly bool) []error {
	errs := make([]error, len(specs))
	var cmd metaCommand
	cmd.Op = opCreateTopics
	idx := make([]int, 0, len(specs))
	for i, s := range specs {
		parts := s.Partitions
		if parts <= 0 {
			parts = n.cfg.DefaultPartitions
		}
		switch {
		case !topicNameRE.MatchString(s.Name) || s.Name == "." || s.Name == "..":
			errs[i] = ErrInvalidTopic
			continue
		case parts > maxPartitions:
			errs[i] = ErrInvalidPartitions
			continue
		}
		if _, ok := n.meta.topic(s.Name); ok {
			errs[i] = ErrTopicExists
			continue
		}
		if validateOnly {
			continue
		}
		var id [16]byte
		_, _ = rand.Read(id[:])
		cmd.Topics = append(cmd.Topics, topicMeta{Name: s.Name, ID: id, Partitions: parts, Configs: s.Configs})
		idx = append(idx, i)
	}
	if len(cmd.Topics) == 0 {
		return errs
	}
	v, err := n.proposeMeta(ctx, cmd)
	if err != nil {
		for _, i := range idx {
			errs[i] = err
		}
		return errs
	}
	res, _ := v.([]error)
	var created []string
	for j, i := range idx {
		if j < len(res) {
			errs[i] = res[j]
		}
		if errs[i] == nil {
			created = append(created, specs[i].Name)
		}
	}
	n.awaitLeaders(ctx, created)
	return errs
}

// awaitLeaders waits, briefly, until every partition of the topics has a
// known leader on this node, so that the Metadata a client asks for right
// after CreateTopics names leaders instead of LEADER_NOT_AVAILABLE (clients
// cache that answer). The preferred replica campaigns as soon as the group
// exists, so this normally takes one election round trip; the topic is
// created either way.
func (n *Node) awaitLeaders(ctx context.Context, topics []string) {
	if len(topics) == 0 {
		return
	}
	limit := time.Duration(2*n.cfg.ElectionTicks) * n.cfg.TickInterval
	// Leaders change without a signal to wait on: poll.
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	waitUntil(ctx, limit, func() <-chan time.Time { return tick.C }, func() bool {
		for _, name := range topics {
			// A topic deleted meanwhile has no partitions to wait for.
			t, _ := n.Topic(name)
			for _, p := range t.Partitions {
				if p.Leader < 0 {
					return false
				}
			}
		}
		return true
	})
}

// DeleteTopics deletes topics through __meta.
func (n *Node) DeleteTopics(ctx context.Context, names []string) []error {
	errs := make([]error, len(names))
	v, err := n.proposeMeta(ctx, metaCommand{Op: opDeleteTopics, Names: names})
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	res, _ := v.([]error)
	copy(errs, res)
	return errs
}

// proposeMetaAsync proposes a __meta command without waiting for it to
// commit (only for the seeded bug Unsafe.OffsetAckBeforeCommit).
func (n *Node) proposeMetaAsync(ctx context.Context, cmd metaCommand) error {
	data, err := json.Marshal(cmd)
	if err != nil {
		return fmt.Errorf("encode %s: %w", cmd.Op, err)
	}
	_, err = n.metaRaft.proposeAsync(ctx, data, false)
	return err
}

// proposeMeta proposes a __meta command from any node (raft forwards a
// follower's proposal to the leader) and returns the apply result.
func (n *Node) proposeMeta(ctx context.Context, cmd metaCommand) (any, error) {
	data, err := json.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", cmd.Op, err)
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	v, err := n.metaRaft.propose(ctx, data)
	if err != nil {
		return nil, err
	}
	if e, ok := v.(error); ok {
		return nil, e
	}
	return v, nil
}
