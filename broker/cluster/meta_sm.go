package cluster

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble"

	"github.com/chronik-chaos/chronik/broker/storage"
)

// The __meta state machine. Commands are JSON (rare and small); the whole
// state is one JSON record rewritten with each applied batch of entries,
// which is fine at this project's scale (hundreds of topics, thousands of
// group offsets) and keeps the snapshot trivially consistent.

// metaCommand is one __meta log entry.
type metaCommand struct {
	Op      string                            `json:"op"`
	Broker  *BrokerInfo                       `json:"broker,omitempty"`
	Topics  []topicMeta                       `json:"topics,omitempty"`
	Names   []string                          `json:"names,omitempty"`
	Group   string                            `json:"group,omitempty"`
	Offsets map[string]map[int32]OffsetCommit `json:"offsets,omitempty"`
	// Member is the subject of the membership commands (membership.go)
	// and the addresses a registration reports.
	Member *Member `json:"member,omitempty"`
	// Txn is the transaction coordinator's command of an opTxn entry
	// (txn_sm.go).
	Txn *txnCommand `json:"txn,omitempty"`
}

const (
	opRegister     = "register_broker"
	opCreateTopics = "create_topics"
	opDeleteTopics = "delete_topics"
	opCommit       = "commit_offsets"
	opProducerID   = "alloc_producer_id"
	// opDeleteOffsets removes committed offsets of Group: the partitions
	// named in Offsets (values ignored), or every offset, and with them
	// the group, when Offsets is empty.
	opDeleteOffsets = "delete_offsets"
)

