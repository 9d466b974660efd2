package reports

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// statsHistory: a kill of n2 from 1 s to 3 s; sends complete at 0.5 s
// (ok), 1.5 s (fail), 2.0 s (info), 2.5 s (ok) and 4.0 s (ok).
var statsHistory = strings.Join([]string{
	`{"index":0,"time":400000000,"process":0,"type":"invoke","f":"send","value":[["send","t0/0",1]]}`,
	`{"index":1,"time":500000000,"process":0,"type":"ok","f":"send","value":[["send","t0/0",[0,1]]]}`,
	`{"index":2,"time":1000000000,"process":"nemesis","type":"invoke","f":"kill","value":{"nodes":["n2"]}}`,
	`{"index":3,"time":1010000000,"process":"nemesis","type":"info","f":"kill","value":{"nodes":["n2"]}}`,
	`{"index":4,"time":1100000000,"process":0,"type":"invoke","f":"send","value":[["send","t0/0",2]]}`,
	`{"index":5,"time":1500000000,"process":0,"type":"fail","f":"send","value":[["send","t0/0",2]],"error":"NOT_LEADER_FOR_PARTITION"}`,
	`{"index":6,"time":1600000000,"process":0,"type":"invoke","f":"send","value":[["send","t0/0",3]]}`,
	`{"index":7,"time":2000000000,"process":0,"type":"info","f":"send","value":[["send","t0/0",3]],"error":"context deadline exceeded"}`,
	`{"index":8,"time":2100000000,"process":1,"type":"invoke","f":"send","value":[["send","t0/0",4]]}`,
	`{"index":9,"time":2500000000,"process":1,"type":"ok","f":"send","value":[["send","t0/0",[1,4]]]}`,
	`{"index":10,"time":2990000000,"process":"nemesis","type":"invoke","f":"restart","value":{"nodes":["n2"]}}`,
	`{"index":11,"time":3000000000,"process":"nemesis","type":"info","f":"restart","value":{"nodes":["n2"]}}`,
	`{"index":12,"time":3900000000,"process":1,"type":"invoke","f":"send","value":[["send","t0/0",5]]}`,
	`{"index":13,"time":4000000000,"process":1,"type":"ok","f":"send","value":[["send","t0/0",[2,5]]]}`,
	`{"index":14,"time":4100000000,"process":1,"type":"invoke","f":"send","value":[["send","t0/0",6]]}`,
	`{"index":15,"time":4200000000,"process":1,"type":"fail","f":"send","value":[["send","t0/0",6]],"error":"NOT_LEADER_FOR_PARTITION"}`,
}, "\n") + "\n"

func TestAvailabilityAndErrors(t *testing.T) {
	h, err := decodeHistory(context.Background(), strings.NewReader(statsHistory), nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	wins := nemesisWindows(h)
	rows := availability(h, wins)
	if len(rows) != 3 {
		t.Fatalf("got %d rows, want the kill window, outside faults and the whole run: %+v", len(rows), rows)
	}
	type counts struct{ ok, fail, info int }
	want := []struct {
		label string
		c     counts
		secs  float64
		gap   float64
	}{
		{"kill n2", counts{1, 1, 1}, 2.0, 1.5},
		{"no fault in effect", counts{2, 1, 0}, 2.2, 1.0},
		{"whole run", counts{3, 2, 1}, 4.2, 2.0},
	}
	for i, w := range want {
		r := rows[i]
		if r.Label != w.label || (counts{r.Ok, r.Fail, r.Info}) != w.c || !near(r.Seconds, w.secs) || !near(r.LongestGap, w.gap) {
			t.Errorf("row %d: %s ok %d fail %d info %d over %.2f s, gap %.2f s; want %s %v over %.2f s, gap %.2f s",
				i, r.Label, r.Ok, r.Fail, r.Info, r.Seconds, r.LongestGap, w.label, w.c, w.secs, w.gap)
		}
	}
	groups, more := errorGroups(h, wins)
	if more != 0 || len(groups) != 2 {
		t.Fatalf("got %d groups (+%d), want 2: %+v", len(groups), more, groups)
	}
	if g := groups[0]; g.Message != "NOT_LEADER_FOR_PARTITION" || g.Count != 2 || g.InFaults != 1 || g.FirstOp != 5 || g.LastOp != 15 {
		t.Errorf("first group %+v, want NOT_LEADER_FOR_PARTITION twice, once inside the kill, ops 5 to 15", g)
	}
	if g := groups[1]; g.Type != "info" || g.Count != 1 || g.InFaults != 1 {
		t.Errorf("second group %+v, want one info inside the kill", g)
	}
	stats, _ := operationStats(h)
	if len(stats) != 1 || stats[0].P50 == "" || stats[0].P90 == "" || stats[0].P99 == "" || stats[0].Max != "400" {
		t.Errorf("latency of sends %+v, want p50/p90/p99 and a max of 400 ms", stats)
	}
}

func near(a, b float64) bool { return a-b < 0.011 && b-a < 0.011 }

// Unknown sections render as fields with units, never as JSON.
func TestFieldHTML(t *testing.T) {
	dec := func(s string) any {
		v, ok := decodeNumbers([]byte(s))
		if !ok {
			t.Fatalf("bad JSON %s", s)
		}
		return v
	}
	tests := []struct {
		name  string
		field string
		json  string
		want  []string
	}{
		{name: "units", field: "coverage", json: `{"snapshots_sent":3,"catchup_ms":12.5,"took_s":2,"size_bytes":2048,"healthy":true}`,
			want: []string{"<dt>snapshots sent</dt><dd>3</dd>", "<dt>catchup (ms)</dt><dd>12.5 ms</dd>", "2.00 s", "2.0 KiB", "yes"}},
		{name: "object of objects is a table", field: "latency", json: `{"send":{"p50_ms":1.25,"max_ms":300},"poll":{"p50_ms":0.5,"max_ms":2}}`,
			want: []string{"<th>max (ms)</th><th>p50 (ms)</th>", "<tr><th>poll</th><td>2.00</td><td>0.50</td></tr>", "<td>300</td>"}},
		{name: "counts sorted", field: "error_messages", json: `{"a":1,"b":9,"c":3,"d":2,"e":5,"f":1,"g":4}`,
			want: []string{`<tr><td>b</td><td class="num">9</td></tr><tr><td>e</td><td class="num">5</td></tr>`}},
		{name: "long list of rows folds", field: "rows", json: "[" + strings.Repeat(`{"t":1,"ok":2},`, 30) + `{"t":2,"ok":3}]`,
			want: []string{"<summary>31 rows</summary>", "<th>ok</th><th>t</th>"}},
		{name: "ops link", field: "windows", json: `[{"f":"kill","ops":[3,9]}]`, want: []string{`<a href="#op-3">#3</a>, <a href="#op-9">#9</a>`}},
		{name: "long scalar list", field: "values", json: "[" + strings.Repeat("1,", 60) + "2]", want: []string{"… 21 more (in results.json)"}},
		{name: "deep nesting", field: "x", json: `{"a":{"b":{"c":{"d":{"e":{"f":[1,[2]]}}}}}}`, want: []string{"(in results.json)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(fieldHTML(tc.field, dec(tc.json)))
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("fieldHTML lacks %q:\n%s", w, got)
				}
			}
			if strings.Contains(got, "<pre") || strings.Contains(got, "&#34;") {
				t.Errorf("fieldHTML dumps JSON:\n%s", got)
			}
		})
	}
	_ = json.Number("")
}

