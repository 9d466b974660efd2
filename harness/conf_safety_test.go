package harness

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestConfStepOK: Raft's rule for changing voters, judged on the voters
// before and after one applied configuration change.
func TestConfStepOK(t *testing.T) {
	tests := []struct {
		from, to string
		ok       bool
	}{
		{"", "1,2,3", true},                    // a group's first configuration
		{"1,2,3", "1,2,3", true},               // learners changed only
		{"1,2,3", "1,2,3,4", true},             // one voter added
		{"1,2,3,4", "1,3,4", true},             // one voter removed
		{"1,2,3", "1,2,4&&1,2,3", true},        // enter joint from C_old
		{"1,2,4&&1,2,3", "1,2,4", true},        // leave joint for C_new
		{"1,2,4&&1,2,3", "1,2,4&&1,2,3", true}, // learner change inside joint
		{"1,2,3", "1,2,4", false},              // swap without joint
		{"1,2,3", "1,2,3,4,5", false},          // two added at once
		{"1,2,3", "1,2,4&&1,2,5", false},       // joint not entered from C_old
		{"1,2,4&&1,2,3", "1,2,3", false},       // left joint for the old side
		{"1,2,4&&1,2,3", "1,5,4&&1,2,3", false},
	}
	for _, tt := range tests {
		t.Run(tt.from+"->"+tt.to, func(t *testing.T) {
			why := confStepOK(tt.from, tt.to)
			if (why == "") != tt.ok {
				t.Fatalf("confStepOK(%q, %q) = %q, want ok=%v", tt.from, tt.to, why, tt.ok)
			}
		})
	}
	if why := confStepOK("1,2,3", "1,2,4"); !strings.Contains(why, "{1,3} of the voters before, {2,4} of the voters after") {
		t.Errorf("explanation %q does not name the disjoint majorities", why)
	}
}

// TestConfChangesFromLogs: the configuration events of several nodes'
// logs, read like raft-safety reads them: a one-step swap and two nodes
// disagreeing at one index are reported; the joint path is not.
func TestConfChangesFromLogs(t *testing.T) {
	line := func(node, group string, index int, from, to string) string {
		return `time=2026-01-01T00:00:01.000000000Z level=INFO msg="configuration applied" node=` + node + ` group=` + group +
			` gid=7 index=` + strconv.Itoa(index) + ` from=` + from + ` to=` + to
	}
	tests := []struct {
		name string
		logs map[string][]string
		want []string
	}{
		{"joint path", map[string][]string{
			// A configuration line carries no term: it is no term regression
			// after a persisted term.
			"n1": {`time=2026-01-01T00:00:00.500000000Z level=INFO msg="raft state persisted" node=1 group=t/0 gid=7 term=2 vote=1`,
				line("1", "t/0", 5, "1,2,3", "1,2,4&&1,2,3"), line("1", "t/0", 6, "1,2,4&&1,2,3", "1,2,4")},
			"n2": {line("2", "t/0", 5, "1,2,3", "1,2,4&&1,2,3"), line("2", "t/0", 6, "1,2,4&&1,2,3", "1,2,4")},
		}, nil},
		{"one-step swap", map[string][]string{
			"n1": {line("1", "t/0", 5, "1,2,3", "1,2,4")},
			"n2": {line("2", "t/0", 5, "1,2,3", "1,2,4")},
		}, []string{AnomalyUnsafeConfChange}},
		{"divergence", map[string][]string{
			"n1": {line("1", "t/0", 5, "1,2,3", "1,2,3,4")},
			"n2": {line("2", "t/0", 5, "1,2,3", "1,2,3,5")},
		}, []string{AnomalyConfDivergence}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := map[string]nodeEvents{}
			var nodes []string
			for n, ls := range tt.logs {
				nodes = append(nodes, n)
				ls = append([]string{`time=2026-01-01T00:00:00.000000000Z level=INFO msg="raft state loaded" node=1 group=t/0 gid=7 term=1 vote=0 commit=0`}, ls...)
				logs[n] = scanRaftEvents(n, strings.NewReader(strings.Join(ls, "\n")))
				if len(logs[n].unparsed) > 0 {
					t.Fatalf("unparsed lines: %v", logs[n].unparsed)
				}
			}
			res := raftSafety(nodes, logs, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			var got []string
			for name := range res.Errors {
				got = append(got, name)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("anomalies %v, want %v (%+v)", got, tt.want, res.Errors)
			}
		})
	}
}
