package kafka

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// fakeQuorum adds a metadata quorum to the fake backend: voters 1 and 2
// (1 leads, this broker), learner 3, and membership changes that complete
// at once.
type fakeQuorum struct {
	*fakeBackend
	mu        sync.Mutex
	notLeader bool
	members   map[uint64]cluster.Member
}

func (q *fakeQuorum) MetaQuorum() (cluster.Quorum, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := cluster.Quorum{Leader: 1, Term: 7, Commit: 42, IsLeader: !q.notLeader}
	for id := uint64(1); id <= 9; id++ {
		mb, ok := q.members[id]
		switch {
		case !ok:
		case mb.State == cluster.MemberVoter:
			out.Voters = append(out.Voters, cluster.QuorumReplica{ID: id, Match: 42, Active: true})
		case mb.State == cluster.MemberJoining:
			out.Learners = append(out.Learners, cluster.QuorumReplica{ID: id, Match: 10})
		}
	}
	return out, nil
}

func (q *fakeQuorum) Member(id uint64) (cluster.Member, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	mb, ok := q.members[id]
	return mb, ok
}

func (q *fakeQuorum) AddMember(_ context.Context, spec cluster.MemberSpec) (cluster.Member, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.notLeader {
		return cluster.Member{}, &cluster.NotMetaLeaderError{Leader: 2}
	}
	if _, ok := q.members[spec.ID]; ok {
		return cluster.Member{}, fmt.Errorf("add: %w", cluster.ErrMemberExists)
	}
	mb := cluster.Member{ID: spec.ID, RaftAddr: spec.RaftAddr, KafkaAddr: spec.KafkaAddr, State: cluster.MemberVoter}
	q.members[spec.ID] = mb
	return mb, nil
}

func (q *fakeQuorum) RemoveMember(_ context.Context, id uint64) (cluster.Member, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	mb, ok := q.members[id]
	if !ok || mb.State == cluster.MemberRemoved {
		return cluster.Member{}, fmt.Errorf("remove: %w", cluster.ErrUnknownMember)
	}
	if mb.State == cluster.MemberJoining {
		return cluster.Member{}, fmt.Errorf("remove: %w", cluster.ErrChangeInProgress)
	}
	mb.State = cluster.MemberRemoved
	q.members[id] = mb
	return mb, nil
}

func (q *fakeQuorum) WaitMember(_ context.Context, id uint64, _ cluster.MemberState) (cluster.Member, error) {
	mb, _ := q.Member(id)
	return mb, nil
}

func startQuorumServer(t *testing.T) (*fakeQuorum, string) {
	q := &fakeQuorum{members: map[uint64]cluster.Member{
		1: {ID: 1, RaftAddr: "127.0.0.1:9192", KafkaAddr: "127.0.0.1:9092", State: cluster.MemberVoter},
		2: {ID: 2, RaftAddr: "127.0.0.1:9292", State: cluster.MemberVoter},
		3: {ID: 3, RaftAddr: "127.0.0.1:9392", State: cluster.MemberJoining},
	}}
	_, _, addr := startServer(t, func(c *Config) {
		q.fakeBackend = c.Backend.(*fakeBackend)
		c.Backend = q
	})
	return q, addr
}

func TestDescribeQuorum(t *testing.T) {
	q, addr := startQuorumServer(t)
	cl := newClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ask := func(topic string, part int32) kmsg.DescribeQuorumResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrDescribeQuorumRequest()
		rt := kmsg.NewDescribeQuorumRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewDescribeQuorumRequestTopicPartition()
		rp.Partition = part
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Version >= 2 && len(resp.Nodes) == 0 && resp.Topics[0].Partitions[0].ErrorCode == 0 {
			t.Error("v2 answer without Nodes")
		}
		return resp.Topics[0].Partitions[0]
	}
	p := ask("__cluster_metadata", 0)
	if p.ErrorCode != 0 || p.LeaderID != 1 || p.LeaderEpoch != 7 || p.HighWatermark != 42 || len(p.CurrentVoters) != 2 || len(p.Observers) != 1 || p.Observers[0].ReplicaID != 3 {
		t.Fatalf("quorum %+v", p)
	}
	if p.CurrentVoters[0].LastCaughtUpTimestamp <= 0 || p.Observers[0].LastCaughtUpTimestamp != -1 {
		t.Errorf("caught-up timestamps %+v", p)
	}
	if p := ask("__meta", 0); p.ErrorCode != 0 {
		t.Errorf("__meta alias: %v", kerr.ErrorForCode(p.ErrorCode))
	}
	if p := ask("other", 0); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("other topic: %v", kerr.ErrorForCode(p.ErrorCode))
	}
	q.mu.Lock()
	q.notLeader = true
	q.mu.Unlock()
	if p := ask("__cluster_metadata", 0); p.ErrorCode != kerr.NotLeaderForPartition.Code || p.LeaderID != 1 {
		t.Errorf("follower answer %+v", p)
	}
}

func TestAddRemoveRaftVoter(t *testing.T) {
	q, addr := startQuorumServer(t)
	cl := newClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	listener := func(name, host string, port uint16) kmsg.AddRaftVoterRequestListener {
		l := kmsg.NewAddRaftVoterRequestListener()
		l.Name, l.Host, l.Port = name, host, port
		return l
	}
	add := func(id int32, cid *string, ls ...kmsg.AddRaftVoterRequestListener) int16 {
		t.Helper()
		req := kmsg.NewPtrAddRaftVoterRequest()
		req.VoterID, req.ClusterID, req.Listeners = id, cid, ls
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.ErrorCode
	}
	remove := func(id int32) int16 {
		t.Helper()
		req := kmsg.NewPtrRemoveRaftVoterRequest()
		req.VoterID = id
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.ErrorCode
	}
	wrong := "another-cluster"
	tests := []struct {
		name string
		do   func() int16
		want int16
	}{
		{"add", func() int16 {
			return add(4, nil, listener("CONTROLLER", "h4", 9492), listener("PLAINTEXT", "h4", 9092))
		}, 0},
		{"add again", func() int16 { return add(4, nil, listener("CONTROLLER", "h4", 9492)) }, kerr.DuplicateVoter.Code},
		{"wrong cluster", func() int16 { return add(5, &wrong, listener("CONTROLLER", "h5", 9592)) }, kerr.InconsistentClusterID.Code},
		{"remove", func() int16 { return remove(2) }, 0},
		{"remove unknown", func() int16 { return remove(9) }, kerr.VoterNotFound.Code},
		{"remove during a join", func() int16 { return remove(3) }, kerr.RequestTimedOut.Code},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.do(); got != tt.want {
				t.Fatalf("error %v, want %v", kerr.ErrorForCode(got), kerr.ErrorForCode(tt.want))
			}
		})
	}
	if mb, _ := q.Member(4); mb.RaftAddr != "h4:9492" || mb.KafkaAddr != "h4:9092" {
		t.Errorf("listeners mapped to %+v", mb)
	}
	q.mu.Lock()
	q.notLeader = true
	q.mu.Unlock()
	if got := add(6, nil, listener("CONTROLLER", "h6", 9692)); got != kerr.NotLeaderForPartition.Code {
		t.Errorf("add on a follower: %v", kerr.ErrorForCode(got))
	}
}
