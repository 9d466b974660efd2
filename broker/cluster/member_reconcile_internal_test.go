package cluster

import (
	"testing"

	"go.etcd.io/raft/v3/confchange"
	pb "go.etcd.io/raft/v3/raftpb"
)

// planReconfig decides one step for one group from pure data; each case
// names the rule of member_reconcile.go's file comment it exercises.
func TestPlanReconfig(t *testing.T) {
	conf := func(voters []uint64, learners ...uint64) *pb.ConfState { return confOf(voters, learners) }
	mb := func(id uint64, st MemberState) Member { return Member{ID: id, State: st} }
	replacing := func(id, r uint64) Member { return Member{ID: id, State: MemberJoining, Replaces: r} }
	up := func(ids ...uint64) map[uint64]peerProgress {
		out := map[uint64]peerProgress{}
		for _, id := range ids {
			out[id] = peerProgress{match: 100, replicate: true, active: true}
		}
		return out
	}
	lagging := func(p map[uint64]peerProgress, id uint64, pr peerProgress) map[uint64]peerProgress {
		p[id] = pr
		return p
	}
	voters3 := []Member{mb(1, MemberVoter), mb(2, MemberVoter), mb(3, MemberVoter)}
	tests := []struct {
		name string
		in   planInput
		kind actionKind
		// change is confchange.Describe of the proposed changes, to is the
		// transfer target, state the recorded member state.
		change string
		joint  bool
		to     uint64
		state  MemberState
	}{
		{name: "settled: nothing", in: planInput{self: 1, cs: conf([]uint64{1, 2, 3}), members: voters3, progress: up(1, 2, 3), lastIndex: 100}},
		{name: "joining member added as a learner", kind: actPropose, change: "ConfChangeAddLearnerNode(4)",
			in: planInput{self: 1, cs: conf([]uint64{1, 2, 3}), members: append(voters3, mb(4, MemberJoining)), progress: up(1, 2, 3), lastIndex: 100}},
		{name: "caught-up learner promoted with a joint change", kind: actPropose, change: "ConfChangeAddNode(4)", joint: true,
			in: planInput{self: 1, cs: conf([]uint64{1, 2, 3}, 4), members: append(voters3, mb(4, MemberJoining)), progress: up(1, 2, 3, 4), lastIndex: 100}},
		{name: "learner still in snapshot is not promoted",
			in: planInput{self: 1, cs: conf([]uint64{1, 2, 3}, 4), members: append(voters3, mb(4, MemberJoining)), progress: lagging(up(1, 2, 3), 4, peerProgress{match: 0, active: true}), lastIndex: 100}},
		{name: "learner too far behind is not promoted",
			in: planInput{self: 1, cs: conf([]uint64{1, 2, 3}, 4), members: append(voters3, mb(4, MemberJoining)), progress: lagging(up(1, 2, 3), 4, peerProgress{match: 1000 - catchUpMaxLag - 1, replicate: true, active: true}), lastIndex: 1000}},
		{name: "promote early (seeded bug) ignores progress", kind: actPropose, change: "ConfChangeAddNode(4)", joint: true,
			in: planInput{self: 1, cs: conf([]uint64{1, 2, 3}, 4), members: append(voters3, mb(4, MemberJoining)), progress: up(1, 2, 3), lastIndex: 100, promoteEarly: true}},
		{name: "replace: one joint change swaps the voters", kind: actPropose, change: "ConfChangeAddNode(4) ConfChangeRemoveNode(3)", joint: true,
			in: planInput{self: 1, cs: conf([]uint64{1, 2, 3}, 4), members: append(voters3, replacing(4, 3)), progress: up(1, 2, 3, 4), lastIndex: 100}},
		{name: "replace of this leader: transfer first", kind: actTransfer, to: 2,
			in: planInput{self: 3, cs: conf([]uint64{1, 2, 3}, 4), members: append(voters3, replacing(4, 3)), progress: lagging(up(1, 2, 3, 4), 1, peerProgress{match: 90, replicate: true, active: true}), lastIndex: 100}},
		{name: "replaced voter is never re-added",
			in: planInput{self: 1, cs: conf([]uint64{1, 2, 4}), members: append(voters3, replacing(4, 3)), progress: up(1, 2, 4), lastIndex: 100}},
		{name: "leaving voter removed with a joint change", kind: actPropose, change: "ConfChangeRemoveNode(3)", joint: true,
			in: planInput{self: 1, cs: conf([]uint64{1, 2, 3}), members: []Member{mb(1, MemberVoter), mb(2, MemberVoter), mb(3, MemberLeaving)}, progress: up(1, 2, 3), lastIndex: 100}},
		{name: "leaving leader transfers first", kind: actTransfer, to: 2,
			in: planInput{self: 3, cs: conf([]uint64{1, 2, 3}), members: []Member{mb(1, MemberVoter), mb(2, MemberVoter), mb(3, MemberLeaving)}, progress: lagging(up(1, 2, 3), 1, peerProgress{match: 50, active: true}), lastIndex: 100}},
		{name: "removal that would lose quorum waits",
			in: planInput{self: 1, cs: conf([]uint64{1, 2, 3}), members: []Member{mb(1, MemberVoter), mb(2, MemberVoter), mb(3, MemberLeaving)}, progress: lagging(up(1, 3), 2, peerProgress{}), lastIndex: 100}},
		{name: "aborted join: learner removed simply", kind: actPropose, change: "ConfChangeRemoveNode(4)",
			in: planInput{self: 1, cs: conf([]uint64{1, 2, 3}, 4), members: append(voters3, mb(4, MemberLeaving)), progress: up(1, 2, 3), lastIndex: 100}},
		{name: "joint configuration: raft leaves it",
			in: planInput{self: 1, cs: &pb.ConfState{Voters: []uint64{1, 2, 3, 4}, VotersOutgoing: []uint64{1, 2, 3}}, members: append(voters3, mb(4, MemberJoining)), progress: up(1, 2, 3, 4), lastIndex: 100}},
		{name: "__meta promotes last: a partition lacks the voter",
			in: planInput{self: 1, meta: true, cs: conf([]uint64{1, 2, 3}, 4), members: append(voters3, mb(4, MemberJoining)), progress: up(1, 2, 3, 4), lastIndex: 100,
				partitions: []*pb.ConfState{conf([]uint64{1, 2, 3, 4}), conf([]uint64{1, 2, 3}, 4)}}},
		{name: "__meta promotes once every partition has the voter", kind: actPropose, change: "ConfChangeAddNode(4)", joint: true,
			in: planInput{self: 1, meta: true, cs: conf([]uint64{1, 2, 3}, 4), members: append(voters3, mb(4, MemberJoining)), progress: up(1, 2, 3, 4), lastIndex: 100,
				partitions: []*pb.ConfState{conf([]uint64{1, 2, 3, 4}), conf([]uint64{1, 2, 3, 4})}}},
		{name: "__meta waits for a partition group missing here",
			in: planInput{self: 1, meta: true, cs: conf([]uint64{1, 2, 3}, 4), members: append(voters3, mb(4, MemberJoining)), progress: up(1, 2, 3, 4), lastIndex: 100,
				partitions: []*pb.ConfState{conf([]uint64{1, 2, 3, 4}), nil}}},
		{name: "__meta records the voter when done", kind: actMemberState, state: MemberVoter,
			in: planInput{self: 1, meta: true, cs: conf([]uint64{1, 2, 3, 4}), members: append(voters3, mb(4, MemberJoining)), progress: up(1, 2, 3, 4), lastIndex: 100,
				partitions: []*pb.ConfState{conf([]uint64{1, 2, 3, 4})}}},
		{name: "__meta removes last: a partition still has the member",
			in: planInput{self: 1, meta: true, cs: conf([]uint64{1, 2, 3}), members: []Member{mb(1, MemberVoter), mb(2, MemberVoter), mb(3, MemberLeaving)}, progress: up(1, 2, 3), lastIndex: 100,
				partitions: []*pb.ConfState{conf([]uint64{1, 2, 3})}}},
		{name: "__meta records the removal when done", kind: actMemberState, state: MemberRemoved,
			in: planInput{self: 1, meta: true, cs: conf([]uint64{1, 2}), members: []Member{mb(1, MemberVoter), mb(2, MemberVoter), mb(3, MemberLeaving)}, progress: up(1, 2), lastIndex: 100,
				partitions: []*pb.ConfState{conf([]uint64{1, 2})}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			act := planReconfig(tt.in)
			if act.kind != tt.kind {
				t.Fatalf("action %v (%s), want %v", act.kind, act.why, tt.kind)
			}
			switch act.kind {
			case actPropose:
				if got := confchange.Describe(act.cc.GetChanges()...); got != tt.change {
					t.Errorf("change %q, want %q", got, tt.change)
				}
				if _, joint := act.cc.EnterJoint(); joint != tt.joint {
					t.Errorf("joint %v, want %v", joint, tt.joint)
				}
			case actTransfer:
				if act.to != tt.to {
					t.Errorf("transfer to %d, want %d", act.to, tt.to)
				}
			case actMemberState:
				if act.member.State != tt.state {
					t.Errorf("state %s, want %s", act.member.State, tt.state)
				}
			}
		})
	}
}

