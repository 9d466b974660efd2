package transport

import pb "go.etcd.io/raft/v3/raftpb"

// GroupMessage is a Raft message addressed to one Raft group (broker/cluster
// aliases it). Msg is a pointer: raft v3.7's raftpb types are protobuf-go
// messages, which must not be copied by value.
type GroupMessage struct {
	Group uint64
	Msg   *pb.Message
}

// Handler receives the messages a peer sent; it must not block for long.
type Handler = func(from uint64, msgs []GroupMessage)
