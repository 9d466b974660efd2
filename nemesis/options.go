package nemesis

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// Fault family names, as given to --nemesis: the rows of the table of
// nemesis functions (history.NemesisFamilies) that this package implements.
var (
	FamilyKill      = history.NemesisKill.Name
	FamilyPause     = history.NemesisPause.Name
	FamilyPartition = history.NemesisPartition.Name
	FamilyLoss      = history.NemesisLoss.Name
	FamilyDelay     = history.NemesisDelay.Name
	FamilyClient    = history.NemesisClient.Name
	FamilyPowerLoss = history.NemesisPowerLoss.Name
	FamilyCrash     = history.NemesisCrash.Name
	FamilyCorrupt   = history.NemesisCorrupt.Name
	FamilyMember    = history.NemesisMember.Name
	// FamilyStaggeredStart is handled by StaggeredStart, not the scheduler;
	// NewScheduler accepts and ignores it (and any other family that is
	// not scheduled) so the CLI list can be passed as is.
	FamilyStaggeredStart = history.NemesisStaggeredStart.Name
)

// Defaults applied by NewScheduler to zero Options fields.
const (
	DefaultInterval      = 10 * time.Second
	DefaultLossPercent   = 20
	DefaultDelay         = 100 * time.Millisecond
	DefaultProbeTimeout  = 500 * time.Millisecond
	DefaultLossProbes    = 200
	DefaultActionTimeout = 90 * time.Second
	DefaultLeaderGroup   = "__meta"
)

// Options configures a Scheduler. Zero fields take the defaults above, so
// Options{Faults: []string{FamilyKill}} is a complete configuration.
type Options struct {
	// Faults are the fault families to schedule: any subset of the
	// scheduled rows of history.NemesisFamilies (kill, pause, partition,
	// loss, delay); "staggered-start" is accepted and ignored.
	Faults []string
	// Interval is the mean gap between a family's successive actions (start
	// to stop, stop to next start). Each gap is uniform in
	// [Interval/2, 3*Interval/2], like Jepsen's stagger, so families drift
	// apart and overlap.
	Interval time.Duration
	// Targets are the node selections kill and pause draw from: one,
	// leader, minority, majority, all. Empty means all of them.
	Targets []string
	// Grudges are the partition shapes partition draws from: one, majority,
	// majorities-ring, minority-third, bridge, isolate-leader. Empty means
	// all of them.
	Grudges []string
	// ClientModes are the client fault modes client draws from (both,
	// responses, loss; see ClientModes). Empty means all of them.
	ClientModes []string
	// LeaderGroup is the Raft group whose leader the "leader" target and the
	// isolate-leader grudge aim at: "__meta", "topic/partition", or AnyGroup
	// ("*") for a group drawn at random each time.
	LeaderGroup string
	// LossPercent is the share of packets between broker nodes that loss
	// drops, 1..100. Above about 80 a lossy link can no longer be told
	// from a cut one by probes (a handshake then succeeds less than one
	// time in twenty-five), so the verification of a partition overlapping
	// such a loss may fail.
	LossPercent int
	// Delay is the latency delay adds to peer traffic (millisecond
	// resolution, because the broker's admin API takes milliseconds).
	Delay time.Duration
	// Mixes, if set, rotates which families may start: the run is cut into
	// MixPeriod slots and slot k allows only Mixes[k % len(Mixes)]. A family
	// still active when its slot ends is stopped at the boundary. Every
	// family named in a mix must be in Faults.
	Mixes [][]string
	// MixPeriod is the length of one rotation slot; default 4*Interval.
	MixPeriod time.Duration
	// ProbeTimeout bounds one probe connection. Keep it under the kernel's
	// initial SYN retransmission timeout (1 s) so that one probe is one
	// packet exchange.
	ProbeTimeout time.Duration
	// LossProbes is the number of probes used to measure a delivery rate.
	LossProbes int
	// ActionTimeout bounds one fault action including its verification.
	ActionTimeout time.Duration
	// CorruptKinds are the damages corrupt draws from (CorruptKinds);
	// empty means DefaultCorruptKinds.
	CorruptKinds []string
	// OnRefused, if set, is called (under the scheduler's lock, so it must
	// not call back into the Scheduler) when a node refuses its damaged
	// store: the hook for replacing it through a membership change.
	OnRefused func(Refusal) `json:"-"`
	// JoinDelay is how long member waits between recording a new member
	// and starting its node (DefaultJoinDelay).
	JoinDelay time.Duration
}

