package harness

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/verdict"
)

func TestRaftSafety(t *testing.T) {
	base := time.Date(2026, 11, 27, 11, 40, 0, 0, time.UTC)
	cases := []struct {
		name  string
		dir   string
		nodes []string
		valid verdict.Validity
		// counts and firstTime are the expected number of cases of each
		// anomaly and the history time of its first example.
		counts    map[string]int
		firstTime map[string]time.Duration
		// unread, silent and unparsed are the expected sizes of the
		// section's lists of input the check could not use.
		unread, silent, unparsed int
	}{
		{name: "correct leaders pass", dir: "good", nodes: []string{"n1", "n2", "n3"}, valid: verdict.True},
		{name: "a node the run never started is not missed", dir: "good", nodes: []string{"n1", "n2"}, valid: verdict.True},
		{name: "no node log at all is unknown", dir: "good", nodes: []string{"n4", "n5", "n6"}, valid: verdict.Unknown, unread: 3},
		{name: "one started node without a log is unknown", dir: "good", nodes: []string{"n1", "n2", "n3", "n4"}, valid: verdict.Unknown, unread: 1},
		{name: "no nodes is unknown", dir: "good", valid: verdict.Unknown},
		{name: "a log without Raft events is unknown", dir: "silent", nodes: []string{"n1", "n2"}, valid: verdict.Unknown, silent: 1},
		{name: "an event line that does not parse is unknown", dir: "unparsed", nodes: []string{"n1"}, valid: verdict.Unknown, unparsed: 1},
		{name: "an anomaly beside an unparsed line is still invalid", dir: "unparsed", nodes: []string{"n1", "n2"}, valid: verdict.False,
			counts: map[string]int{AnomalyTermRegression: 1}, firstTime: map[string]time.Duration{AnomalyTermRegression: 1200 * time.Millisecond}, unparsed: 1},
		{name: "an anomaly beside a missing log is still invalid", dir: "two-leaders", nodes: []string{"n1", "n2", "n3", "n4"}, valid: verdict.False,
			counts:    map[string]int{AnomalyElectionSafety: 1, AnomalyLostVote: 1},
			firstTime: map[string]time.Duration{AnomalyElectionSafety: 21 * time.Second, AnomalyLostVote: 20001 * time.Millisecond}, unread: 1},
		{name: "two leaders in one term, after a lost vote", dir: "two-leaders", nodes: []string{"n1", "n2", "n3"}, valid: verdict.False,
			counts:    map[string]int{AnomalyElectionSafety: 1, AnomalyLostVote: 1},
			firstTime: map[string]time.Duration{AnomalyElectionSafety: 21 * time.Second, AnomalyLostVote: 20001 * time.Millisecond}},
		{name: "restart and leader below a persisted term", dir: "regression", nodes: []string{"n1", "n2"}, valid: verdict.False,
			counts: map[string]int{AnomalyTermRegression: 2}, firstTime: map[string]time.Duration{AnomalyTermRegression: 20500 * time.Millisecond}},
		{name: "restart below a term persisted by a vote", dir: "regression", nodes: []string{"n1", "n2", "n3"}, valid: verdict.False,
			counts: map[string]int{AnomalyTermRegression: 3}, firstTime: map[string]time.Duration{AnomalyTermRegression: 20500 * time.Millisecond}},
		{name: "restart in the term of a vote without the vote", dir: "lost-vote", nodes: []string{"n1", "n2"}, valid: verdict.False,
			counts: map[string]int{AnomalyLostVote: 1}, firstTime: map[string]time.Duration{AnomalyLostVote: 6001 * time.Millisecond}},
		{name: "voter restarted below the term it voted in", dir: "voter-regression", nodes: []string{"n1", "n2"}, valid: verdict.False,
			counts: map[string]int{AnomalyTermRegression: 1}, firstTime: map[string]time.Duration{AnomalyTermRegression: 7 * time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := raftSafetyResult(filepath.Join("testdata", "raft_safety", tc.dir), tc.nodes, base)
			if res.Valid != tc.valid {
				t.Fatalf("valid = %v, want %v (%s; %v)", res.Valid, tc.valid, res.Error, res.Fields)
			}
			if (res.Valid == verdict.Unknown) != (res.Error != "") {
				t.Errorf("verdict %v with error %q: an unknown verdict says why, no other does", res.Valid, res.Error)
			}
			// Read the section back as every reader does: the one shape.
			b, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				verdict.Findings
				Unread   []string `json:"unread_logs"`
				Silent   []string `json:"silent_logs"`
				Unparsed int      `json:"unparsed_lines"`
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Errors) != len(tc.counts) {
				t.Fatalf("anomalies %v, want %v", got.Errors, tc.counts)
			}
			for name, want := range tc.counts {
				e := got.Errors[name]
				if e.Count != want || e.FatalCount != want {
					t.Errorf("%s count = %d (%d fatal), want %d", name, e.Count, e.FatalCount, want)
				}
				if len(e.Examples) == 0 {
					t.Fatalf("%s has no examples", name)
				}
				ex := e.Examples[0]
				if ex.Time == nil || time.Duration(*ex.Time) != tc.firstTime[name] || !ex.Fatal || ex.Node == "" || ex.Key == "" ||
					!strings.Contains(ex.Explanation, ex.Key) || len(ex.Log) != 2 || ex.Log[0].Line == 0 || ex.Log[1].Line == 0 ||
					!strings.HasSuffix(ex.Log[1].File, "/"+NodeLogFile) {
					t.Errorf("%s example = %+v, want time %v, node, key, both lines cited", name, ex, tc.firstTime[name])
				}
			}
			if len(got.Unread) != tc.unread || len(got.Silent) != tc.silent || got.Unparsed != tc.unparsed {
				t.Errorf("unread %v, silent %v, unparsed %d; want %d, %d, %d", got.Unread, got.Silent, got.Unparsed, tc.unread, tc.silent, tc.unparsed)
			}
			var all checkers.Results
			all.Add(RaftSafetyName, res)
			if n := all.Counts(); len(n) != len(tc.counts) || (len(n) > 0 && !maps.Equal(n, tc.counts)) {
				t.Errorf("Results.Counts = %v, want %v", n, tc.counts)
			}
		})
	}
}

func TestParseLogfmt(t *testing.T) {
	cases := []struct {
		name, line string
		want       map[string]string
	}{
		{name: "plain and quoted", line: `time=2026-11-27T11:40:16.987Z level=INFO msg="became leader" group=t0/0 term=2`,
			want: map[string]string{"time": "2026-11-27T11:40:16.987Z", "msg": "became leader", "group": "t0/0", "term": "2"}},
		{name: "escaped quote and first repeated key wins", line: `msg="say \"hi\"" component=cluster component=transport`,
			want: map[string]string{"msg": `say "hi"`, "component": "cluster"}},
		{name: "garbage", line: `panic: boom`, want: map[string]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := parseLogfmt(tc.line)
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
			if len(tc.want) == 0 && len(got) != 0 {
				t.Errorf("got %v, want nothing", got)
			}
		})
	}
}
