package nemesis

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSelectTargets(t *testing.T) {
	tests := []struct {
		spec         string
		n            int
		available    []string
		leader       string
		minK, maxK   int
		wantFellBack bool
	}{
		{TargetOne, 3, names(3), "", 1, 1, false},
		{TargetMinority, 3, names(3), "", 1, 1, false},
		{TargetMinority, 5, names(5), "", 1, 2, false},
		{TargetMinority, 7, names(7), "", 1, 3, false},
		{TargetMajority, 3, names(3), "", 2, 2, false},
		{TargetMajority, 5, names(5), "", 3, 3, false},
		{TargetMajority, 5, names(2), "", 2, 2, false}, // capped by what is available
		{TargetAll, 5, names(5), "", 5, 5, false},
		{TargetLeader, 5, names(5), "n4", 1, 1, false},
		{TargetLeader, 5, names(3), "n4", 1, 1, true}, // leader not available
		{TargetLeader, 5, names(5), "", 1, 1, true},
		{TargetAll, 3, nil, "", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			for seed := uint64(0); seed < 20; seed++ {
				rng := rand.New(rand.NewPCG(seed, 1))
				got, fell := SelectTargets(tt.spec, tt.n, tt.available, tt.leader, rng)
				if len(got) < tt.minK || len(got) > tt.maxK {
					t.Fatalf("seed %d: %v has %d nodes, want %d..%d", seed, got, len(got), tt.minK, tt.maxK)
				}
				if fell != tt.wantFellBack {
					t.Errorf("seed %d: fellBack = %v, want %v", seed, fell, tt.wantFellBack)
				}
				for _, n := range got {
					if !slices.Contains(tt.available, n) {
						t.Errorf("seed %d: target %s is not available", seed, n)
					}
				}
				if tt.spec == TargetLeader && !tt.wantFellBack && got[0] != tt.leader {
					t.Errorf("seed %d: leader target %v, want %s", seed, got, tt.leader)
				}
				if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
					t.Errorf("seed %d: %v not sorted and unique", seed, got)
				}
			}
		})
	}
}
