package cluster

// This file holds the raft.Storage adapter that attaches the live state
// machine to the durable log's snapshots.

import (
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/chronik-chaos/chronik/broker/storage"
)

// raftStorage wraps the durable log so that Snapshot returns the state
// machine's data at the current applied index. raft calls it on the group
// goroutine only, where state and applied index agree.
type raftStorage struct {
	*storage.RaftLog
	g *raftGroup
}

// Snapshot implements raft.Storage with the live state machine's data.
func (s raftStorage) Snapshot() (*pb.Snapshot, error) {
	g := s.g
	if g.stale != nil {
		if snap, ok := g.stale.snapshot(g, s); ok {
			return snap, nil
		}
	}
	// data and idx come from one read-locked view of the state machine,
	// so they agree even if an apply batch runs concurrently.
	data, idx, err := g.sm.snapshot()
	if err != nil {
		g.log.Error("snapshot state machine", "err", err)
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	meta := s.RaftLog.SnapshotMetadata()
	if idx <= meta.GetIndex() {
		return &pb.Snapshot{Data: data, Metadata: meta}, nil
	}
	term, err := s.RaftLog.Term(idx)
	if err != nil {
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	return &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{
		Index: new(idx), Term: new(term), ConfState: proto.Clone(g.conf.at(idx)).(*pb.ConfState),
	}}, nil
}

// InitialState implements raft.Storage with the ConfState as of the
// applied index (confchange.go): raft does not re-apply configuration
// changes at or below Config.Applied.
func (s raftStorage) InitialState() (*pb.HardState, *pb.ConfState, error) {
	hs, _, err := s.RaftLog.InitialState()
	if err != nil {
		return nil, nil, err
	}
	return hs, proto.Clone(s.g.confState()).(*pb.ConfState), nil
}
