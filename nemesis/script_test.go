package nemesis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// timedRecorder records nemesis lines as a history would: time from base,
// values round-tripped through JSON.
type timedRecorder struct {
	mu    sync.Mutex
	base  time.Time
	lines []Recorded
}

func (r *timedRecorder) Nemesis(typ, f string, value any) {
	b, err := json.Marshal(value)
	if err != nil {
		panic(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, Recorded{Time: time.Since(r.base), Type: typ, F: f, Value: b})
}

// invokes summarizes the invocations: f, nodes and cuts, in order.
func (r *timedRecorder) invokes(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, l := range r.lines {
		if l.Type != "invoke" {
			continue
		}
		var v recordedValue
		if err := json.Unmarshal(l.Value, &v); err != nil {
			t.Fatal(err)
		}
		if v.Final {
			continue
		}
		out = append(out, fmt.Sprintf("%s %v %v", l.F, v.Nodes, v.Cuts))
	}
	return out
}

func rec(at time.Duration, typ, f, value string) Recorded {
	return Recorded{Time: at, Type: typ, F: f, Value: json.RawMessage(value)}
}

func TestScheduleFromHistory(t *testing.T) {
	s := time.Second
	tests := []struct {
		name    string
		lines   []Recorded
		want    []Action
		wantErr string
	}{
		{
			name: "kill and restart, invoke times, info ignored",
			lines: []Recorded{
				rec(1*s, "invoke", "kill", `{"nodes":["n2"],"target":"leader"}`),
				rec(2*s, "info", "kill", `{"nodes":["n2"],"verified":{}}`),
				rec(5*s, "invoke", "restart", `{"nodes":["n2"]}`),
				rec(6*s, "info", "restart", `{"nodes":["n2"]}`),
			},
			want: []Action{{At: 1 * s, Family: "kill", Nodes: []string{"n2"}, Target: "leader"}, {At: 5 * s, Family: "kill", Stop: true}},
		},
		{
			name: "partition keeps its cuts; final heal left out",
			lines: []Recorded{
				rec(1*s, "invoke", "partition", `{"grudge":"one","nodes":["n1","n2","n3"],"cuts":{"n1":["n2","n3"],"n2":["n1"],"n3":["n1"]}}`),
				rec(1*s, "info", "partition", `{}`),
				rec(9*s, "invoke", "heal", `{"nodes":["n1","n2","n3"],"final":true}`),
			},
			want: []Action{{At: 1 * s, Family: "partition", Nodes: []string{"n1", "n2", "n3"}, Grudge: "one",
				Cuts: map[string][]string{"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}}}},
		},
		{
			name: "a skipped start and the stop after it are left out; staggered start too",
			lines: []Recorded{
				rec(0, "info", "start", `{"nodes":["n1"]}`),
				rec(1*s, "info", "pause", `{"nodes":[],"skipped":"no running node"}`),
				rec(2*s, "invoke", "loss-start", `{"nodes":["n1","n2"]}`),
				rec(3*s, "invoke", "resume", `{"nodes":[]}`),
				rec(4*s, "invoke", "loss-stop", `{"nodes":["n1","n2"]}`),
			},
			want: []Action{{At: 2 * s, Family: "loss", Nodes: []string{"n1", "n2"}}, {At: 4 * s, Family: "loss", Stop: true}},
		},
		{
			name: "member actions are instants",
			lines: []Recorded{
				rec(1*s, "invoke", "member", `{"op":"add","nodes":["n4"]}`),
				rec(2*s, "invoke", "member", `{"op":"remove","nodes":["n1"]}`),
			},
			want: []Action{{At: 1 * s, Family: "member", Nodes: []string{"n4"}}, {At: 2 * s, Family: "member", Nodes: []string{"n1"}}},
		},
		{
			name: "two starts without a stop are refused",
			lines: []Recorded{
				rec(1*s, "invoke", "kill", `{"nodes":["n1"]}`),
				rec(2*s, "invoke", "kill", `{"nodes":["n2"]}`),
			},
			wantErr: "starts while it is active",
		},
		{
			name:    "a value that is not an object is refused",
			lines:   []Recorded{rec(1*s, "invoke", "kill", `[1]`)},
			wantErr: "value",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ScheduleFromHistory(tt.lines)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			gj, _ := json.Marshal(got.Actions)
			wj, _ := json.Marshal(tt.want)
			if string(gj) != string(wj) {
				t.Errorf("got  %s\nwant %s", gj, wj)
			}
		})
	}
}

func TestScheduleValidate(t *testing.T) {
	s := time.Second
	tests := []struct {
		name    string
		actions []Action
		wantErr string
	}{
		{"empty", nil, ""},
		{"start stop", []Action{{At: s, Family: "kill"}, {At: 2 * s, Family: "kill", Stop: true}}, ""},
		{"families overlap", []Action{{At: s, Family: "kill"}, {At: s, Family: "loss"}, {At: 2 * s, Family: "kill", Stop: true}}, ""},
		{"out of order", []Action{{At: 2 * s, Family: "kill"}, {At: s, Family: "kill", Stop: true}}, "before the previous"},
		{"stop first", []Action{{At: s, Family: "kill", Stop: true}}, "kill stops while it is inactive"},
		{"start twice", []Action{{At: s, Family: "pause"}, {At: 2 * s, Family: "pause"}}, "pause starts while it is active"},
		{"unknown family", []Action{{At: s, Family: "meteor"}}, "not a scheduled nemesis family"},
		{"staggered start is not scheduled", []Action{{At: s, Family: "staggered-start"}}, "not a scheduled"},
		{"instant stop", []Action{{At: s, Family: "member", Stop: true}}, "member has no stop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Schedule{Actions: tt.actions}.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestSchedulerScheduleFollowsPlan: the random scheduler's timetable as a
// Schedule alternates starts and stops at Plan's ticks, shifted by base.
func TestSchedulerScheduleFollowsPlan(t *testing.T) {
	s := newSched(t, newFake(3, Running), 7, allFaultOpts)
	base := 3 * time.Second
	sc := s.Schedule(2*time.Minute, base)
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	plan := s.Plan(2 * time.Minute)
	if len(sc.Actions) != len(plan) || len(plan) < 10 {
		t.Fatalf("%d actions for %d ticks", len(sc.Actions), len(plan))
	}
	for i, ev := range plan {
		if a := sc.Actions[i]; a.At != base+ev.At || a.Family != ev.Family || a.Nodes != nil {
			t.Errorf("action %d = %+v, tick %+v", i, a, ev)
		}
	}
}

// TestRunScriptReplaysRecorded runs the seeded scheduler, rebuilds its
// schedule from what it recorded, and carries that out on a fresh cluster
// with another seed: the same actions on the same nodes with the same
// cuts, each no earlier than its offset.
func TestRunScriptReplaysRecorded(t *testing.T) {
	opts := Options{Faults: []string{"kill", "pause", "partition", "loss"}, Interval: 6 * time.Millisecond,
		Targets: []string{TargetOne, TargetMinority, TargetLeader}, Grudges: []string{GrudgeOne, GrudgeMajority, GrudgeBridge}}
	orig := &timedRecorder{base: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := newSched(t, newFake(5, Running), 11, opts).Run(ctx, orig)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ScheduleFromHistory(orig.lines)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Faults() < 5 || len(sc.Families()) < 3 {
		t.Fatalf("too small a schedule to prove anything: %d faults of %v", sc.Faults(), sc.Families())
	}
	var last time.Duration
	for _, a := range sc.Actions {
		last = a.At
	}
	again := &timedRecorder{base: time.Now()}
	ctx, cancel = context.WithTimeout(context.Background(), last+200*time.Millisecond)
	defer cancel()
	if err := newSched(t, newFake(5, Running), 99, opts).RunScript(ctx, again, sc, again.base); err != nil {
		t.Fatal(err)
	}
	want, got := orig.invokes(t), again.invokes(t)
	if !slices.Equal(got, want) {
		t.Errorf("replayed actions differ:\ngot  %q\nwant %q", got, want)
	}
	replayed, err := ScheduleFromHistory(again.lines)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range replayed.Actions {
		if a.At < sc.Actions[i].At {
			t.Errorf("action %d (%s) at %s, before its offset %s", i, a.Family, a.At, sc.Actions[i].At)
		}
	}
}

// TestRunScriptPinsAndRefuses: a scripted start acts on its nodes only (one
// unavailable is left out; none left is a skip), and a script naming a
// family the scheduler is not configured for is refused.
func TestRunScriptPinsAndRefuses(t *testing.T) {
	c := newFake(5, Running)
	s := newSched(t, c, 1, Options{Faults: []string{"kill", "pause"}, Interval: time.Hour})
	r := &timedRecorder{base: time.Now()}
	sc := Schedule{Actions: []Action{
		{At: 0, Family: "pause", Nodes: []string{"n4"}},
		{At: time.Millisecond, Family: "kill", Nodes: []string{"n4", "n5"}},
		{At: 2 * time.Millisecond, Family: "pause", Stop: true},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := s.RunScript(ctx, r, sc, r.base); err != nil {
		t.Fatal(err)
	}
	if c.state["n5"] == Running || c.state["n4"] != Running || countState(c, Running) != 4 {
		t.Errorf("states after the script: %v (want n5 killed only)", c.state)
	}
	if got := r.invokes(t); !slices.Equal(got, []string{"pause [n4] map[]", "kill [n5] map[]", "resume [n4] map[]"}) {
		t.Errorf("invokes %q", got)
	}
	bad := Schedule{Actions: []Action{{At: 0, Family: "loss"}}}
	if err := s.RunScript(context.Background(), r, bad, r.base); err == nil || !strings.Contains(err.Error(), "not among the configured") {
		t.Errorf("unconfigured family: err = %v", err)
	}
}
