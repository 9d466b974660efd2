package cluster

// This file holds the seeded bug Unsafe.SnapshotStaleState: a partition
// snapshot carries every batch of the partition, so building one per
// follower that needs it is expensive; the bug builds it once, when the
// group compacts its log, and sends that state in every later snapshot
// under the index the leader has applied by the time it sends. A follower
// that installs it believes it holds everything up to that index, but the
// entries applied between the compaction and the send are missing from its
// partition: every later record lands at a lower offset on that node than
// on the others, and Raft never notices (the logs agree; only the state
// machines differ).

import (
	"sync"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// staleSnapshot is the partition state captured at the last compaction.
type staleSnapshot struct {
	mu   sync.Mutex
	data []byte
}

// capture records the partition's state as of now (group goroutine, after
// a compaction).
func (s *staleSnapshot) capture(g *raftGroup) {
	data, _, err := g.sm.snapshot()
	if err != nil {
		g.log.Error("unsafe: capture partition snapshot", "err", err)
		return
	}
	s.mu.Lock()
	s.data = data
	s.mu.Unlock()
}

// snapshot returns the captured state labelled with the index applied now,
// or false before the first compaction.
func (s *staleSnapshot) snapshot(g *raftGroup, st raftStorage) (*pb.Snapshot, bool) {
	s.mu.Lock()
	data := s.data
	s.mu.Unlock()
	if data == nil {
		return nil, false
	}
	idx := g.pubApplied.Load()
	meta := st.RaftLog.SnapshotMetadata()
	if idx <= meta.GetIndex() {
		return &pb.Snapshot{Data: data, Metadata: meta}, true
	}
	term, err := st.RaftLog.Term(idx)
	if err != nil {
		return nil, false
	}
	return &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{
		Index: new(idx), Term: new(term), ConfState: proto.Clone(g.conf.at(idx)).(*pb.ConfState),
	}}, true
}
