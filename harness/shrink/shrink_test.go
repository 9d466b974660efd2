package shrink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/nemesis"
)

const sec = time.Second

// fakeRunner decides a candidate's outcome by a rule, advancing a fake
// clock by a run's length per try; flaky makes every second try of a
// candidate pass.
type fakeRunner struct {
	fails func(Candidate) bool
	clock *time.Time
	runs  int
	flaky bool
	err   error
	per   map[string]int
}

func (f *fakeRunner) Run(_ context.Context, c Candidate, step int) (Trial, error) {
	f.runs++
	if f.per == nil {
		f.per = map[string]int{}
	}
	f.per[c.key()]++
	*f.clock = f.clock.Add(c.TimeLimit + 20*sec)
	if f.err != nil && f.runs == 3 {
		return Trial{}, f.err
	}
	t := Trial{RunDir: fmt.Sprintf("run-%d", f.runs)}
	if f.fails(c) && !(f.flaky && f.per[c.key()]%2 == 0) {
		t.Invalid, t.Anomalies = true, []string{"lost-write", "unseen"}
	}
	return t, nil
}

// timeline: kill n1 10-20 s, partition 15-40 s, pause n3 30-35 s, kill n2
// 45-60 s, loss 50 s to the end.
func timeline() nemesis.Schedule {
	return nemesis.Schedule{Actions: []nemesis.Action{
		{At: 10 * sec, Family: "kill", Nodes: []string{"n1"}},
		{At: 15 * sec, Family: "partition", Nodes: []string{"n1", "n2", "n3"}, Cuts: map[string][]string{"n3": {"n1", "n2"}, "n1": {"n3"}, "n2": {"n3"}}},
		{At: 20 * sec, Family: "kill", Stop: true},
		{At: 30 * sec, Family: "pause", Nodes: []string{"n3"}},
		{At: 35 * sec, Family: "pause", Stop: true},
		{At: 40 * sec, Family: "partition", Stop: true},
		{At: 45 * sec, Family: "kill", Nodes: []string{"n2"}},
		{At: 50 * sec, Family: "loss", Nodes: []string{"n1", "n2", "n3"}},
		{At: 60 * sec, Family: "kill", Stop: true},
	}}
}

// has reports whether c starts family on node, and that fault's window.
func has(c Candidate, family, node string) (bool, time.Duration) {
	for i, a := range c.Schedule.Actions {
		if a.Stop || a.Family != family || len(a.Nodes) == 0 || a.Nodes[0] != node {
			continue
		}
		for _, b := range c.Schedule.Actions[i+1:] {
			if b.Stop && b.Family == family {
				return true, b.At - a.At
			}
		}
		return true, time.Hour
	}
	return false, 0
}

