package reports

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/windows"
)

func TestNemesisWindows(t *testing.T) {
	lines := []string{
		`{"index":0,"time":1000,"process":"nemesis","type":"info","f":"start","value":{"nodes":["n1"]}}`,
		`{"index":1,"time":2000,"process":"nemesis","type":"invoke","f":"kill","value":{"nodes":["n1"]}}`,
		`{"index":2,"time":2500,"process":"nemesis","type":"info","f":"kill","value":{"nodes":["n1"],"verified":{"running":false}}}`,
		`{"index":3,"time":3000,"process":"nemesis","type":"invoke","f":"kill","value":{"nodes":["n2"]}}`,
		`{"index":4,"time":3500,"process":"nemesis","type":"info","f":"kill","value":{"nodes":["n2"]}}`,
		`{"index":5,"time":4000,"process":"nemesis","type":"invoke","f":"restart","value":{"nodes":["n1"]}}`,
		`{"index":6,"time":4500,"process":"nemesis","type":"info","f":"restart","value":{"nodes":["n1"]}}`,
		`{"index":7,"time":5000,"process":"nemesis","type":"info","f":"partition","value":{"nodes":["n3"]}}`,
		`{"index":8,"time":5100,"process":0,"type":"invoke","f":"send","value":[["send","t0/0",1]]}`,
		`{"index":9,"time":6000,"process":"nemesis","type":"info","f":"heal","value":{}}`,
		`{"index":10,"time":6500,"process":"nemesis","type":"info","f":"pause","value":{"nodes":[],"skipped":"no running node"}}`,
		`{"index":11,"time":6600,"process":"nemesis","type":"invoke","f":"loss-stop","value":{"nodes":["n1"],"final":true}}`,
		`{"index":12,"time":6700,"process":"nemesis","type":"info","f":"loss-stop","value":{"nodes":["n1"],"final":true}}`,
		`{"index":13,"time":7000,"process":0,"type":"ok","f":"send","value":[["send","t0/0",[0,1]]]}`,
	}
	h, err := decodeHistory(context.Background(), strings.NewReader(strings.Join(lines, "\n")), nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ws := nemesisWindows(h)
	tests := []struct {
		kind       string
		start, end time.Duration
		startOp    int64
		endOp      int64
		open       bool
		instant    bool
	}{
		{kind: "start", start: 1000, end: 1000, startOp: 0, endOp: 0, instant: true},
		{kind: "kill", start: 2000, end: 4500, startOp: 1, endOp: 6},
		{kind: "kill", start: 3000, end: 7000, startOp: 3, endOp: -1, open: true},
		{kind: "partition", start: 5000, end: 6000, startOp: 7, endOp: 9},
		{kind: "pause", start: 6500, end: 6500, startOp: 10, endOp: 10, instant: true},
		{kind: "loss", start: 6600, end: 6700, startOp: 11, endOp: 12, instant: true},
	}
	if len(ws) != len(tests) {
		t.Fatalf("got %d windows, want %d: %+v", len(ws), len(tests), ws)
	}
	for i, tc := range tests {
		t.Run(tc.kind+"-"+ws[i].Label, func(t *testing.T) {
			w := ws[i]
			if w.Kind != tc.kind || w.Start != tc.start || w.End != tc.end || w.StartOp != tc.startOp || w.EndOp != tc.endOp || w.Open != tc.open || w.Instant != tc.instant {
				t.Errorf("got %+v, want %+v", w, tc)
			}
		})
	}
	// The report shades exactly the windows the stats checker measures.
	rd := history.NewReader(strings.NewReader(strings.Join(lines, "\n")))
	tr := windows.NewTracker()
	for {
		e, err := rd.Next()
		if err != nil {
			break
		}
		tr.Observe(&e)
	}
	checked := tr.Windows()
	if len(checked) != len(ws) {
		t.Fatalf("stats windows %+v, report windows %+v", checked, ws)
	}
	for i, c := range checked {
		w := ws[i]
		if c.Start != w.Start || c.End != w.End || c.StartIndex != w.StartOp || c.Instant != w.Instant || c.Open() != w.Open {
			t.Errorf("window %d: stats %+v, report %+v", i, c, w)
		}
	}
	// The client op was paired across the nemesis events.
	if h.events[8].pair != 13 || h.events[13].pair != 8 {
		t.Errorf("client pairing: %d, %d", h.events[8].pair, h.events[10].pair)
	}
}

func TestDecodeHistoryReportsBadLine(t *testing.T) {
	in := `{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send","a/0",1]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send","a/0",[0,1]]]
`
	_, err := decodeHistory(context.Background(), strings.NewReader(in), nil, nil, 0)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("want an error naming line 2, got %v", err)
	}
}
