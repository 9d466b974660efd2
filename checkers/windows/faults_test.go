package windows

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

func nem(i int64, t time.Duration, typ history.Type, f string, inv int64) history.Entry {
	return history.Entry{
		Op:          history.Op{Index: i, Time: t, Process: history.Nemesis(), Type: typ, F: f, Value: json.RawMessage(`{"nodes":["n1"]}`)},
		InvokeIndex: inv, InvokeTime: t,
	}
}

func withInvokeTime(e history.Entry, t time.Duration) history.Entry {
	e.InvokeTime = t
	return e
}

func TestWindows(t *testing.T) {
	tests := []struct {
		name   string
		events []history.Entry
		want   []Window
	}{
		{"kill then restart", []history.Entry{
			nem(0, 10, history.Invoke, "kill", 0), nem(1, 12, history.Info, "kill", 0),
			nem(2, 30, history.Invoke, "restart", 2), nem(3, 35, history.Info, "restart", 2),
		}, []Window{{F: "kill", StopF: "restart", Start: 10, End: 35, StartIndex: 0, StopIndex: 3}}},
		{"generic suffix pairing and heal-all", []history.Entry{
			nem(0, 10, history.Info, "loss-start", 0), nem(1, 11, history.Info, "pause", 1),
			nem(2, 20, history.Info, "loss-stop", 2), nem(3, 40, history.Info, "final-heal", 3),
		}, []Window{
			{F: "loss-start", StopF: "loss-stop", Start: 10, End: 20, StartIndex: 0, StopIndex: 2},
			{F: "pause", StopF: "final-heal", Start: 11, End: 40, StartIndex: 1, StopIndex: 3},
		}},
		{"stop with nothing open is an instant", []history.Entry{nem(0, 5, history.Invoke, "start", 0), withInvokeTime(nem(1, 6, history.Info, "start", 0), 5)},
			[]Window{{F: "start", Start: 5, End: 6, StartIndex: 0, StopIndex: 1, Instant: true}}},
		{"heal closes a partition, not a kill", []history.Entry{
			nem(0, 1, history.Info, "kill", 0), nem(1, 2, history.Info, "partition", 1), nem(2, 3, history.Info, "heal", 2), nem(3, 4, history.Info, "restart", 3),
		}, []Window{
			{F: "kill", StopF: "restart", Start: 1, End: 4, StartIndex: 0, StopIndex: 3},
			{F: "partition", StopF: "heal", Start: 2, End: 3, StartIndex: 1, StopIndex: 2},
		}},
		{"unknown f is an instant", []history.Entry{nem(0, 5, history.Info, "bump", 0)},
			[]Window{{F: "bump", Start: 5, End: 5, StartIndex: 0, StopIndex: 0, Instant: true}}},
		{"open at end closes at last event", []history.Entry{nem(0, 5, history.Info, "partition", 0), {Op: history.Op{Index: 1, Time: 50, Process: history.Client(0), Type: history.Invoke, F: "poll"}}},
			[]Window{{F: "partition", Start: 5, End: 50, StartIndex: 0, StopIndex: -1}}},
		{"stop closes the oldest window only", []history.Entry{
			nem(0, 1, history.Info, "kill", 0), nem(1, 2, history.Info, "kill", 1), nem(2, 3, history.Info, "restart", 2),
		}, []Window{
			{F: "kill", StopF: "restart", Start: 1, End: 3, StartIndex: 0, StopIndex: 2},
			{F: "kill", Start: 2, End: 3, StartIndex: 1, StopIndex: -1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker()
			for i := range tt.events {
				tr.Observe(&tt.events[i])
			}
			got := tr.Windows()
			if len(got) != len(tt.want) {
				t.Fatalf("got %d windows %+v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				g.Value = ""
				if g != w {
					t.Errorf("window %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}
