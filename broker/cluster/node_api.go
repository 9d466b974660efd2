package cluster

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
)

// This file implements broker/kafka's Backend on *Node.

// NodeID is this broker's id.
func (n *Node) NodeID() int32 { return int32(n.cfg.NodeID) }

// ClusterID is stable for a cluster: it derives from the voter set
// ("chronik-1-2-3").
func (n *Node) ClusterID() string {
	id := "chronik"
	for _, v := range n.voters {
		id += fmt.Sprintf("-%d", v)
	}
	return id
}

// Brokers lists the registered brokers.
func (n *Node) Brokers() []BrokerInfo { return n.meta.brokers() }

// ControllerID is the __meta leader, -1 if unknown.
func (n *Node) ControllerID() int32 {
	if l := n.metaG.pubLead.Load(); l != 0 {
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
	replicas := make([]int32, len(n.voters))
	for i, v := range n.voters {
		replicas[i] = int32(v)
	}
	for p, gid := range tm.Groups {
		pi := PartitionInfo{Partition: int32(p), Leader: -1, Replicas: replicas, ISR: replicas}
		if g := n.group(gid); g != nil {
			if l := g.pubLead.Load(); l != 0 {
				pi.Leader = int32(l)
			}
			pi.LeaderEpoch = int32(g.pubTerm.Load())
			if g.isLeader() {
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
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		all := true
		for _, name := range topics {
			t, ok := n.Topic(name)
			for _, p := range t.Partitions {
				all = all && ok && p.Leader >= 0
			}
		}
		if all {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
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

// proposeMeta proposes a __meta command from any node (raft forwards a
// follower's proposal to the leader) and returns the apply result.
func (n *Node) proposeMeta(ctx context.Context, cmd metaCommand) (any, error) {
	data, err := json.Marshal(cmd)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", cmd.Op, err)
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	v, err := n.metaG.propose(ctx, data)
	if err != nil {
		return nil, err
	}
	if e, ok := v.(error); ok {
		return nil, e
	}
	return v, nil
}

func withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultProposalTimeout)
}

// partitionGroup resolves a topic-partition to its local group.
func (n *Node) partitionGroup(tp TopicPartition) (*group, *partitionSM, error) {
	tm, ok := n.meta.topic(tp.Topic)
	if !ok || tp.Partition < 0 || int(tp.Partition) >= len(tm.Groups) {
		return nil, nil, ErrUnknownTopic
	}
	g := n.group(tm.Groups[tp.Partition])
	if g == nil {
		return nil, nil, ErrNotReady
	}
	return g, g.sm.(*partitionSM), nil
}

// Produce appends one batch through the partition's Raft group. Only the
// leader accepts it; acks=-1 and 1 wait for commit and apply; acks=0
// returns once proposed.
func (n *Node) Produce(ctx context.Context, tp TopicPartition, b Batch, acks int16) (ProduceResult, error) {
	g, _, err := n.partitionGroup(tp)
	if err != nil {
		return ProduceResult{}, err
	}
	if !g.isLeader() {
		if g.pubLead.Load() == 0 {
			return ProduceResult{}, ErrNotReady
		}
		return ProduceResult{}, ErrNotLeader
	}
	if len(b.Raw) < rbHeaderLen || b.Records <= 0 {
		return ProduceResult{}, fmt.Errorf("produce to %s/%d: malformed batch", tp.Topic, tp.Partition)
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	payload := encodeProduce(b)
	if acks == 0 {
		_, err := g.proposeAsync(ctx, payload, false)
		return ProduceResult{BaseOffset: -1, LogAppendTime: -1}, err
	}
	if g.spec != nil && n.cfg.Unsafe.AckBeforeCommit {
		return g.proposeEarlyAck(ctx, payload)
	}
	v, err := g.propose(ctx, payload)
	if err != nil {
		return ProduceResult{}, err
	}
	o, _ := v.(produceOutcome)
	return o.res, o.err
}

// readGroup makes a read of g linearizable (or, with the seeded stale-read
// bug, merely checks that this node believes it leads).
func (n *Node) readGroup(ctx context.Context, g *group) error {
	switch {
	case n.cfg.Unsafe.StaleReads:
		// Seeded bug: any replica answers from its local state, so a
		// deposed or partitioned node serves an old high watermark.
		return nil
	case n.cfg.Unsafe.UncommittedReads:
		// Seeded bug: the leader trusts its own log and skips the
		// quorum round (it reads above the commit index anyway).
		if !g.isLeader() {
			return ErrNotLeader
		}
		return nil
	}
	return g.linearizable(ctx)
}

// Fetch reads batches from offset (linearizable via ReadIndex).
func (n *Node) Fetch(ctx context.Context, tp TopicPartition, offset int64, maxBytes int32) (FetchResult, error) {
	g, sm, err := n.partitionGroup(tp)
	if err != nil {
		return FetchResult{}, err
	}
	if err := n.readGroup(ctx, g); err != nil {
		return FetchResult{}, err
	}
	if g.spec != nil && n.cfg.Unsafe.UncommittedReads && g.isLeader() {
		return g.spec.read(sm, offset, maxBytes)
	}
	return sm.read(offset, maxBytes, -1)
}

// WaitForData blocks until the local high watermark exceeds offset, ctx
// ends or maxWait passes. It only waits: the Fetch that follows re-checks
// linearizably.
func (n *Node) WaitForData(ctx context.Context, tp TopicPartition, offset int64, maxWait time.Duration) {
	_, sm, err := n.partitionGroup(tp)
	if err != nil {
		return
	}
	deadline := time.NewTimer(maxWait)
	defer deadline.Stop()
	for {
		ch := sm.hwChanged()
		if sm.highWatermark() > offset {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-ch:
		}
	}
}

// ListOffset answers ListOffsets for one partition (linearizable).
func (n *Node) ListOffset(ctx context.Context, tp TopicPartition, timestamp int64) (int64, int64, int32, error) {
	g, sm, err := n.partitionGroup(tp)
	if err != nil {
		return 0, 0, 0, err
	}
	if err := n.readGroup(ctx, g); err != nil {
		return 0, 0, 0, err
	}
	epoch := int32(g.pubTerm.Load())
	switch timestamp {
	case -1:
		return sm.highWatermark(), -1, epoch, nil
	case -2:
		return sm.logStart(), -1, epoch, nil
	}
	off, ts := sm.offsetForTime(timestamp)
	return off, ts, epoch, nil
}

// InitProducerID allocates a producer id through __meta.
func (n *Node) InitProducerID(ctx context.Context) (int64, int16, error) {
	v, err := n.proposeMeta(ctx, metaCommand{Op: opProducerID})
	if err != nil {
		return 0, 0, err
	}
	id, _ := v.(int64)
	return id, 0, nil
}

// CommitOffsets stores group offsets through __meta (coordinator only).
func (n *Node) CommitOffsets(ctx context.Context, group string, offsets map[TopicPartition]OffsetCommit) error {
	if !n.metaG.isLeader() {
		return ErrNotLeader
	}
	cmd := metaCommand{Op: opCommit, Group: group, Offsets: map[string]map[int32]OffsetCommit{}}
	for tp, oc := range offsets {
		m := cmd.Offsets[tp.Topic]
		if m == nil {
			m = map[int32]OffsetCommit{}
			cmd.Offsets[tp.Topic] = m
		}
		m[tp.Partition] = oc
	}
	_, err := n.proposeMeta(ctx, cmd)
	return err
}

// DeleteOffsets removes a group's committed offsets through __meta: those
// of tps, or all of them (deleting the group) when tps is empty. Like
// CommitOffsets it is proposed on the __meta leader only.
func (n *Node) DeleteOffsets(ctx context.Context, group string, tps []TopicPartition) error {
	if !n.metaG.isLeader() {
		return ErrNotLeader
	}
	cmd := metaCommand{Op: opDeleteOffsets, Group: group}
	if len(tps) > 0 {
		cmd.Offsets = map[string]map[int32]OffsetCommit{}
		for _, tp := range tps {
			m := cmd.Offsets[tp.Topic]
			if m == nil {
				m = map[int32]OffsetCommit{}
				cmd.Offsets[tp.Topic] = m
			}
			m[tp.Partition] = OffsetCommit{}
		}
	}
	_, err := n.proposeMeta(ctx, cmd)
	return err
}

// FetchOffsets reads a group's committed offsets (linearizable).
func (n *Node) FetchOffsets(ctx context.Context, group string) (map[TopicPartition]OffsetCommit, error) {
	if err := n.metaG.linearizable(ctx); err != nil {
		return nil, err
	}
	return n.meta.groupOffsets(group), nil
}

// Groups lists groups that have committed offsets.
func (n *Node) Groups() []string { return n.meta.groupNames() }

// Ready is true once the node is registered, knows a __meta leader, and
// chronik-default exists (it "exists from the first start": clients that
// wait for readiness must find it).
func (n *Node) Ready() bool {
	if !n.registered.Load() || n.metaG.pubLead.Load() == 0 {
		return false
	}
	_, ok := n.meta.topic(DefaultTopic)
	return ok
}

// isr lists the replicas the leader sees as caught up and active.
func (g *group) isr() []int32 {
	g.mu.Lock()
	st := g.rn.Status()
	g.mu.Unlock()
	out := []int32{}
	last := st.HardState.GetCommit()
	for id, pr := range st.Progress {
		if id == g.node.cfg.NodeID || (pr.RecentActive && pr.Match+16 >= last) {
			out = append(out, int32(id))
		}
	}
	slices.Sort(out)
	return out
}

// Status is the /status document.
func (n *Node) Status() Status {
	s := Status{NodeID: n.cfg.NodeID, Mode: "raft-cluster", Registered: n.registered.Load(), Ready: n.Ready(), Unsafe: n.unsafeNames()}
	if n.cfg.Standalone {
		s.Mode = "standalone"
	}
	n.mu.RLock()
	gs := make([]*group, 0, len(n.groups))
	for _, g := range n.groups {
		gs = append(gs, g)
	}
	n.mu.RUnlock()
	slices.SortFunc(gs, func(a, b *group) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	for _, g := range gs {
		g.mu.Lock()
		st := g.rn.Status()
		g.mu.Unlock()
		gst := GroupStatus{Name: g.name, ID: g.id, Role: st.RaftState.String(), Term: st.HardState.GetTerm(), Vote: st.HardState.GetVote(), Leader: st.Lead, Commit: st.HardState.GetCommit(), Applied: g.pubApplied.Load()}
		if st.RaftState == raft.StateLeader {
			gst.Progress = map[uint64]PeerProgress{}
			for id, pr := range st.Progress {
				gst.Progress[id] = PeerProgress{Match: pr.Match, Next: pr.Next, State: pr.State.String(), Active: pr.RecentActive}
			}
		}
		s.Groups = append(s.Groups, gst)
	}
	return s
}

// SetPeerDelay delays every outbound peer message by d (the chaos delay
// nemesis; there is no netem on the test machines).
func (n *Node) SetPeerDelay(d time.Duration) error {
	ds, ok := n.tr.(DelaySetter)
	if !ok {
		return errors.New("set peer delay: transport has no delay stage")
	}
	ds.SetDelay(d)
	n.log.Warn("peer delay set", "delay", d)
	return nil
}

// PeerDelay is the current outbound peer delay.
func (n *Node) PeerDelay() time.Duration {
	if ds, ok := n.tr.(DelaySetter); ok {
		return ds.Delay()
	}
	return 0
}
