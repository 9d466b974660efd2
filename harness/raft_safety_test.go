package harness

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers/verdict"
)

func TestRaftSafety(t *testing.T) {
	base := time.Date(2026, 11, 27, 11, 40, 0, 0, time.UTC)
	cases := []struct {
		name   string
		dir    string
		nodes  []string
		valid  verdict.Validity
		counts map[string]int
		// firstTime is the expected history time of the first example of
		// the first anomaly name (sorted), when one is expected.
		firstTime time.Duration
		unread    int
	}{
		{name: "correct leaders pass", dir: "good", nodes: []string{"n1", "n2", "n3"}, valid: verdict.True, counts: map[string]int{}},
		{name: "missing log is skipped and named", dir: "good", nodes: []string{"n1", "n2", "n3", "n4"}, valid: verdict.True, counts: map[string]int{}, unread: 1},
		{name: "two leaders in one term", dir: "two-leaders", nodes: []string{"n1", "n2", "n3"}, valid: verdict.False,
			counts: map[string]int{AnomalyElectionSafety: 1}, firstTime: 21 * time.Second},
		{name: "leader in a lower term after a restart", dir: "regression", nodes: []string{"n1", "n2"}, valid: verdict.False,
			counts: map[string]int{AnomalyTermRegression: 1}, firstTime: 21 * time.Second},
		{name: "restart below a term a vote was answered in", dir: "regression", nodes: []string{"n1", "n2", "n3"}, valid: verdict.False,
			counts: map[string]int{AnomalyTermRegression: 2}, firstTime: 21 * time.Second},
		{name: "voter restarted below the term it answered in", dir: "voter-regression", nodes: []string{"n1", "n2"}, valid: verdict.False,
			counts: map[string]int{AnomalyTermRegression: 1}, firstTime: 7 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := raftSafetyResult(filepath.Join("testdata", "raft_safety", tc.dir), tc.nodes, base)
			if res.Valid != tc.valid {
				t.Fatalf("valid = %v, want %v (%v)", res.Valid, tc.valid, res.Fields)
			}
			if got := safetyCounts(res); len(got) != len(tc.counts) {
				t.Errorf("safetyCounts = %v, want %v", got, tc.counts)
			} else {
				for n, c := range tc.counts {
					if got[n] != c {
						t.Errorf("safetyCounts[%s] = %d, want %d", n, got[n], c)
					}
				}
			}
			b, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Errors map[string]struct {
					Count    int             `json:"count"`
					Examples []safetyExample `json:"examples"`
				} `json:"errors"`
				Unread []string `json:"unread_logs"`
			}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Errors) != len(tc.counts) {
				t.Fatalf("anomalies %v, want %v", got.Errors, tc.counts)
			}
			for name, want := range tc.counts {
				e := got.Errors[name]
				if e.Count != want {
					t.Errorf("%s count = %d, want %d", name, e.Count, want)
				}
				if len(e.Examples) == 0 {
					t.Fatalf("%s has no examples", name)
				}
				if ex := e.Examples[0]; time.Duration(ex.Time) != tc.firstTime || ex.First.Node == "" || ex.Second.Line == 0 || !strings.Contains(ex.Message, ex.Group) {
					t.Errorf("%s example = %+v, want time %v, both lines named", name, ex, tc.firstTime)
				}
			}
			if len(got.Unread) != tc.unread {
				t.Errorf("unread logs %v, want %d", got.Unread, tc.unread)
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