// topicMeta is a topic as stored in __meta.
type topicMeta struct {
	Name       string            `json:"name"`
	ID         [16]byte          `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
	// RaftGroups[p] is partition p's Raft group id, assigned at apply
	// time from NextRaftGroup so every replica derives the same ids. (The
	// stored name "groups" predates the rename and is kept: it is on disk.)
	RaftGroups []uint64 `json:"groups,omitempty"`
	// Voters and Learners are the configuration every partition group of
	// the topic bootstraps with: the members at creation (membership.go).
	// Topics created before membership was recorded have neither and use
	// metaState.BootVoters.
	Voters   []uint64 `json:"voters,omitempty"`
	Learners []uint64 `json:"learners,omitempty"`
}

// metaState is the whole __meta document. Offsets holds the committed
// offsets of Kafka consumer groups: consumer group -> topic -> partition.
// JSON names are the stored format: "next_group" and a topic's "groups" hold
// Raft group ids and keep their names across the rename.
type metaState struct {
	Applied        uint64                                       `json:"applied"`
	Brokers        map[int32]BrokerInfo                         `json:"brokers"`
	Topics         map[string]*topicMeta                        `json:"topics"`
	NextRaftGroup  uint64                                       `json:"next_group"`
	NextProducerID int64                                        `json:"next_producer_id"`
	Offsets        map[string]map[string]map[int32]OffsetCommit `json:"offsets"`
	// Members is the cluster's membership and BootVoters the voters it
	// was bootstrapped with (membership.go); nil until the first apply.
	Members    map[uint64]*Member `json:"members,omitempty"`
	BootVoters []uint64           `json:"boot_voters,omitempty"`
	// Txns is the transaction coordinator's state by transactional id
	// (txn_sm.go).
	Txns map[string]*txnMeta `json:"txns,omitempty"`
}

func newMetaState() *metaState {
	return &metaState{
		Brokers:       map[int32]BrokerInfo{},
		Topics:        map[string]*topicMeta{},
		NextRaftGroup: MetaGroupID + 1,
		Offsets:       map[string]map[string]map[int32]OffsetCommit{},
	}
}

type metaSM struct {
	n  *Node
	mu sync.RWMutex
	st *metaState
	// changed is set when a topic was created or deleted by the entries
	// being applied, so the group goroutine reconciles after the commit.
	changed bool
	// membersChanged is set when the member records changed, so the view
	// is published after the commit (membership.go).
	membersChanged bool
}

var metaStateKey = storage.StateKey(MetaGroupID, 'm')

func loadMetaSM(n *Node) (*metaSM, error) {
	sm := &metaSM{n: n, st: newMetaState()}
	v, ok, err := n.db.GetCopy(metaStateKey)
	if err != nil {
		return nil, fmt.Errorf("load __meta state: %w", err)
	}
	if ok {
		st := newMetaState()
		if err := json.Unmarshal(v, st); err != nil {
			return nil, fmt.Errorf("load __meta state (key %x in %s): %w: %w", metaStateKey, n.db.Dir, storage.ErrCorrupt, err)
		}
		sm.st = st
	}
	return sm, nil
}

func (m *metaSM) applied() uint64 { return m.st.Applied }
func (m *metaSM) lock()           { m.mu.Lock() }
func (m *metaSM) unlock()         { m.mu.Unlock() }

func (m *metaSM) setApplied(b *pebble.Batch, index uint64) error {
	m.st.Applied = index
	v, err := json.Marshal(m.st)
	if err != nil {
		return fmt.Errorf("encode __meta state: %w", err)
	}
	return b.Set(metaStateKey, v, nil)
}

func (m *metaSM) committed() {
	if m.membersChanged {
		m.membersChanged = false
		m.publishMembers()
	}
	// Wake requests waiting for a transaction to move on (txn_coordinator.go).
	m.n.txns.applied()
	if m.changed {
		m.changed = false
		// Create the groups before the proposer is answered: CreateTopics
		// returns only once the local partition groups exist.
		if err := m.n.reconcileGroups(); err != nil {
			m.n.log.Error("create partition groups", "err", err)
			m.n.fail(err)
		}
	}
}

func (m *metaSM) snapshot() ([]byte, uint64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	data, err := json.Marshal(m.st)
	return data, m.st.Applied, err
}

func (m *metaSM) restore(b *pebble.Batch, index uint64, data []byte) error {
	st := newMetaState()
	if len(data) > 0 {
		if err := json.Unmarshal(data, st); err != nil {
			return fmt.Errorf("decode __meta snapshot: %w", err)
		}
	}
	m.st = st
	m.changed = true
	m.membersChanged = true
	return m.setApplied(b, index)
}

// topicNameRE is Kafka's legal topic name pattern.
var topicNameRE = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// maxPartitions bounds one topic's partition count: every partition is a
// Raft group on every node.
const maxPartitions = 1000

func (m *metaSM) apply(_ *pebble.Batch, index, _ uint64, payload []byte) any {
	var c metaCommand
	if err := json.Unmarshal(payload, &c); err != nil {
		m.n.log.Error("undecodable __meta entry; skipped on every replica alike", "index", index, "err", err)
		return fmt.Errorf("decode __meta command: %w", err)
	}
	m.ensureMembers(index)
	if res, handled := m.applyMembership(&c, index); handled {
		return res
	}
	st := m.st
	switch c.Op {
	case opRegister:
		if c.Broker != nil {
			st.Brokers[c.Broker.ID] = *c.Broker
		}
		return nil
	case opCreateTopics:
		errs := make([]error, len(c.Topics))
		for i, t := range c.Topics {
			switch {
			case !topicNameRE.MatchString(t.Name) || t.Name == "." || t.Name == "..":
				errs[i] = ErrInvalidTopic
			case t.Partitions <= 0 || t.Partitions > maxPartitions:
				errs[i] = ErrInvalidPartitions
			case st.Topics[t.Name] != nil:
				errs[i] = ErrTopicExists
			default:
				tm := t
				tm.Voters, tm.Learners = m.groupBootMembers()
				tm.RaftGroups = make([]uint64, t.Partitions)
				for p := range tm.RaftGroups {
					tm.RaftGroups[p] = st.NextRaftGroup
					st.NextRaftGroup++
				}
				st.Topics[t.Name] = &tm
				m.changed = true
			}
		}
		return errs
	case opDeleteTopics:
		errs := make([]error, len(c.Names))
		for i, name := range c.Names {
			if st.Topics[name] == nil {
				errs[i] = ErrUnknownTopic
				continue
			}
			delete(st.Topics, name)
			for _, offs := range st.Offsets {
				delete(offs, name)
			}
			m.changed = true
		}
		return errs
	case opCommit:
		m.n.crash.reach(CrashOffsetCommitBeforeApply)
		m.n.crash.reachAfterApply(MetaGroupID, CrashOffsetCommitAfterApply)
		mergeOffsets(st.Offsets, c.Group, c.Offsets)
		return nil
	case opProducerID:
		st.NextProducerID++
		return st.NextProducerID
	case opDeleteOffsets:
		g := st.Offsets[c.Group]
		if len(c.Offsets) == 0 {
			delete(st.Offsets, c.Group)
			return nil
		}
		for topic, parts := range c.Offsets {
			for p := range parts {
				delete(g[topic], p)
			}
			if len(g[topic]) == 0 {
				delete(g, topic)
			}
		}
		if g != nil && len(g) == 0 {
			delete(st.Offsets, c.Group)
		}
		return nil
	case opTxn:
		return st.applyTxn(c.Txn)
	}
	m.n.log.Error("unknown __meta command; skipped", "op", c.Op, "index", index)
	return fmt.Errorf("unknown __meta command %q", c.Op)
}

// partitionRaftGroups maps every partition's Raft group id to its partition.
func (m *metaSM) partitionRaftGroups() map[uint64]TopicPartition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[uint64]TopicPartition)
	for _, t := range m.st.Topics {
		for p, gid := range t.RaftGroups {
			out[gid] = TopicPartition{Topic: t.Name, Partition: int32(p)}
		}
	}
	return out
}

func (m *metaSM) topic(name string) (topicMeta, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.st.Topics[name]
	if !ok {
		return topicMeta{}, false
	}
	return *t, true
}

func (m *metaSM) topicNames() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Sorted(maps.Keys(m.st.Topics))
}

func (m *metaSM) brokers() []BrokerInfo {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]BrokerInfo, 0, len(m.st.Brokers))
	for _, b := range m.st.Brokers {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b BrokerInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (m *metaSM) broker(id int32) (BrokerInfo, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b, ok := m.st.Brokers[id]
	return b, ok
}

func (m *metaSM) groupOffsets(group string) map[TopicPartition]OffsetCommit {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := map[TopicPartition]OffsetCommit{}
	for topic, parts := range m.st.Offsets[group] {
		for p, oc := range parts {
			out[TopicPartition{Topic: topic, Partition: p}] = oc
		}
	}
	return out
}

func (m *metaSM) groupNames() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Sorted(maps.Keys(m.st.Offsets))
}

func u64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
