package harness

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// scriptedAdmin answers /metrics of one node from a script, one answer
// per call ("" is a node that does not answer).
type scriptedAdmin struct{ script []string }

func (s *scriptedAdmin) Nodes() []string { return []string{"n1"} }

func (s *scriptedAdmin) Admin(context.Context, string, string, string) (int, []byte, error) {
	if len(s.script) == 0 || s.script[0] == "" {
		if len(s.script) > 0 {
			s.script = s.script[1:]
		}
		return 0, nil, errors.New("connection refused")
	}
	body := s.script[0]
	s.script = s.script[1:]
	return 200, []byte(body), nil
}

func exposition(start float64, snapshots, notLeader int) string {
	s := "# TYPE chronik_raft_snapshots_applied_total counter\n"
	s += fmt.Sprintf("chronik_raft_snapshots_applied_total %d\n", snapshots)
	s += "# TYPE chronik_produce_rejected_total counter\n"
	s += fmt.Sprintf("chronik_produce_rejected_total{reason=\"not_leader\"} %d\n", notLeader)
	if start > 0 {
		s += "# TYPE process_start_time_seconds gauge\n"
		s += fmt.Sprintf("process_start_time_seconds %g\n", start)
	}
	return s
}

// A restart resets the broker's counters; the scraper keeps each
// incarnation's last values and sums them.
func TestMetricsScraperSumsIncarnations(t *testing.T) {
	tests := []struct {
		name   string
		script []string
		incs   int
		snaps  float64
		notLdr float64
		failed int
	}{
		{name: "start time tells incarnations apart", incs: 2, snaps: 5 + 1, notLdr: 7 + 2,
			script: []string{exposition(100, 2, 3), exposition(100, 5, 7), "", exposition(200, 1, 2)}, failed: 1},
		{name: "a counter going down without a start time", incs: 2, snaps: 5 + 1, notLdr: 7 + 2,
			script: []string{exposition(0, 2, 3), exposition(0, 5, 7), exposition(0, 1, 2)}},
		{name: "one process", incs: 1, snaps: 5, notLdr: 7,
			script: []string{exposition(100, 2, 3), exposition(100, 5, 7)}},
		{name: "never answered", incs: 0, script: []string{"", ""}, failed: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adm := &scriptedAdmin{script: tt.script}
			s := newMetricsScraper(adm, time.Now())
			for range len(tt.script) {
				s.scrapeAll(context.Background())
			}
			m := s.result()
			if got := len(m.Nodes["n1"]); got != tt.incs {
				t.Fatalf("%d incarnations, want %d", got, tt.incs)
			}
			if m.Totals["chronik_raft_snapshots_applied_total"] != tt.snaps ||
				m.Totals[`chronik_produce_rejected_total{reason="not_leader"}`] != tt.notLdr ||
				m.Totals["chronik_produce_rejected_total"] != tt.notLdr || m.Failed != tt.failed {
				t.Fatalf("totals %v, failed %d", m.Totals, m.Failed)
			}
		})
	}
}
