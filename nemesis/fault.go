package nemesis

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// fault is one fault family, in the manner of etcd's robustness failpoints
// and Jepsen's nemesis packages: it starts (injects) and stops (heals)
// itself, recording an invoke/info pair for each and verifying the effect;
// it owns the record of what it has in effect; it re-applies that to a node
// that comes back; and it brings its own part of the final heal. Targets
// are symbolic in Options and resolved when the action runs. The Scheduler
// serializes every call (it holds its lock), so a fault needs no lock of
// its own.
//
// A fault may also implement holder (it takes nodes out of service, so no
// other family may target them), cutter (it cuts links, so proofs must
// pick uncut pairs), deferredProver (it may have to leave a proof until
// nodes can reach each other again) and preflighter (it can prove before
// the run that it will work here).
type fault interface {
	// family is the fault's row in the table of nemesis functions; its
	// Start and Stop are the f of the actions start and stop record.
	family() history.NemesisFamily
	// active reports whether the fault is in effect.
	active() bool
	// start injects the fault. It records a lone info with "skipped" and
	// returns nil when no target is available (the fault stays inactive).
	start(ctx context.Context, s *Scheduler, rec Recorder) error
	// stop heals what start did and verifies the heal.
	stop(ctx context.Context, s *Scheduler, rec Recorder) error
	// reapply brings node up to the fault in effect after the node came
	// back. fresh says its container is new (a restart: the network
	// namespace and the broker's runtime settings are gone); otherwise the
	// node was resumed (the namespace survived, but a frozen broker missed
	// every change). It returns what it re-applied and verified, nil when
	// there was nothing to do.
	reapply(ctx context.Context, s *Scheduler, node string, fresh bool) (Value, error)
	// heal is the fault's part of the final heal: it undoes the fault
	// wherever it may be in effect, whoever caused it, forgets it, and
	// verifies and records the undoing. A fault that needs a kernel
	// feature or a broker API touches it only when its family is
	// configured, so a run without it never needs it.
	heal(ctx context.Context, s *Scheduler, rec Recorder) error
}

// holder is a fault that takes nodes out of service (killed, frozen):
// other families do not target them.
type holder interface {
	holds(node string) bool
}

// cutter is a fault that cuts links between nodes: a probe over a cut link
// proves nothing, so proofs pick uncut pairs.
type cutter interface {
	cuts(a, b string) bool
}

// deferredProver is a fault that may re-apply itself to a node no probe can
// reach at the time (a partition cuts it off); once a restart completes or
// a partition heals, it proves what it had to leave unproven, adding what
// it measured to v.
type deferredProver interface {
	proveDeferred(ctx context.Context, s *Scheduler, v Value) error
}

// preflighter is a fault that can prove, once the cluster is up, that it
// will work here; it adds what it checked to v.
type preflighter interface {
	preflight(ctx context.Context, s *Scheduler, running []string, v Value) error
}

// newFaults makes one fault of each scheduled family, in the fixed order
// of HealAll and of re-applying to a node that came back: nodes first
// (frozen ones thawed, then down ones started) so that the network heals
// that follow are verified between every pair of nodes, then the network,
// then broker settings, which need every broker up to be told, then the
// membership, whose last change can only end once every node is back. A new family
// adds its constructor here, next to its row in history.NemesisFamilies.
var newFaults = []func() fault{
	newPauseFault, newPowerLossFault, newCrashFault, newCorruptFault, newKillFault,
	newPartitionFault, newLossFault, newDelayFault, newClientFault, newMemberFault,
}

// held is the record of a fault that takes nodes out of service (kill,
// pause): the nodes it took and has not given back.
type held map[string]bool

// nodeFault is what every family that takes nodes out of service shares:
// its row and the nodes it holds. Embedded, it gives the fault family,
// active and holds (so the fault is a holder).
type nodeFault struct {
	fam history.NemesisFamily
	held
}

func (nf *nodeFault) family() history.NemesisFamily { return nf.fam }

func (nf *nodeFault) active() bool { return len(nf.held) > 0 }

func (nf *nodeFault) holds(node string) bool { return nf.held[node] }

// take is the start of such a family: it draws targets among the available
// nodes, records the family's start, marks each node held before take acts
// on it (so that the final heal brings back a node even when take
// half-worked), and waits until the engine reports a state reached accepts
// for every node. verified is the start of what the info records ("state"
// is added); prove, if set, then proves more.
func (nf *nodeFault) take(ctx context.Context, s *Scheduler, rec Recorder, take func(context.Context, string) error,
	reached func(NodeState) bool, verified Value, prove func(ctx context.Context, nodes []string) error) error {
	f := nf.fam.Start
	nodes, v, err := s.resolveTargets(ctx)
	if err != nil {
		return err
	}
	if len(nodes) == 0 {
		skipped(rec, f, v, "no running node that is not already killed or paused")
		return nil
	}
	return action(ctx, rec, f, v, func(ctx context.Context) (Value, error) {
		for _, node := range nodes {
			nf.held[node] = true
			if err := take(ctx, node); err != nil {
				return nil, fmt.Errorf("%s %s: %w", f, node, err)
			}
		}
		states := Value{}
		verified["state"] = states
		for _, node := range nodes {
			st, err := waitState(ctx, s.c, node, reached)
			states[node] = string(st)
			if err != nil {
				return verified, err
			}
		}
		if prove == nil {
			return verified, nil
		}
		return verified, prove(ctx, nodes)
	})
}

// stopAction records the family's stop of nodes as one action, marked
// "final" in the final heal, with do as its body.
func (nf *nodeFault) stopAction(ctx context.Context, rec Recorder, nodes []string, final bool, do func(context.Context) (Value, error)) error {
	v := Value{"nodes": nonNil(nodes)}
	if final {
		v["final"] = true
	}
	return action(ctx, rec, nf.fam.Stop, v, do)
}

// taken lists the held nodes, sorted.
func (nf *nodeFault) taken() []string { return slices.Sorted(maps.Keys(nf.held)) }

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
