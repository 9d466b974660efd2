package verdict

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestCaseJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Case
	}{
		{name: "history case",
			in:   `{"key":"t0/1","ops":[7,9],"values":[3],"offsets":[4],"explanation":"lost","fatal":true}`,
			want: Case{Key: "t0/1", Ops: []int64{7, 9}, Values: []int64{3}, Offsets: []int64{4}, Explanation: "lost", Fatal: true}},
		{name: "allowed case",
			in:   `{"ops":[1],"explanation":"skip","fatal":false}`,
			want: Case{Ops: []int64{1}, Explanation: "skip"}},
		{name: "log case",
			in: `{"key":"t0/0","ops":[],"explanation":"two leaders","fatal":true,"time":8,"node":"n2","log":[{"file":"n2/chronik-server.log","line":3,"time":8,"text":"became leader"}]}`,
			want: Case{Key: "t0/0", Ops: []int64{}, Explanation: "two leaders", Fatal: true, Time: At(8), Node: "n2",
				Log: []LogLine{{File: "n2/chronik-server.log", Line: 3, Time: At(8), Text: "became leader"}}}},
		{name: "older raft-safety shape",
			in:   `{"group":"t0/0","gid":3,"term":4,"time":21,"first":{"node":"n1","line":1},"second":{"node":"n2","line":3},"message":"n1 and n2 both became leader"}`,
			want: Case{Key: "t0/0", Ops: []int64{}, Explanation: "n1 and n2 both became leader", Fatal: true, Time: At(21)}},
		{name: "older liveness shape",
			in:   `{"node":"n3","time":5,"exit_code":2,"last_lines":["panic"]}`,
			want: Case{Ops: []int64{}, Fatal: true, Time: At(5), Node: "n3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Case
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("decoded %+v, want %+v", got, tt.want)
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			var back Case
			if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("round trip %s = %+v, %v", b, back, err)
			}
		})
	}
}

func TestAnomalyFatalCount(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{name: "written", in: `{"count":3,"fatal_count":1,"examples":[]}`, want: 1},
		{name: "absent, all examples", in: `{"count":2,"examples":[{"message":"a"},{"fatal":false}]}`, want: 1},
		{name: "absent, capped examples", in: `{"count":30,"examples":[{"message":"a"}]}`, want: 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a Anomaly
			if err := json.Unmarshal([]byte(tt.in), &a); err != nil {
				t.Fatal(err)
			}
			if a.FatalCount != tt.want {
				t.Errorf("fatal count %d, want %d", a.FatalCount, tt.want)
			}
		})
	}
}

func TestCollector(t *testing.T) {
	c := NewCollector(2)
	c.Add("x", Case{Explanation: "allowed 1"})
	c.Add("x", Case{Explanation: "fatal 1", Fatal: true})
	c.Add("x", Case{Explanation: "allowed 2"})
	c.Add("y", Case{Explanation: "fatal", Fatal: true})
	c.Add("y", Case{Explanation: "fatal", Fatal: true})
	c.Add("y", Case{Explanation: "fatal", Fatal: true})
	errs := c.Errors()
	x := errs["x"]
	if x.Count != 3 || x.FatalCount != 1 || len(x.Examples) != 2 || x.Examples[0].Explanation != "fatal 1" || x.Examples[1].Explanation != "allowed 1" {
		t.Errorf("x = %+v, want 3 cases, 1 fatal, the fatal one first of 2 examples", x)
	}
	if y := errs["y"]; y.Count != 3 || y.FatalCount != 3 || len(y.Examples) != 2 {
		t.Errorf("y = %+v, want 3 fatal cases, 2 examples", y)
	}
}

// TestCollectorMerge checks that collecting cases in two collectors and
// merging them gives exactly what one collector given every case in the
// same order gives, caps and the order of examples included.
func TestCollectorMerge(t *testing.T) {
	var cases []struct {
		name string
		cs   Case
	}
	for i := range 14 {
		name := []string{"a", "b"}[i%2]
		cases = append(cases, struct {
			name string
			cs   Case
		}{name, Case{Ops: []int64{int64(i)}, Fatal: i%3 != 0}})
	}
	for split := range len(cases) + 1 {
		one := NewCollector(3)
		for _, c := range cases {
			one.Add(c.name, c.cs)
		}
		first, second := NewCollector(3), NewCollector(3)
		for _, c := range cases[:split] {
			first.Add(c.name, c.cs)
		}
		for _, c := range cases[split:] {
			second.Add(c.name, c.cs)
		}
		first.Merge(second)
		if got, want := first.Errors(), one.Errors(); !reflect.DeepEqual(got, want) {
			t.Errorf("split at %d: merged %+v, want %+v", split, got, want)
		}
	}
}
