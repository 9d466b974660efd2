package kafka

import (
	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Partition leadership as the protocol shows it to clients: fencing reads
// by leader epoch (KIP-320) and pointing a client that reached a follower
// at the leader (KIP-951).

// readablePartition checks a partition a Fetch or ListOffsets request is
// about to read. An unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION.
// clientEpoch is the request's CurrentLeaderEpoch (-1: not checked): older
// than the partition's is FENCED_LEADER_EPOCH (the client acts on a deposed
// leader and must refresh its metadata), newer is UNKNOWN_LEADER_EPOCH (this
// node has not heard of that leader yet; the client retries). The leader
// epoch is the Raft term, so it never goes backwards on a node.
func readablePartition(topic cluster.TopicInfo, known bool, partition, clientEpoch int32) (cluster.PartitionInfo, int16) {
	pi, ok := findPartition(topic, partition)
	switch {
	case !known || !ok:
		return pi, kerr.UnknownTopicOrPartition.Code
	case clientEpoch >= 0 && clientEpoch < pi.LeaderEpoch:
		return pi, kerr.FencedLeaderEpoch.Code
	case clientEpoch > pi.LeaderEpoch:
		return pi, kerr.UnknownLeaderEpoch.Code
	}
	return pi, 0
}

// otherLeader returns the leader this node knows for a partition it
// answered NOT_LEADER_OR_FOLLOWER for, when that leader is another node.
func (s *Server) otherLeader(pi cluster.PartitionInfo) (cluster.PartitionInfo, bool) {
	return pi, pi.Leader >= 0 && pi.Leader != s.backend.NodeID()
}

// leaderEndpoints returns the endpoints of the given leaders (KIP-951's
// NodeEndpoints of Produce v10+ and Fetch v16+), sorted by id as
// registered.
func (s *Server) leaderEndpoints(ids map[int32]bool) []kmsg.ProduceResponseBroker {
	var out []kmsg.ProduceResponseBroker
	for _, b := range s.backend.Brokers() {
		if ids[b.ID] {
			rb := kmsg.NewProduceResponseBroker()
			rb.NodeID, rb.Host, rb.Port = b.ID, b.Host, b.Port
			out = append(out, rb)
		}
	}
	return out
}
