package kafka

// DescribeQuorum: v0-2
//
// Behavior:
// * Describes __meta, the metadata Raft group, as KRaft's
//   __cluster_metadata partition 0 (the name "__meta" is accepted too);
//   any other topic or partition is UNKNOWN_TOPIC_OR_PARTITION.
// * Any node answers. On the __meta leader the partition carries the
//   quorum; elsewhere it is NOT_LEADER_OR_FOLLOWER with LeaderID and
//   LeaderEpoch set, as a KRaft follower answers, so a tool can ask the
//   leader.
// * LeaderEpoch is the Raft term and HighWatermark the commit index.
//   CurrentVoters are the voters (both halves of a joint configuration),
//   Observers the learners (members joining). LogEndOffset is the
//   leader's match index of each; LastFetchTimestamp and
//   LastCaughtUpTimestamp are the answer's time for replicas the leader
//   heard from within the last election timeout, -1 otherwise.
// * A backend without a Raft quorum answers UNSUPPORTED_VERSION.
//
// Version notes:
// * v1: LastFetchTimestamp, LastCaughtUpTimestamp
// * v2: ErrorMessage, ReplicaDirectoryID (zero: no directories), Nodes
//   with each replica's listeners from the member records ("RAFT": the
//   peer transport, "PLAINTEXT": Kafka)

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

func init() { regKey(55, 0, 2, handleDescribeQuorum) }

func handleDescribeQuorum(_ context.Context, s *Server, _ *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.DescribeQuorumRequest)
	resp := req.ResponseKind().(*kmsg.DescribeQuorumResponse)
	qb, ok := s.backend.(QuorumBackend)
	if !ok {
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		resp.ErrorMessage = kmsg.StringPtr("this broker has no Raft metadata quorum")
		return resp, nil
	}
	q, qerr := qb.MetaQuorum()
	now := time.Now().UnixMilli()
	replica := func(r cluster.QuorumReplica) kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
		rs := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		rs.ReplicaID, rs.LogEndOffset = int32(r.ID), r.Match
		if r.Active {
			rs.LastFetchTimestamp, rs.LastCaughtUpTimestamp = now, now
		}
		return rs
	}
	var ids []uint64
	for _, rt := range req.Topics {
		t := kmsg.NewDescribeQuorumResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewDescribeQuorumResponseTopicPartition()
			p.Partition = rp.Partition
			p.LeaderID, p.LeaderEpoch = -1, -1
			switch {
			case (rt.Topic != kraftMetadataTopic && rt.Topic != "__meta") || rp.Partition != 0:
				p.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case qerr != nil:
				p.ErrorCode, _ = voterErrCode(qerr)
				p.ErrorMessage = kmsg.StringPtr(qerr.Error())
			default:
				if q.Leader != 0 {
					p.LeaderID = int32(q.Leader)
				}
				p.LeaderEpoch, p.HighWatermark = int32(q.Term), int64(q.Commit)
				if !q.IsLeader {
					p.ErrorCode = kerr.NotLeaderForPartition.Code
					p.ErrorMessage = kmsg.StringPtr("ask the __meta leader")
					break
				}
				for _, r := range q.Voters {
					p.CurrentVoters = append(p.CurrentVoters, replica(r))
					ids = append(ids, r.ID)
				}
				for _, r := range q.Learners {
					p.Observers = append(p.Observers, replica(r))
					ids = append(ids, r.ID)
				}
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	if req.Version >= 2 {
		for _, id := range ids {
			mb, ok := qb.Member(id)
			if !ok {
				continue
			}
			n := kmsg.NewDescribeQuorumResponseNode()
			n.NodeID = int32(id)
			for _, l := range []struct{ name, addr string }{{"RAFT", mb.RaftAddr}, {"PLAINTEXT", mb.KafkaAddr}} {
				if h, port, ok := splitHostPort(l.addr); ok {
					ln := kmsg.NewDescribeQuorumResponseNodeListener()
					ln.Name, ln.Host, ln.Port = l.name, h, port
					n.Listeners = append(n.Listeners, ln)
				}
			}
			resp.Nodes = append(resp.Nodes, n)
		}
	}
	return resp, nil
}
