package nemesis

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("n%d", i+1)
	}
	return out
}

func TestGrudgeShapes(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		leader string
		want   Grudge
	}{
		{"one", 3, "", Grudge{"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}}},
		{"one", 5, "", Grudge{"n1": {"n2", "n3", "n4", "n5"}, "n2": {"n1"}, "n3": {"n1"}, "n4": {"n1"}, "n5": {"n1"}}},
		{"majority", 3, "", Grudge{"n1": {"n3"}, "n2": {"n3"}, "n3": {"n1", "n2"}}},
		{"majority", 5, "", Grudge{"n1": {"n4", "n5"}, "n2": {"n4", "n5"}, "n3": {"n4", "n5"}, "n4": {"n1", "n2", "n3"}, "n5": {"n1", "n2", "n3"}}},
		{"majority", 7, "", Grudge{
			"n1": {"n5", "n6", "n7"}, "n2": {"n5", "n6", "n7"}, "n3": {"n5", "n6", "n7"}, "n4": {"n5", "n6", "n7"},
			"n5": {"n1", "n2", "n3", "n4"}, "n6": {"n1", "n2", "n3", "n4"}, "n7": {"n1", "n2", "n3", "n4"}}},
		{"majorities-ring", 5, "", Grudge{
			"n1": {"n3", "n4"}, "n2": {"n4", "n5"}, "n3": {"n1", "n5"}, "n4": {"n1", "n2"}, "n5": {"n2", "n3"}}},
		{"majorities-ring", 7, "", Grudge{
			"n1": {"n4", "n5"}, "n2": {"n5", "n6"}, "n3": {"n6", "n7"}, "n4": {"n1", "n7"},
			"n5": {"n1", "n2"}, "n6": {"n2", "n3"}, "n7": {"n3", "n4"}}},
		{"minority-third", 3, "", Grudge{"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}}},
		{"minority-third", 5, "", Grudge{"n1": {"n2", "n3", "n4", "n5"}, "n2": {"n1"}, "n3": {"n1"}, "n4": {"n1"}, "n5": {"n1"}}},
		{"minority-third", 7, "", Grudge{
			"n1": {"n3", "n4", "n5", "n6", "n7"}, "n2": {"n3", "n4", "n5", "n6", "n7"},
			"n3": {"n1", "n2"}, "n4": {"n1", "n2"}, "n5": {"n1", "n2"}, "n6": {"n1", "n2"}, "n7": {"n1", "n2"}}},
		{"bridge", 3, "", Grudge{"n1": {"n3"}, "n3": {"n1"}}},
		{"bridge", 5, "", Grudge{"n1": {"n4", "n5"}, "n2": {"n4", "n5"}, "n4": {"n1", "n2"}, "n5": {"n1", "n2"}}},
		{"bridge", 7, "", Grudge{
			"n1": {"n5", "n6", "n7"}, "n2": {"n5", "n6", "n7"}, "n3": {"n5", "n6", "n7"},
			"n5": {"n1", "n2", "n3"}, "n6": {"n1", "n2", "n3"}, "n7": {"n1", "n2", "n3"}}},
		{"isolate-leader", 3, "n2", Grudge{"n2": {"n1", "n3"}, "n1": {"n2"}, "n3": {"n2"}}},
		{"isolate-leader", 5, "n4", Grudge{"n4": {"n1", "n2", "n3", "n5"}, "n1": {"n4"}, "n2": {"n4"}, "n3": {"n4"}, "n5": {"n4"}}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.name, tt.n), func(t *testing.T) {
			got, err := MakeGrudge(tt.name, names(tt.n), tt.leader)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

// TestGrudgeProperties checks each shape's defining property on 3..7 nodes
// rather than its exact layout.
func TestGrudgeProperties(t *testing.T) {
	// sees returns who a can talk to (itself included) under g.
	sees := func(g Grudge, nodes []string, a string) []string {
		var out []string
		for _, b := range nodes {
			if a == b || !g.Cut(a, b) {
				out = append(out, b)
			}
		}
		return out
	}
	for n := 2; n <= 7; n++ {
		nodes := names(n)
		for _, name := range GrudgeNames {
			if !GrudgeApplies(name, n) {
				t.Run(fmt.Sprintf("%s/%d/refused", name, n), func(t *testing.T) {
					if _, err := MakeGrudge(name, nodes, nodes[0]); err == nil {
						t.Errorf("MakeGrudge(%s, %d nodes) succeeded, want an error", name, n)
					}
				})
				continue
			}
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				g, err := MakeGrudge(name, nodes, nodes[1])
				if err != nil {
					t.Fatal(err)
				}
				// Symmetric: the TCP effect equals the declared drops.
				for a, drops := range g {
					if slices.Contains(drops, a) {
						t.Errorf("%s drops itself", a)
					}
					for _, b := range drops {
						if !slices.Contains(g[b], a) {
							t.Errorf("%s drops %s but not the reverse", a, b)
						}
					}
				}
				if len(g.Nodes()) == 0 {
					t.Fatal("grudge cuts nothing")
				}
				switch name {
				case GrudgeMajoritiesRing:
					seen := map[string]bool{}
					for _, a := range nodes {
						s := sees(g, nodes, a)
						if len(s) < majority(n) {
							t.Errorf("%s sees %v, not a majority of %d", a, s, n)
						}
						key := fmt.Sprint(s)
						if seen[key] {
							t.Errorf("two nodes see the same majority %v", s)
						}
						seen[key] = true
					}
				case GrudgeBridge:
					bridges := 0
					for _, a := range nodes {
						if len(sees(g, nodes, a)) == n {
							bridges++
						}
					}
					if bridges != 1 {
						t.Errorf("%d nodes see everyone, want exactly one bridge", bridges)
					}
				case GrudgeMajority:
					big := 0
					for _, a := range nodes {
						big = max(big, len(sees(g, nodes, a)))
					}
					if big != majority(n) {
						t.Errorf("largest side has %d nodes, want %d", big, majority(n))
					}
				case GrudgeIsolateLeader:
					if got := sees(g, nodes, nodes[1]); len(got) != 1 {
						t.Errorf("leader %s sees %v, want only itself", nodes[1], got)
					}
				}
			})
		}
	}
}
