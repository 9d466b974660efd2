package nemesis

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"testing"
)

// statusCluster answers /status with a fixed body per node; a node without
// a body does not answer.
type statusCluster struct {
	*fakeCluster
	bodies map[string]string
}

func (s statusCluster) Admin(ctx context.Context, n, method, path string) (int, []byte, error) {
	if path != "/status" {
		return s.fakeCluster.Admin(ctx, n, method, path)
	}
	b, ok := s.bodies[n]
	if !ok {
		return 0, nil, errors.New("connection refused")
	}
	return 200, []byte(b), nil
}

func TestFindLeaders(t *testing.T) {
	tests := []struct {
		name   string
		bodies map[string]string
		want   map[string]string
	}{
		{
			name: "self claim wins over a stale opinion in the same term",
			bodies: map[string]string{
				"n1": `{"node_id":1,"groups":[{"name":"__meta","role":"StateFollower","term":4,"leader":3}]}`,
				"n2": `{"node_id":2,"groups":[{"name":"__meta","role":"StateLeader","term":4,"leader":2}]}`,
			},
			want: map[string]string{"__meta": "n2"},
		},
		{
			name: "higher term wins",
			bodies: map[string]string{
				"n1": `{"node_id":1,"groups":[{"name":"__meta","role":"StateLeader","term":3,"leader":1}]}`,
				"n2": `{"node_id":2,"groups":[{"name":"__meta","role":"StateFollower","term":5,"leader":3}]}`,
			},
			want: map[string]string{"__meta": "n3"},
		},
		{
			name: "per group, unknown leaders and non-members dropped",
			bodies: map[string]string{
				"n1": `{"node_id":1,"groups":[{"name":"__meta","role":"StateCandidate","term":7,"leader":0},{"name":"t/0","role":"StateFollower","term":2,"leader":9},{"name":"t/1","role":"StateFollower","term":2,"leader":3}]}`,
				"n3": `{"node_id":3,"groups":[{"name":"t/1","role":"StateLeader","term":2,"leader":3}]}`,
			},
			want: map[string]string{"t/1": "n3"},
		},
		{
			name:   "nobody answers",
			bodies: map[string]string{},
			want:   map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := statusCluster{newFake(3, Running), tt.bodies}
			got := FindLeaders(context.Background(), c, c.Nodes())
			if !maps.Equal(got, tt.want) {
				t.Errorf("FindLeaders = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestLeaderOfAnyGroup: with LeaderGroup "*" the leader target draws a
// group among those reported and kills that group's leader.
func TestLeaderOfAnyGroup(t *testing.T) {
	c := statusCluster{newFake(3, Running), map[string]string{
		"n1": `{"node_id":1,"groups":[{"name":"__meta","role":"StateLeader","term":2,"leader":1},{"name":"t/0","role":"StateFollower","term":2,"leader":3}]}`,
		"n3": `{"node_id":3,"groups":[{"name":"t/0","role":"StateLeader","term":2,"leader":3}]}`,
	}}
	seen := map[string]bool{}
	for seed := uint64(0); seed < 20; seed++ {
		s, err := NewScheduler(Options{Faults: []string{"kill"}, Targets: []string{"leader"}, LeaderGroup: AnyGroup}, c, rand.New(rand.NewPCG(seed, 0)), nil)
		if err != nil {
			t.Fatal(err)
		}
		nodes, v, err := s.resolveTargets(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		group := v["group"].(string)
		want := map[string]string{"__meta": "n1", "t/0": "n3"}[group]
		if len(nodes) != 1 || nodes[0] != want {
			t.Errorf("seed %d: group %s targets %v, want [%s]", seed, group, nodes, want)
		}
		seen[group] = true
	}
	if len(seen) != 2 {
		t.Errorf("groups drawn: %v, want both", seen)
	}
}
