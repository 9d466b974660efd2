package harness

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/nemesis"
)

// The durability rows come from the nemesis infos; a power loss that
// dropped nothing on a node while writes were being acknowledged is
// flagged, one that dropped bytes, or came when nothing was acknowledged,
// is not.
func TestCoverageDurability(t *testing.T) {
	info := func(f string, at time.Duration, v string) *history.Entry {
		return &history.Entry{Op: history.Op{Type: history.Info, F: f, Time: at, Value: json.RawMessage(v)}}
	}
	busy := map[string][]span{"t0/0": {{9 * time.Second, 10*time.Second - time.Millisecond}}}
	tests := []struct {
		name    string
		entries []*history.Entry
		sends   map[string][]span
		want    []string // warnings, by substring
		rows    map[string]string
	}{
		{name: "dropped bytes", sends: busy,
			entries: []*history.Entry{info("power-loss", 10*time.Second, `{"verified":{"dropped":{"n1":{"bytes_dropped":2273,"files_truncated":1}}}}`)},
			rows:    map[string]string{"node power losses": "2273 bytes dropped in all (n1 2273 B); 0 losses dropped nothing"}},
		{name: "nothing dropped on a busy node", sends: busy, want: []string{"power-loss: n2 lost power at 10.0s (power-loss) while 1 writes"},
			entries: []*history.Entry{info("power-loss", 10*time.Second, `{"verified":{"dropped":{"n2":{"bytes_dropped":0}}}}`)},
			rows:    map[string]string{"node power losses": "1 losses dropped nothing"}},
		{name: "nothing dropped on an idle cluster",
			entries: []*history.Entry{info("power-loss", 10*time.Second, `{"verified":{"dropped":{"n2":{"bytes_dropped":0}}}}`)}},
		{name: "crash with power loss and corruption outcomes", sends: busy,
			entries: []*history.Entry{
				info("crash-restart", 10*time.Second, `{"verified":{"crashed":{"n3":{"point":"raft-after-save","exit_code":5,"dropped":{"bytes_dropped":0}}},"not_reached":["n1"]}}`),
				info("corrupt-start", 20*time.Second, `{"verified":{"started":{"n2":{"repaired":"level=WARN msg=..."}},"refused":{"n3":"level=ERROR ..."}}}`),
			},
			want: []string{"power-loss: n3 lost power at 10.0s (crash point raft-after-save)"},
			rows: map[string]string{"crash points reached": "raft-after-save 1; 1 armings not reached",
				"stores damaged": "1 started (1 with a torn tail repaired), 1 refused (exit 3), 0 exited otherwise"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hf := historyFacts{sends: tt.sends}
			for _, e := range tt.entries {
				e.Process = history.Nemesis()
				hf.durability.observe(e)
			}
			res := coverageResult(coverageInput{faults: []string{nemesis.FamilyPowerLoss, nemesis.FamilyCrash, nemesis.FamilyCorrupt}, hist: hf})
			var ws []string
			for _, w := range res.Fields["warnings"].([]string) {
				if strings.HasPrefix(w, "power-loss") {
					ws = append(ws, w)
				}
			}
			if len(ws) != len(tt.want) {
				t.Fatalf("warnings %q, want %q", ws, tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(ws[i], w) {
					t.Errorf("warning %q, want %q", ws[i], w)
				}
			}
			got := map[string]string{}
			for _, r := range res.Fields["rows"].([]CoverageRow) {
				got[r.Path] = r.Detail
			}
			for path, want := range tt.rows {
				if !strings.Contains(got[path], want) {
					t.Errorf("row %q = %q, want %q", path, got[path], want)
				}
			}
		})
	}
}
