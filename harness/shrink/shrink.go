package shrink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/nemesis"
)

// Candidate is one run configuration the search tries: the nemesis
// timeline, the workload's time limit and the cluster size.
type Candidate struct {
	Schedule  nemesis.Schedule
	TimeLimit time.Duration
	Nodes     int
}

// String is a candidate as one line of the search's log.
func (c Candidate) String() string {
	return fmt.Sprintf("%d faults, time limit %s, %d nodes", c.Schedule.Faults(), c.TimeLimit.Round(100*time.Millisecond), c.Nodes)
}

// Trial is the outcome of one run of a candidate.
type Trial struct {
	// Invalid: the checkers found anomalies; Anomalies names them.
	Invalid   bool
	Anomalies []string
	RunDir    string
}

// Runner runs a candidate once (in Docker, as a new run in the store;
// step numbers the candidate, for the run's record).
type Runner interface {
	Run(ctx context.Context, c Candidate, step int) (Trial, error)
}

// Options bound and tune the search.
type Options struct {
	// Want are the anomaly names of the original run: a candidate fails
	// when a try finds one of them.
	Want []string
	// Tries runs per candidate, of which Need must fail (1 <= Need <=
	// Tries).
	Tries, Need int
	// Budget bounds the search's time; a candidate started before it ran
	// out is finished, so the search may overrun it by one candidate.
	Budget time.Duration
	// WorkloadStart is when the workload starts on the history's clock
	// (schedule offsets count from the history's time zero, the time
	// limit from about here); Margin is the workload kept past the last
	// fault (default 5 s) and MinWindow the shortest fault window tried
	// (default 1 s).
	WorkloadStart     time.Duration
	Margin, MinWindow time.Duration
	// MinNodes is the smallest cluster tried (default 3: partitions have
	// a replication factor of up to three); NodeNames are the original's
	// nodes in order, of which a smaller cluster keeps the first ones.
	MinNodes  int
	NodeNames []string
	// Out gets one line per step; Now is the clock (time.Now if nil).
	Out io.Writer
	Now func() time.Time
}