func TestShrink(t *testing.T) {
	orig := Candidate{Schedule: timeline(), TimeLimit: 90 * sec, Nodes: 5}
	names := []string{"n1", "n2", "n3", "n4", "n5"}
	tests := []struct {
		name   string
		fails  func(Candidate) bool
		tries  int
		need   int
		flaky  bool
		budget time.Duration
		// want checks the smallest candidate.
		wantFaults int
		// wantLimit bounds the time limit from above.
		wantLimit time.Duration
		wantNodes int
		check     func(t *testing.T, c Candidate)
		exhausted bool
	}{
		{
			name: "needs the second kill for at least 4 s",
			fails: func(c Candidate) bool {
				ok, w := has(c, "kill", "n2")
				return ok && w >= 4*sec
			},
			// Kill at 45 s, its stop halved to 52.5 s, the workload
			// from 5 s: 47.5 s + 5 s margin.
			wantFaults: 1, wantLimit: 52500 * time.Millisecond, wantNodes: 3,
			check: func(t *testing.T, c Candidate) {
				if _, w := has(c, "kill", "n2"); w < 4*sec || w > 8*sec {
					t.Errorf("window %s, want halved from 15 s to between 4 and 8 s", w)
				}
			},
		},
		{
			name:       "fails without any fault",
			fails:      func(Candidate) bool { return true },
			wantFaults: 0, wantLimit: 5 * sec, wantNodes: 3,
		},
		{
			name: "needs a kill and the partition together; n4 and n5 are never touched",
			fails: func(c Candidate) bool {
				k, _ := has(c, "kill", "n1")
				p, _ := has(c, "partition", "n1")
				return k && p
			},
			wantFaults: 2, wantLimit: 17 * sec, wantNodes: 3,
		},
		{
			name: "needs five nodes",
			fails: func(c Candidate) bool {
				ok, _ := has(c, "pause", "n3")
				return ok && c.Nodes == 5
			},
			// The pause at 30 s, its window halved twice (1.25 s); limits
			// are rounded up to tenths.
			wantFaults: 1, wantLimit: 31300 * time.Millisecond, wantNodes: 5,
		},
		{
			name: "flaky: 2 of 3 tries needed, every other try passes",
			fails: func(c Candidate) bool {
				ok, _ := has(c, "loss", "n1")
				return ok
			},
			tries: 3, need: 2, flaky: true,
			wantFaults: 1, wantLimit: 50 * sec, wantNodes: 3,
		},
		{
			name: "the budget stops the search early",
			fails: func(c Candidate) bool {
				ok, _ := has(c, "kill", "n2")
				return ok
			},
			// Each try costs its time limit + 20 s of the fake clock: the
			// empty timeline and two halves start within 5 min (the third
			// at 3m40s), the fourth would not.
			budget:     5 * time.Minute,
			wantFaults: 3, wantLimit: 90 * sec, wantNodes: 5, exhausted: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := time.Unix(0, 0)
			r := &fakeRunner{fails: tt.fails, clock: &clock, flaky: tt.flaky}
			var log strings.Builder
			res, err := Shrink(context.Background(), orig, r, Options{
				Want: []string{"lost-write"}, Tries: tt.tries, Need: tt.need, Budget: tt.budget,
				WorkloadStart: 5 * sec, NodeNames: names, Out: &log, Now: func() time.Time { return clock },
			})
			if err != nil {
				t.Fatal(err)
			}
			c := res.Smallest
			if c.Schedule.Faults() != tt.wantFaults || c.TimeLimit > tt.wantLimit || c.Nodes != tt.wantNodes {
				t.Errorf("smallest %s, want %d faults, time limit at most %s, %d nodes\n%s", c, tt.wantFaults, tt.wantLimit, tt.wantNodes, log.String())
			}
			if len(res.Steps) != len(r.per) {
				t.Errorf("%d steps ran %d distinct candidates: one ran twice", len(res.Steps), len(r.per))
			}
			if err := c.Schedule.Validate(); err != nil {
				t.Errorf("smallest schedule invalid: %v", err)
			}
			if !tt.fails(c) {
				t.Errorf("the smallest candidate does not fail: %s", c)
			}
			if res.Exhausted != tt.exhausted {
				t.Errorf("exhausted = %v, want %v", res.Exhausted, tt.exhausted)
			}
			if res.RunDir == "" || len(res.Anomalies) == 0 || res.Anomalies[0] != "lost-write" {
				t.Errorf("result run %q anomalies %v", res.RunDir, res.Anomalies)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
			if n := strings.Count(log.String(), "shrink step "); n != len(res.Steps) || n == 0 {
				t.Errorf("%d step lines for %d steps", n, len(res.Steps))
			}
		})
	}
}

// TestShrinkRefuses: an original without anomalies, or an impossible need,
// is refused; a runner's error ends the search with the result so far.
func TestShrinkRefuses(t *testing.T) {
	orig := Candidate{Schedule: timeline(), TimeLimit: 90 * sec, Nodes: 3}
	clock := time.Unix(0, 0)
	r := &fakeRunner{fails: func(Candidate) bool { return true }, clock: &clock}
	now := func() time.Time { return clock }
	if _, err := Shrink(context.Background(), orig, r, Options{Now: now}); err == nil {
		t.Error("no wanted anomaly: accepted")
	}
	if _, err := Shrink(context.Background(), orig, r, Options{Want: []string{"x"}, Tries: 1, Need: 2, Now: now}); err == nil {
		t.Error("need 2 of 1: accepted")
	}
	boom := errors.New("engine gone")
	r = &fakeRunner{fails: func(c Candidate) bool { return c.Schedule.Faults() > 0 }, clock: &clock, err: boom}
	res, err := Shrink(context.Background(), orig, r, Options{Want: []string{"lost-write"}, Now: now})
	if !errors.Is(err, boom) || res == nil || len(res.Steps) != 3 {
		t.Fatalf("err %v, result %+v", err, res)
	}
}

// TestWithNodes: a smaller cluster keeps only its nodes in every action and
// drops a fault left with none, with its stop.
func TestWithNodes(t *testing.T) {
	c := withNodes(Candidate{Schedule: timeline(), TimeLimit: time.Minute, Nodes: 5}, []string{"n1", "n2"})
	var got []string
	for _, a := range c.Schedule.Actions {
		got = append(got, fmt.Sprintf("%s %t %v %v", a.Family, a.Stop, a.Nodes, a.Cuts))
	}
	want := []string{
		"kill false [n1] map[]", "kill true [] map[]",
		"kill false [n2] map[]", "loss false [n1 n2] map[]", "kill true [] map[]",
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") || c.Nodes != 2 {
		t.Errorf("got %q (%d nodes)\nwant %q", got, c.Nodes, want)
	}
}