// scheduledFamilies lists the families the scheduler runs, in the table's
// canonical order.
func scheduledFamilies() []string {
	var out []string
	for _, fam := range history.NemesisFamilies {
		if fam.Scheduled {
			out = append(out, fam.Name)
		}
	}
	return out
}

// withDefaults validates o and fills zero fields. The returned Faults are in
// canonical order (kill, pause, partition, loss, delay) and deduplicated, so
// the schedule does not depend on how the flag was spelled.
func (o Options) withDefaults() (Options, error) {
	all := scheduledFamilies()
	var fams []string
	for _, f := range o.Faults {
		fam, known := history.NemesisFamilyNamed(f)
		switch {
		case f == "" || known && !fam.Scheduled && !fam.Foreign:
		case known && fam.Scheduled:
			if !slices.Contains(fams, f) {
				fams = append(fams, f)
			}
		default:
			return o, fmt.Errorf("unknown fault %q (want any of %v)", f, all)
		}
	}
	slices.SortFunc(fams, func(a, b string) int {
		return slices.Index(all, a) - slices.Index(all, b)
	})
	o.Faults = fams
	o.Interval = cmp.Or(o.Interval, DefaultInterval)
	if o.Interval < 0 {
		return o, fmt.Errorf("interval %v is negative", o.Interval)
	}
	for _, l := range []struct {
		what        string
		given       *[]string
		dflt, known []string
	}{
		{"target", &o.Targets, DefaultTargets, TargetNames},
		{"grudge", &o.Grudges, GrudgeNames, GrudgeNames},
		{"client fault mode", &o.ClientModes, ClientModes, ClientModes},
		{"corruption", &o.CorruptKinds, DefaultCorruptKinds, CorruptKinds},
	} {
		// An empty list means every choice (or the family's default set).
		if len(*l.given) == 0 {
			*l.given = l.dflt
		}
		for _, v := range *l.given {
			if !slices.Contains(l.known, v) {
				return o, fmt.Errorf("unknown %s %q (want any of %v)", l.what, v, l.known)
			}
		}
	}
	o.LeaderGroup = cmp.Or(o.LeaderGroup, DefaultLeaderGroup)
	o.LossPercent = cmp.Or(o.LossPercent, DefaultLossPercent)
	if o.LossPercent < 1 || o.LossPercent > 100 {
		return o, fmt.Errorf("loss percent %d is outside 1..100", o.LossPercent)
	}
	o.Delay = cmp.Or(o.Delay, DefaultDelay)
	if o.Delay < time.Millisecond {
		return o, fmt.Errorf("delay %v is below the admin API's 1 ms resolution", o.Delay)
	}
	for i, mix := range o.Mixes {
		for _, f := range mix {
			if !slices.Contains(o.Faults, f) {
				return o, fmt.Errorf("mix %d names %q, which is not among the faults %v", i, f, o.Faults)
			}
		}
	}
	o.MixPeriod = cmp.Or(o.MixPeriod, 4*o.Interval)
	o.ProbeTimeout = cmp.Or(o.ProbeTimeout, DefaultProbeTimeout)
	o.LossProbes = cmp.Or(o.LossProbes, DefaultLossProbes)
	o.ActionTimeout = cmp.Or(o.ActionTimeout, DefaultActionTimeout)
	o.JoinDelay = cmp.Or(o.JoinDelay, DefaultJoinDelay)
	return o, nil
}