// nextConf follows raft's own rules, and the seeded direct mode jumps from
// C_old to C_new where raft would enter a joint configuration.
func TestNextConf(t *testing.T) {
	old := confOf([]uint64{1, 2, 3}, []uint64{4})
	swap := jointCC(single(pb.ConfChangeType_ConfChangeAddNode, 4), single(pb.ConfChangeType_ConfChangeRemoveNode, 3))
	tests := []struct {
		name   string
		cs     *pb.ConfState
		cc     *pb.ConfChangeV2
		direct bool
		want   string
		steps  int
		err    bool
	}{
		{"joint swap", old, swap, false, "voters=[1 2 4]&&[1 2 3]", 1, false},
		{"direct swap (seeded bug)", old, swap, true, "voters=[1 2 4]", 2, false},
		{"leave joint", &pb.ConfState{Voters: []uint64{1, 2, 4}, VotersOutgoing: []uint64{1, 2, 3}, AutoLeave: new(true)}, &pb.ConfChangeV2{}, false, "voters=[1 2 4]", 1, false},
		{"leave when not joint is refused", old, &pb.ConfChangeV2{}, false, "", 0, true},
		{"removing the last voter is refused", confOf([]uint64{1}, nil), simpleCC(single(pb.ConfChangeType_ConfChangeRemoveNode, 1)), false, "", 0, true},
		{"several changes without a transition enter a joint configuration", old, simpleCC(single(pb.ConfChangeType_ConfChangeAddNode, 4), single(pb.ConfChangeType_ConfChangeRemoveNode, 3)), false, "voters=[1 2 4]&&[1 2 3]", 1, false},
		{"add learner", confOf([]uint64{1, 2, 3}, nil), simpleCC(single(pb.ConfChangeType_ConfChangeAddLearnerNode, 4)), false, "voters=[1 2 3] learners=[4]", 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, steps, err := nextConf(tt.cs, tt.cc, tt.direct)
			if (err != nil) != tt.err {
				t.Fatalf("err %v, want error %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if got := describeConf(cs); got != tt.want {
				t.Errorf("conf %s, want %s", got, tt.want)
			}
			if len(steps) != tt.steps {
				t.Errorf("%d steps, want %d", len(steps), tt.steps)
			}
		})
	}
}
