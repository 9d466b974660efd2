package nemesis

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

func TestVotedGroup(t *testing.T) {
	cases := []struct {
		name   string
		doc    voterDoc
		group  string
		wantOK bool
	}{
		{"voted for the leader, no leader known", voterDoc{NodeID: 2, Groups: []voterGroup{{Name: "t0/0", Role: "StateFollower", Term: 5, Vote: 1}}}, "t0/0", true},
		{"voted for a candidate that has not won", voterDoc{NodeID: 2, Groups: []voterGroup{{Name: "t0/2", Role: "StateFollower", Term: 5, Vote: 1}}}, "", false},
		{"voted for a leader of another term", voterDoc{NodeID: 2, Groups: []voterGroup{{Name: "t0/0", Role: "StateFollower", Term: 6, Vote: 1}}}, "", false},
		{"leader known", voterDoc{NodeID: 2, Groups: []voterGroup{{Name: "t0/0", Role: "StateFollower", Term: 5, Vote: 1, Leader: 1}}}, "", false},
		{"voted for itself", voterDoc{NodeID: 2, Groups: []voterGroup{{Name: "t0/0", Role: "StateCandidate", Term: 5, Vote: 2}}}, "", false},
		{"no vote", voterDoc{NodeID: 2, Groups: []voterGroup{{Name: "t0/0", Role: "StateFollower", Term: 5}}}, "", false},
		{"pre-candidate", voterDoc{NodeID: 2, Groups: []voterGroup{{Name: "t0/0", Role: "StatePreCandidate", Term: 5, Vote: 1}}}, "", false},
		{"first by name", voterDoc{NodeID: 3, Groups: []voterGroup{
			{Name: "t1/0", Role: "StateFollower", Term: 2, Vote: 1},
			{Name: "__meta", Role: "StateFollower", Term: 4, Vote: 1, Leader: 1},
			{Name: "t0/1", Role: "StateFollower", Term: 3, Vote: 1},
		}}, "t0/1", true},
	}
	// Node 1 leads t0/0 in term 5, t1/0 in term 2 and t0/1 in term 3.
	leaders := map[leaderKey]bool{{"t0/0", 5, 1}: true, {"t1/0", 2, 1}: true, {"t0/1", 3, 1}: true}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, _, _, ok := votedGroup(c.doc, leaders)
			if ok != c.wantOK || g != c.group {
				t.Fatalf("votedGroup = %q, %v; want %q, %v", g, ok, c.group, c.wantOK)
			}
		})
	}
}

// voterFake answers /status with a fixed document per node.
type voterFake struct {
	*fakeCluster
	docs map[string]voterDoc
}

func (f *voterFake) Admin(ctx context.Context, n, method, path string) (int, []byte, error) {
	if path != "/status" {
		return f.fakeCluster.Admin(ctx, n, method, path)
	}
	b, err := json.Marshal(f.docs[n])
	return 200, b, err
}

func TestFindVoter(t *testing.T) {
	follower := func(id, vote, leader uint64) voterDoc {
		return voterDoc{NodeID: id, Groups: []voterGroup{{Name: "t0/0", Role: "StateFollower", Term: 7, Vote: vote, Leader: leader}}}
	}
	leader := voterDoc{NodeID: 3, Groups: []voterGroup{{Name: "t0/0", Role: "StateLeader", Term: 7, Vote: 3, Leader: 3}}}
	candidate := voterDoc{NodeID: 3, Groups: []voterGroup{{Name: "t0/0", Role: "StateCandidate", Term: 7, Vote: 3}}}
	cases := []struct {
		name     string
		docs     map[string]voterDoc
		wantNode string
		wantOK   bool
	}{
		{"one voter of the leader", map[string]voterDoc{"n1": follower(1, 0, 3), "n2": follower(2, 3, 0), "n3": leader}, "n2", true},
		{"the candidate has not won", map[string]voterDoc{"n1": follower(1, 0, 0), "n2": follower(2, 3, 0), "n3": candidate}, "", false},
		{"everyone knows the leader", map[string]voterDoc{"n1": follower(1, 3, 3), "n2": follower(2, 3, 3), "n3": leader}, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &voterFake{fakeCluster: newFake(3, Running), docs: c.docs}
			node, group, term, vote, ok := FindVoter(t.Context(), f, []string{"n1", "n2", "n3"}, 60*time.Millisecond, 20*time.Millisecond)
			if ok != c.wantOK || node != c.wantNode {
				t.Fatalf("FindVoter = %q, %v; want %q, %v", node, ok, c.wantNode, c.wantOK)
			}
			if ok && (group != "t0/0" || term != 7 || vote != 3) {
				t.Fatalf("FindVoter group %q term %d vote %d; want t0/0, 7, 3", group, term, vote)
			}
		})
	}
}
