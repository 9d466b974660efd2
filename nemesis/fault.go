package nemesis

import (
	"context"
	"math/rand/v2"
)

// Fault is one fault family, in the manner of etcd's robustness failpoints
// and Jepsen's nemesis packages: it can start (inject) and stop (heal)
// itself, recording an invoke/info pair for each and verifying the effect.
// Targets are symbolic in Options and resolved when the action runs. The
// methods are unexported because a fault reads and updates the Scheduler's
// record of what is active; the set of faults is closed.
type Fault interface {
	// Name is the family's name in --nemesis.
	Name() string
	// start injects the fault. It records nothing and returns nil when no
	// target is available (the family stays inactive).
	start(ctx context.Context, s *Scheduler, rec Recorder) error
	// stop heals what start did and verifies the heal.
	stop(ctx context.Context, s *Scheduler, rec Recorder) error
	// active reports whether the family's fault is in effect.
	active(s *Scheduler) bool
}

// The fault families. Each is a stateless value; the Scheduler keeps what is
// in effect.
var (
	KillFault      Fault = killFault{}
	PauseFault     Fault = pauseFault{}
	PartitionFault Fault = partitionFault{}
	LossFault      Fault = lossFault{}
	DelayFault     Fault = delayFault{}
)

// Faults lists every family in canonical order; the scheduler picks the
// ones named in Options.Faults from it.
var Faults = []Fault{KillFault, PauseFault, PartitionFault, LossFault, DelayFault}

func faultByName(name string) Fault {
	for _, f := range Faults {
		if f.Name() == name {
			return f
		}
	}
	return nil
}

// pickOne draws one element of xs.
func pickOne(rng *rand.Rand, xs []string) string {
	return xs[rng.IntN(len(xs))]
}

// skipped records a fault that could not start for want of a target, as a
// lone info event so the history shows the schedule's intent.
func skipped(rec Recorder, f string, v Value, why string) {
	info := cloneValue(v)
	info["skipped"] = why
	rec.Nemesis("info", f, info)
}