// TestErrorShapes groups error messages that differ only in the partition
// they name, and leaves other messages alone.
func TestErrorShapes(t *testing.T) {
	shapes := []struct {
		msg, shape string
		keys       []string
	}{
		{"operation not sent metadata t2/0: no leader", "operation not sent metadata ‹key›: no leader", []string{"t2/0"}},
		{"produce t3/0 to broker 1: EOF", "produce ‹key› to broker 1: EOF", []string{"t3/0"}},
		{"commit chronik-default/12 and t0/1: timed out", "commit ‹key› and ‹key›: timed out", []string{"chronik-default/12", "t0/1"}},
		{"GET http://10.77.0.2:9644/admin/members/3: EOF", "GET http://10.77.0.2:9644/admin/members/3: EOF", nil},
		{"context deadline exceeded", "context deadline exceeded", nil},
	}
	for _, s := range shapes {
		got, keys := messageShape(s.msg)
		if got != s.shape || strings.Join(keys, " ") != strings.Join(s.keys, " ") {
			t.Errorf("messageShape(%q) = %q %v, want %q %v", s.msg, got, keys, s.shape, s.keys)
		}
	}
	var lines []string
	for i, msg := range []string{"metadata t2/0: no leader", "metadata t3/1: no leader", "metadata t2/0: no leader", "EOF"} {
		lines = append(lines,
			`{"index":`+strconv.Itoa(2*i)+`,"time":`+strconv.Itoa(1000*(2*i+1))+`,"process":0,"type":"invoke","f":"send","value":[["send","t0/0",`+strconv.Itoa(i)+`]]}`,
			`{"index":`+strconv.Itoa(2*i+1)+`,"time":`+strconv.Itoa(1000*(2*i+2))+`,"process":0,"type":"fail","f":"send","value":[["send","t0/0",`+strconv.Itoa(i)+`]],"error":"`+msg+`"}`)
	}
	h, err := decodeHistory(context.Background(), strings.NewReader(strings.Join(lines, "\n")+"\n"), nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	groups, _ := errorGroups(h, nil)
	if len(groups) != 2 {
		t.Fatalf("got %d groups, want the no-leader shape and EOF: %+v", len(groups), groups)
	}
	g := groups[0]
	if g.Message != "metadata ‹key›: no leader" || g.Count != 3 || strings.Join(g.Keys, ",") != "t2/0,t3/1" || g.FirstOp != 1 || g.LastOp != 5 {
		t.Errorf("first group %+v, want the no-leader shape 3 times on t2/0 and t3/1, ops 1 to 5", g)
	}
	if g := groups[1]; g.Message != "EOF" || g.Count != 1 || g.Keys != nil {
		t.Errorf("second group %+v, want EOF once, no keys", g)
	}
}