func (o *Options) defaults() error {
	if o.Tries < 1 {
		o.Tries = 1
	}
	if o.Need < 1 {
		o.Need = 1
	}
	if o.Need > o.Tries {
		return fmt.Errorf("need %d of %d tries", o.Need, o.Tries)
	}
	if len(o.Want) == 0 {
		return errors.New("the original run has no anomaly to keep")
	}
	if o.Margin <= 0 {
		o.Margin = 5 * time.Second
	}
	if o.MinWindow <= 0 {
		o.MinWindow = time.Second
	}
	if o.MinNodes < 1 {
		o.MinNodes = 3
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Step is one tried candidate, for the summary.
type Step struct {
	N         int
	What      string
	Candidate Candidate
	Fails     int
	Kept      bool
	RunDirs   []string
}

// Result is the search's outcome: the smallest failing candidate and the
// run that showed it (empty when no smaller candidate failed: the
// original stays the smallest), and every step.
type Result struct {
	Original, Smallest Candidate
	RunDir             string
	Anomalies          []string
	Steps              []Step
	// Exhausted: the budget ran out before the search ended.
	Exhausted bool
	Took      time.Duration
}

// search is one shrink in progress.
type search struct {
	opts  Options
	r     Runner
	ctx   context.Context
	start time.Time
	best  Candidate
	res   *Result
	tried map[string]bool
}

// Shrink searches for a smaller candidate than orig that still fails:
// first ddmin over the faults (a fault with its stop as one unit; the
// empty timeline is tried first), then the workload cut to just past the
// last kept fault, then each kept fault window halved while it fails, the
// workload cut again, and fewer nodes. It ends when no step makes the
// candidate smaller or the budget runs out (Result.Exhausted); an error of
// the runner (an infrastructure failure) ends it with that error, and the
// result so far.
func Shrink(ctx context.Context, orig Candidate, r Runner, opts Options) (*Result, error) {
	if err := opts.defaults(); err != nil {
		return nil, fmt.Errorf("shrink: %w", err)
	}
	if err := orig.Schedule.Validate(); err != nil {
		return nil, fmt.Errorf("shrink: %w", err)
	}
	s := &search{opts: opts, r: r, ctx: ctx, start: opts.Now(), best: orig, tried: map[string]bool{},
		res: &Result{Original: orig, Smallest: orig}}
	err := s.run()
	s.res.Took = opts.Now().Sub(s.start)
	if errors.Is(err, ErrBudget) {
		s.res.Exhausted = true
		fmt.Fprintf(opts.Out, "shrink: budget of %s used up\n", opts.Budget)
		err = nil
	}
	return s.res, err
}

func (s *search) run() error {
	units := unitsOf(s.best.Schedule)
	fmt.Fprintf(s.opts.Out, "shrink: original %s; %d fault units\n", s.best, len(units))
	// 1. Faults: none at all, then ddmin.
	base := s.best
	if len(units) > 0 {
		if _, err := s.try("no faults", subset(base, nil)); err != nil {
			return err
		}
	}
	if len(units) >= 2 && s.best.Schedule.Faults() > 0 {
		// Each kept subset becomes the best candidate as it is found, so
		// what DDMin returns is already s.best.
		if _, err := DDMin(units, func(sub []unit) (bool, error) {
			return s.try(fmt.Sprintf("keep %d of %d faults", len(sub), len(units)), subset(base, sub))
		}); err != nil {
			return err
		}
	}
	// 2. The workload cut to just past the last kept fault.
	if err := s.shortenWorkload(); err != nil {
		return err
	}
	// 3. Fault windows halved while they fail.
	for pass := 0; pass < 8; pass++ {
		changed := false
		us := unitsOf(s.best.Schedule)
		for i := range us {
			c, ok := halveWindow(s.best, i, s.opts.MinWindow)
			if !ok {
				continue
			}
			kept, err := s.try(fmt.Sprintf("halve the window of fault %d (%s)", i+1, us[i].family), c)
			if err != nil {
				return err
			}
			changed = changed || kept
		}
		if !changed {
			break
		}
	}
	if err := s.shortenWorkload(); err != nil {
		return err
	}
	// 4. Fewer nodes, two at a time (a majority's worth stays odd).
	for n := s.best.Nodes - 2; n >= s.opts.MinNodes && len(s.opts.NodeNames) >= s.best.Nodes; n -= 2 {
		c := withNodes(s.best, s.opts.NodeNames[:n])
		kept, err := s.try(fmt.Sprintf("%d nodes", n), c)
		if err != nil {
			return err
		}
		if !kept {
			break
		}
	}
	return nil
}

func (s *search) shortenWorkload() error {
	last := time.Duration(0)
	for _, a := range s.best.Schedule.Actions {
		last = max(last, a.At)
	}
	// Whole tenths of a second, rounded up: the limit is read by people.
	tl := (max(last-s.opts.WorkloadStart, 0) + s.opts.Margin + 99*time.Millisecond).Truncate(100 * time.Millisecond)
	if tl >= s.best.TimeLimit {
		return nil
	}
	c := s.best
	c.TimeLimit = tl
	_, err := s.try("shorten the workload to just past the last fault", c)
	return err
}

// try runs c up to Tries times (fewer when the outcome is decided) and
// keeps it as the best when Need tries fail with a wanted anomaly. A
// candidate tried before is not run again.
func (s *search) try(what string, c Candidate) (bool, error) {
	key := c.key()
	if s.tried[key] {
		return false, nil
	}
	s.tried[key] = true
	if s.opts.Budget > 0 && s.opts.Now().Sub(s.start) >= s.opts.Budget {
		return false, ErrBudget
	}
	st := Step{N: len(s.res.Steps) + 1, What: what, Candidate: c}
	var found []string
	for i := 0; i < s.opts.Tries && st.Fails < s.opts.Need && st.Fails+s.opts.Tries-i >= s.opts.Need; i++ {
		t, err := s.r.Run(s.ctx, c, st.N)
		if err != nil {
			s.res.Steps = append(s.res.Steps, st)
			return false, fmt.Errorf("step %d (%s): %w", st.N, what, err)
		}
		st.RunDirs = append(st.RunDirs, t.RunDir)
		if hit := wanted(t, s.opts.Want); len(hit) > 0 {
			st.Fails++
			found = hit
		}
	}
	st.Kept = st.Fails >= s.opts.Need
	s.res.Steps = append(s.res.Steps, st)
	verdict := "passes: dropped"
	if st.Kept {
		verdict = "still fails (" + strings.Join(found, ",") + "): kept"
		s.best = c
		s.res.Smallest, s.res.Anomalies = c, found
		s.res.RunDir = st.RunDirs[len(st.RunDirs)-1]
	}
	fmt.Fprintf(s.opts.Out, "shrink step %d [%s]: %s: %s; failed %d/%d tries, %s\n",
		st.N, s.opts.Now().Sub(s.start).Round(time.Second), what, c, st.Fails, len(st.RunDirs), verdict)
	return st.Kept, nil
}

// wanted lists the wanted anomaly names an invalid trial found.
func wanted(t Trial, want []string) []string {
	if !t.Invalid {
		return nil
	}
	var out []string
	for _, a := range t.Anomalies {
		if slices.Contains(want, a) {
			out = append(out, a)
		}
	}
	return out
}

// key identifies a candidate, so that none runs twice.
func (c Candidate) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d|%d", c.TimeLimit, c.Nodes)
	for _, a := range c.Schedule.Actions {
		fmt.Fprintf(&b, "|%d %s %t %v %v", a.At, a.Family, a.Stop, a.Nodes, a.Cuts)
	}
	return b.String()
}

// unit is one fault of a timeline: the index of its start and of its stop
// (-1: none, an instant or a fault left to the final heal).
type unit struct {
	family      string
	start, stop int
}

// unitsOf pairs each start with its family's next stop.
func unitsOf(sc nemesis.Schedule) []unit {
	var out []unit
	open := map[string]int{}
	for i, a := range sc.Actions {
		if a.Stop {
			if u, ok := open[a.Family]; ok {
				out[u].stop = i
				delete(open, a.Family)
			}
			continue
		}
		out = append(out, unit{family: a.Family, start: i, stop: -1})
		if fam, _ := history.NemesisFamilyNamed(a.Family); !fam.Instant() {
			open[a.Family] = len(out) - 1
		}
	}
	return out
}

// subset is c with only the units keep of its schedule.
func subset(c Candidate, keep []unit) Candidate {
	var idx []int
	for _, u := range keep {
		idx = append(idx, u.start)
		if u.stop >= 0 {
			idx = append(idx, u.stop)
		}
	}
	sort.Ints(idx)
	var acts []nemesis.Action
	for _, i := range idx {
		acts = append(acts, c.Schedule.Actions[i])
	}
	c.Schedule = nemesis.Schedule{Actions: acts}
	return c
}

// halveWindow moves the stop of unit i of c halfway to its start, if the
// window stays at least min long.
func halveWindow(c Candidate, i int, minWindow time.Duration) (Candidate, bool) {
	us := unitsOf(c.Schedule)
	u := us[i]
	if u.stop < 0 {
		return c, false
	}
	acts := slices.Clone(c.Schedule.Actions)
	w := acts[u.stop].At - acts[u.start].At
	if w/2 < minWindow {
		return c, false
	}
	acts[u.stop].At = acts[u.start].At + w/2
	sort.SliceStable(acts, func(a, b int) bool { return acts[a].At < acts[b].At })
	c.Schedule = nemesis.Schedule{Actions: acts}
	return c, true
}

// withNodes is c on the first nodes of the cluster: every action keeps only
// those nodes, and a start left with none is dropped with its stop.
func withNodes(c Candidate, nodes []string) Candidate {
	in := func(n string) bool { return slices.Contains(nodes, n) }
	keep := make([]bool, len(c.Schedule.Actions))
	for i := range keep {
		keep[i] = true
	}
	acts := slices.Clone(c.Schedule.Actions)
	for _, u := range unitsOf(c.Schedule) {
		a := &acts[u.start]
		if a.Nodes != nil {
			a.Nodes = slices.DeleteFunc(slices.Clone(a.Nodes), func(n string) bool { return !in(n) })
		}
		if a.Cuts != nil {
			cuts := map[string][]string{}
			for n, d := range a.Cuts {
				if in(n) {
					if d = slices.DeleteFunc(slices.Clone(d), func(x string) bool { return !in(x) }); len(d) > 0 {
						cuts[n] = d
					}
				}
			}
			a.Cuts = cuts
		}
		if a.Nodes != nil && len(a.Nodes) == 0 || a.Cuts != nil && len(a.Cuts) == 0 {
			keep[u.start] = false
			if u.stop >= 0 {
				keep[u.stop] = false
			}
		}
	}
	var out []nemesis.Action
	for i, a := range acts {
		if keep[i] {
			out = append(out, a)
		}
	}
	c.Schedule = nemesis.Schedule{Actions: out}
	c.Nodes = len(nodes)
	return c
}
