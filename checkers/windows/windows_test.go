package windows

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// nem is a nemesis event naming node n1.
func nem(i int64, t time.Duration, typ history.Type, f string, inv int64) history.Entry {
	return nemV(i, t, typ, f, inv, `{"nodes":["n1"]}`)
}

func nemV(i int64, t time.Duration, typ history.Type, f string, inv int64, value string) history.Entry {
	return history.Entry{
		Op:          history.Op{Index: i, Time: t, Process: history.Nemesis(), Type: typ, F: f, Value: json.RawMessage(value)},
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
		}, []Window{{Family: "kill", F: "kill", StopF: "restart", Start: 10, End: 35, StartIndex: 0, StopIndex: 3}}},
		{"own stop and heal-all", []history.Entry{
			nem(0, 10, history.Info, "loss-start", 0), nem(1, 11, history.Info, "pause", 1),
			nem(2, 20, history.Info, "loss-stop", 2), nem(3, 40, history.Info, "final-heal", 3),
		}, []Window{
			{Family: "loss", F: "loss-start", StopF: "loss-stop", Start: 10, End: 20, StartIndex: 0, StopIndex: 2},
			{Family: "pause", F: "pause", StopF: "final-heal", Start: 11, End: 40, StartIndex: 1, StopIndex: 3},
		}},
		{"generic naming pairs unknown families", []history.Entry{
			nem(0, 10, history.Info, "flood-start", 0), nem(1, 11, history.Info, "start-storm", 1),
			nem(2, 20, history.Info, "flood-stop", 2), nem(3, 30, history.Info, "stop-storm", 3),
		}, []Window{
			{F: "flood-start", StopF: "flood-stop", Start: 10, End: 20, StartIndex: 0, StopIndex: 2},
			{F: "start-storm", StopF: "stop-storm", Start: 11, End: 30, StartIndex: 1, StopIndex: 3},
		}},
		{"foreign aliases pair", []history.Entry{
			nem(0, 10, history.Info, "start-partition", 0), nem(1, 20, history.Info, "stop-partition", 1),
			nem(2, 30, history.Info, "bump-clock", 2), nem(3, 40, history.Info, "reset-clock", 3),
		}, []Window{
			{Family: "partition", F: "start-partition", StopF: "stop-partition", Start: 10, End: 20, StartIndex: 0, StopIndex: 1},
			{Family: "clock", F: "bump-clock", StopF: "reset-clock", Start: 30, End: 40, StartIndex: 2, StopIndex: 3},
		}},
		{"staggered start is an instant", []history.Entry{nem(0, 5, history.Invoke, "start", 0), withInvokeTime(nem(1, 6, history.Info, "start", 0), 5)},
			[]Window{{Family: "staggered-start", F: "start", Start: 5, End: 6, StartIndex: 0, StopIndex: 1, Instant: true}}},
		{"heal closes a partition, not a kill", []history.Entry{
			nem(0, 1, history.Info, "kill", 0), nem(1, 2, history.Info, "partition", 1), nem(2, 3, history.Info, "heal", 2), nem(3, 4, history.Info, "restart", 3),
		}, []Window{
			{Family: "kill", F: "kill", StopF: "restart", Start: 1, End: 4, StartIndex: 0, StopIndex: 3},
			{Family: "partition", F: "partition", StopF: "heal", Start: 2, End: 3, StartIndex: 1, StopIndex: 2},
		}},
		{"unknown f is an instant", []history.Entry{nem(0, 5, history.Info, "bump", 0)},
			[]Window{{F: "bump", Start: 5, End: 5, StartIndex: 0, StopIndex: 0, Instant: true}}},
		{"open at end closes at last event", []history.Entry{nem(0, 5, history.Info, "partition", 0), {Op: history.Op{Index: 1, Time: 50, Process: history.Client(0), Type: history.Invoke, F: "poll"}}},
			[]Window{{Family: "partition", F: "partition", Start: 5, End: 50, StartIndex: 0, StopIndex: -1}}},
		// The nemesis records a start it found no target for as a lone
		// info with "skipped": no fault took effect, so no window may
		// open (it would swallow the next real fault's stop).
		{"skipped start is an instant", []history.Entry{
			nemV(0, 1, history.Info, "kill", 0, `{"nodes":[],"skipped":"no running node"}`),
			nemV(1, 2, history.Invoke, "kill", 1, `{"nodes":["n2"]}`), nemV(2, 3, history.Info, "kill", 1, `{"nodes":["n2"]}`),
			nemV(3, 9, history.Invoke, "restart", 3, `{"nodes":["n2"]}`), nemV(4, 10, history.Info, "restart", 3, `{"nodes":["n2"]}`),
		}, []Window{
			{Family: "kill", F: "kill", Start: 1, End: 1, StartIndex: 0, StopIndex: 0, Instant: true},
			{Family: "kill", F: "kill", StopF: "restart", Start: 2, End: 10, StartIndex: 1, StopIndex: 4},
		}},
		// Targeted families end only the windows of the nodes a stop
		// names.
		{"restart ends the kills of its nodes", []history.Entry{
			nemV(0, 1, history.Info, "kill", 0, `{"nodes":["n1"]}`), nemV(1, 2, history.Info, "kill", 1, `{"nodes":["n2"]}`),
			nemV(2, 3, history.Info, "restart", 2, `{"nodes":["n2"]}`), nemV(3, 4, history.Info, "restart", 3, `{"nodes":[]}`),
		}, []Window{
			{Family: "kill", F: "kill", StopF: "restart", Start: 1, End: 4, StartIndex: 0, StopIndex: 3},
			{Family: "kill", F: "kill", StopF: "restart", Start: 2, End: 3, StartIndex: 1, StopIndex: 2},
		}},
		// Cluster-wide families end whatever nodes the stop lists: a
		// delay started on the nodes that answered then is stopped on the
		// nodes that answer now.
		{"cluster-wide stop ignores nodes", []history.Entry{
			nemV(0, 1, history.Info, "delay-start", 0, `{"nodes":["n1"]}`), nemV(1, 2, history.Info, "delay-stop", 1, `{"nodes":["n2","n3"]}`),
		}, []Window{{Family: "delay", F: "delay-start", StopF: "delay-stop", Start: 1, End: 2, StartIndex: 0, StopIndex: 1}}},
		{"stop with nothing to end is an instant", []history.Entry{
			nemV(0, 1, history.Invoke, "heal", 0, `{"nodes":["n1","n2"],"final":true}`), withInvokeTime(nemV(1, 2, history.Info, "heal", 0, `{"nodes":["n1","n2"],"final":true}`), 1),
		}, []Window{{Family: "partition", F: "heal", Start: 1, End: 2, StartIndex: 0, StopIndex: 1, Instant: true}}},
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
				g.Value, g.Nodes = "", nil
				if !reflect.DeepEqual(g, w) {
					t.Errorf("window %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

// TestWindowNodes: a window carries the nodes of its start's completion,
// for the report's nemesis table.
func TestWindowNodes(t *testing.T) {
	tr := NewTracker()
	for _, e := range []history.Entry{
		nemV(0, 1, history.Invoke, "kill", 0, `{"nodes":[],"target":"leader"}`), nemV(1, 2, history.Info, "kill", 0, `{"nodes":["n3"],"target":"leader"}`),
	} {
		tr.Observe(&e)
	}
	tr.Advance(100)
	ws := tr.Windows()
	if len(ws) != 1 || len(ws[0].Nodes) != 1 || ws[0].Nodes[0] != "n3" || ws[0].End != 100 || !ws[0].Open() {
		t.Errorf("windows %+v", ws)
	}
}
