package harness

import (
	"hash/fnv"
	"math/rand/v2"
)

// SubRand derives an independent random stream for one purpose (the
// nemesis schedule, client 3's choices, the staggered-start order) from the
// run's seed. Streams are keyed by name, so adding a consumer of randomness
// never shifts the choices of another: a seed replays the same schedule
// even after the workload changes.
func SubRand(seed int64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
}
