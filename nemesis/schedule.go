package nemesis

import (
	"math/rand/v2"
	"slices"
	"time"
)

// Event is one tick of the timetable: at At (from the start of Run) the
// family flips (starts its fault if inactive, stops it if active). An event
// with an empty Family is a rotation boundary: Mix becomes the set of
// families allowed to start. Mix is nil when no rotation is configured.
type Event struct {
	At     time.Duration
	Family string
	Mix    []string
}

// planner yields events in time order. Each family draws its gaps from its
// own generator, derived from the seed for every family in canonical order,
// so adding or removing a family does not move another family's ticks.
type planner struct {
	interval  time.Duration
	mixes     [][]string
	mixPeriod time.Duration
	fams      []string
	rngs      map[string]*rand.Rand
	nextAt    map[string]time.Duration
	mixIdx    int
	nextMix   time.Duration
}

func (s *Scheduler) planner() *planner {
	seed := rand.New(rand.NewPCG(s.timing[0], s.timing[1]))
	p := &planner{
		interval:  s.opts.Interval,
		mixes:     s.opts.Mixes,
		mixPeriod: s.opts.MixPeriod,
		fams:      s.opts.Faults,
		rngs:      map[string]*rand.Rand{},
		nextAt:    map[string]time.Duration{},
		nextMix:   s.opts.MixPeriod,
	}
	for _, f := range scheduledFamilies() {
		r := rand.New(rand.NewPCG(seed.Uint64(), seed.Uint64()))
		if slices.Contains(p.fams, f) {
			p.rngs[f] = r
			p.nextAt[f] = p.gap(r)
		}
	}
	return p
}

// gap is uniform in [interval/2, 3*interval/2): mean interval, never zero.
func (p *planner) gap(r *rand.Rand) time.Duration {
	half := p.interval / 2
	if half <= 0 {
		return p.interval
	}
	return half + time.Duration(r.Int64N(int64(p.interval)))
}

func (p *planner) mix() []string {
	if len(p.mixes) == 0 {
		return nil
	}
	return p.mixes[p.mixIdx%len(p.mixes)]
}

// next pops the earliest event. Ties go to the rotation, then to families
// in canonical order.
func (p *planner) next() Event {
	fam := ""
	var at time.Duration
	for _, f := range p.fams {
		if fam == "" || p.nextAt[f] < at {
			fam, at = f, p.nextAt[f]
		}
	}
	if len(p.mixes) > 0 && p.nextMix <= at {
		ev := Event{At: p.nextMix}
		p.mixIdx++
		p.nextMix += p.mixPeriod
		ev.Mix = slices.Clone(p.mix())
		return ev
	}
	p.nextAt[fam] = at + p.gap(p.rngs[fam])
	return Event{At: at, Family: fam, Mix: slices.Clone(p.mix())}
}

// Plan returns the timetable of the first d of Run, for the report and for
// tests: which family flips when, assuming every action takes no time. It
// does not consume the scheduler's randomness. Run draws the same gaps in
// the same order; it only pauses the timetable while an action runs past
// the next tick (see Run), so the order of ticks is always Plan's.
func (s *Scheduler) Plan(d time.Duration) []Event {
	if len(s.opts.Faults) == 0 {
		return nil
	}
	p := s.planner()
	var out []Event
	for i := 0; i < 100000; i++ {
		ev := p.next()
		if ev.At > d {
			break
		}
		out = append(out, ev)
	}
	return out
}
