package nemesis

import (
	"math/rand/v2"
	"slices"
)

// Target specs for kill and pause: symbolic, resolved against the cluster
// when the fault runs (Jepsen's db-nodes), and recorded with the op.
const (
	TargetOne      = "one"
	TargetLeader   = "leader"
	TargetMinority = "minority"
	TargetMajority = "majority"
	TargetAll      = "all"
)

// TargetNames lists every target spec.
var TargetNames = []string{TargetOne, TargetLeader, TargetMinority, TargetMajority, TargetAll, TargetVoter}

// DefaultTargets are the specs drawn when none are given: every spec but
// voter, which waits for an election to happen (see TargetVoter) and is
// asked for by name.
var DefaultTargets = []string{TargetOne, TargetLeader, TargetMinority, TargetMajority, TargetAll}

// SelectTargets resolves a target spec to nodes. n is the cluster size (a
// majority is of the cluster, not of what is available); available are the
// nodes the fault may touch (not already killed or paused by another
// family), in any order; leader is the current leader or "" when unknown.
// The result is sorted. When spec is leader and the leader is unknown or
// unavailable, it falls back to one random node and says so in fellBack.
func SelectTargets(spec string, n int, available []string, leader string, rng *rand.Rand) (nodes []string, fellBack bool) {
	if len(available) == 0 {
		return nil, false
	}
	pool := slices.Clone(available)
	slices.Sort(pool)
	rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	var k int
	switch spec {
	case TargetLeader:
		if leader != "" && slices.Contains(pool, leader) {
			return []string{leader}, false
		}
		fellBack = true
		k = 1
	case TargetOne:
		k = 1
	case TargetMinority:
		// A random non-empty minority, like Jepsen's :minority.
		k = 1 + rng.IntN(max(1, (n-1)/2))
	case TargetMajority:
		k = majority(n)
	case TargetAll:
		k = n
	default:
		k = 1
	}
	k = min(k, len(pool))
	out := pool[:k]
	slices.Sort(out)
	return out, fellBack
}
