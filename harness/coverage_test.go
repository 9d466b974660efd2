package harness

import (
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/checkers/windows"
	"github.com/chronik-chaos/chronik/nemesis"
)

func TestCoverageWarnings(t *testing.T) {
	base := time.Unix(1000, 0)
	leader := func(group string, at time.Duration) raftEvent {
		return raftEvent{Msg: eventLeader, Group: group, GID: group, At: base.Add(at)}
	}
	kill := windows.Window{Family: nemesis.FamilyKill, F: "kill", Start: 20 * time.Second, End: 32 * time.Second, Nodes: []string{"n3"}}
	// 300 acknowledged sends to t1/0 while n3 was down.
	sends := map[string][]span{}
	for i := range 300 {
		at := 21*time.Second + time.Duration(i)*30*time.Millisecond
		sends["t1/0"] = append(sends["t1/0"], span{at, at + 5*time.Millisecond})
	}
	metrics := func(installed float64) *ScrapedMetrics {
		return &ScrapedMetrics{Scrapes: 10, Totals: map[string]float64{"chronik_raft_snapshots_applied_total": installed}}
	}
	tests := []struct {
		name    string
		in      coverageInput
		want    []string // substrings, one per warning
		elected int64
	}{
		{name: "exercised", elected: 3, in: coverageInput{faults: []string{"kill"}, snapshotEntries: 100, snapshotCatchUp: 20, metrics: metrics(2),
			leaders: []raftEvent{leader("t0/0", time.Second), leader("__meta", time.Second), leader("t0/0", 25*time.Second)},
			hist:    historyFacts{windows: []windows.Window{kill}, sends: sends}}},
		{name: "kill changed no leader", elected: 2, want: []string{"kill: no Raft group changed its leader"},
			in: coverageInput{faults: []string{"kill"}, metrics: metrics(0),
				// A new group's first leader after the kill is no change.
				leaders: []raftEvent{leader("t0/0", time.Second), leader("t5/0", 25*time.Second)},
				hist:    historyFacts{windows: []windows.Window{kill}}}},
		{name: "long kill installed no snapshot", elected: 0, want: []string{"kill: no Raft group", "snapshots: n3 was down"},
			in: coverageInput{faults: []string{"kill"}, snapshotEntries: 100, snapshotCatchUp: 20, metrics: metrics(0),
				hist: historyFacts{windows: []windows.Window{kill}, sends: sends}}},
		{name: "default thresholds expect no snapshot", elected: 1,
			in: coverageInput{faults: []string{"kill"}, metrics: metrics(0), leaders: []raftEvent{leader("t0/0", time.Second), leader("t0/0", 30*time.Second)},
				hist: historyFacts{windows: []windows.Window{kill}, sends: sends}}},
		{name: "no metrics", want: []string{"metrics: no node's /metrics"},
			in: coverageInput{hist: historyFacts{}}},
		{name: "client faults without retries", want: []string{"client faults: 1 windows"},
			in: coverageInput{faults: []string{"client"}, metrics: metrics(0),
				hist: historyFacts{windows: []windows.Window{{Family: ClientFaultFamily, F: "client-start", Start: time.Second, End: 5 * time.Second}},
					// Indefinite, but not during the window.
					infoSends: []span{{6 * time.Second, 7 * time.Second}}}}},
		{name: "client faults cut a send off",
			in: coverageInput{faults: []string{"client"}, metrics: metrics(0),
				hist: historyFacts{windows: []windows.Window{{Family: ClientFaultFamily, F: "client-start", Start: time.Second, End: 5 * time.Second}},
					infoSends: []span{{4 * time.Second, 9 * time.Second}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.base = base
			res := coverageResult(tt.in)
			if res.Valid != verdict.True {
				t.Fatalf("coverage changed the verdict: %v", res.Valid)
			}
			ws := res.Fields["warnings"].([]string)
			if len(ws) != len(tt.want) {
				t.Fatalf("warnings %q, want %d containing %q", ws, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(ws[i], w) {
					t.Fatalf("warning %d %q, want it to contain %q", i, ws[i], w)
				}
			}
			rows := res.Fields["rows"].([]CoverageRow)
			if rows[0].Path != "leader elections" || *rows[0].Count != int64(len(tt.in.leaders)) {
				t.Fatalf("first row %+v", rows[0])
			}
			for _, r := range rows {
				if (r.Count == nil) != (tt.in.metrics == nil && strings.HasPrefix(r.Source, "metrics")) {
					t.Fatalf("row %q count %v with metrics %v", r.Path, r.Count, tt.in.metrics != nil)
				}
			}
		})
	}
}
