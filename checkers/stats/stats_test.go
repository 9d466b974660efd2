package stats

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/checkers/windows"
)

func completion(i int64, t time.Duration, typ history.Type, f string) *history.Entry {
	return &history.Entry{Op: history.Op{Index: i, Time: t, Process: history.Client(0), Type: typ, F: f}, InvokeTime: t - time.Millisecond}
}

func TestAvailabilityInsideOutside(t *testing.T) {
	c := New()
	s := time.Second
	// Sends succeed at 1s, 2s, 10s, 11s; polls at 1s and 12s. A fault
	// window covers 3s..8s.
	c.Observe(completion(7, 1*s, history.Ok, history.FPoll))
	for i, at := range []time.Duration{1 * s, 2 * s, 10 * s, 11 * s} {
		c.Observe(completion(int64(i), at, history.Ok, history.FSend))
	}
	failed := completion(4, 11*s, history.Fail, history.FSend)
	failed.Error = "NOT_LEADER_FOR_PARTITION"
	c.Observe(failed)
	c.Observe(completion(5, 11*s, history.Info, history.FSend))
	c.Observe(completion(6, 12*s, history.Ok, history.FPoll))

	r := c.Result([]windows.Window{{F: "kill", Start: 3 * s, End: 8 * s}})
	if r.Ok != 6 || r.Fail != 1 || r.Info != 1 || r.Valid != verdict.True {
		t.Fatalf("counts %d/%d/%d valid %v", r.Ok, r.Fail, r.Info, r.Valid)
	}
	tests := []struct {
		name string
		got  Gap
		want float64
	}{
		{"send longest", r.Availability["send"].Longest, 8},  // 2s..10s
		{"send outside", r.Availability["send"].Outside, 2},  // 8s..10s (1s before, 2s after the window)
		{"send inside", r.Availability["send"].Inside, 5},    // 3s..8s
		{"poll longest", r.Availability["poll"].Longest, 11}, // 1s..12s
		{"poll outside", r.Availability["poll"].Outside, 4},  // 8s..12s
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got.Seconds != tt.want {
				t.Errorf("got %+v, want %vs", tt.got, tt.want)
			}
		})
	}
	if r.ErrorMessages["NOT_LEADER_FOR_PARTITION"] != 1 || len(r.ErrorMessages) != 1 {
		t.Errorf("error messages %v", r.ErrorMessages)
	}
	if got := r.Latency["send"]; got.Count != 4 || got.P50 != 1 {
		t.Errorf("latency %+v", got)
	}
	if len(r.Throughput) != 13 || r.Throughput[11].Ok != 1 || r.Throughput[11].Fail != 1 {
		t.Errorf("throughput %+v", r.Throughput)
	}
}

func TestNeverSucceededIsInvalid(t *testing.T) {
	c := New()
	c.Observe(completion(0, time.Second, history.Fail, history.FSend))
	if r := c.Result(nil); r.Valid != verdict.False || r.Error == "" {
		t.Errorf("valid %v error %q", r.Valid, r.Error)
	}
}

// sendOp is a send to key invoked at inv and completed at at, as an
// invocation and a completion.
func sendOp(i int64, inv, at time.Duration, typ history.Type, key string) []*history.Entry {
	mops := []history.Mop{history.Send(key, i)}
	e := completion(2*i+1, at, typ, history.FSend)
	e.InvokeTime, e.Mops = inv, mops
	return []*history.Entry{{Op: history.Op{Index: 2 * i, Time: inv, Process: history.Client(0), Type: history.Invoke, F: history.FSend}, Mops: mops}, e}
}

func TestUnavailabilityPerFault(t *testing.T) {
	s := time.Second
	ms := time.Millisecond
	c := New()
	// Key t0/0 is written throughout but for 4s..7s; t0/1 at 4.5s and 5s.
	// The last send is tried from 12.5s to 20s and ends info; nothing is
	// sent after it, so the stretch after 12s ends at 20s. Idle spans
	// (nothing in flight for more than a second) cut stretches.
	sends := []struct {
		at  time.Duration
		key string
	}{
		{1 * s, "t0/0"}, {2 * s, "t0/0"}, {3 * s, "t0/0"}, {4 * s, "t0/0"},
		{4500 * ms, "t0/1"}, {5 * s, "t0/1"},
		{7 * s, "t0/0"}, {8 * s, "t0/0"}, {12 * s, "t0/0"},
	}
	var es []*history.Entry
	for i, sd := range sends {
		es = append(es, sendOp(int64(i), sd.at-10*ms, sd.at, history.Ok, sd.key)...)
	}
	// A send to t0/0 waits from 5.1s to 6.9s and fails.
	es = append(es, sendOp(19, 5100*ms, 6900*ms, history.Fail, "t0/0")...)
	// Tried from 12.5s to 20s without an answer; then nobody sends.
	es = append(es, sendOp(20, 12500*ms, 20*s, history.Info, "t0/1")...)
	es = append(es, completion(50, 30*s, history.Ok, history.FPoll)) // the drain's last read
	// The history's order is the time order.
	slices.SortStableFunc(es, func(a, b *history.Entry) int { return cmp.Compare(a.Time, b.Time) })
	for _, e := range es {
		c.Observe(e)
	}
	ws := []windows.Window{
		{F: "kill", Start: 3500 * ms, End: 6 * s},
		{F: "kill", Start: 15 * s, End: 16 * s},
		{F: "kill", Start: 24 * s, End: 25 * s}, // nobody sent: no stretch
		{F: "start", Start: 5 * s, End: 5 * s, Instant: true},
	}
	r := c.Result(ws)
	tests := []struct {
		name      string
		got, want Gap
	}{
		// Sends of any key: 5s..7s is the longest overlapping 3.5s..6s.
		{"first send", r.Faults[0].Unavailable["send"], Gap{StartS: 5, EndS: 7, Seconds: 2}},
		// Key t0/0: 4s..7s.
		{"first key", r.Faults[0].KeyUnavailable.Gap, Gap{StartS: 4, EndS: 7, Seconds: 3}},
		// After the last success the stretch lasts to the last try (20s),
		// not to the history's end (30s).
		{"second send", r.Faults[1].Unavailable["send"], Gap{StartS: 12, EndS: 20, Seconds: 8}},
		{"send longest", r.Availability["send"].Longest, Gap{StartS: 12, EndS: 20, Seconds: 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %+v, want %+v", tt.got, tt.want)
			}
		})
	}
	if k := r.Faults[0].KeyUnavailable.Key; k != "t0/0" {
		t.Errorf("first key %q, want t0/0", k)
	}
	if r.Faults[1].KeyUnavailable != nil {
		t.Errorf("second window: no key has two successes around it, got %+v", r.Faults[1].KeyUnavailable)
	}
	if r.Faults[2].Unavailable["send"] != (Gap{}) {
		t.Errorf("a window in which nobody sent got a send stretch: %+v", r.Faults[2].Unavailable)
	}
	if r.Faults[3].Unavailable != nil || r.Faults[3].KeyUnavailable != nil {
		t.Errorf("instant window got stretches: %+v", r.Faults[3])
	}
}
