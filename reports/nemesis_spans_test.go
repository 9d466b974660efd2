package reports

import (
	"context"
	"strings"
	"testing"
	"time"
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
		`{"index":10,"time":7000,"process":0,"type":"ok","f":"send","value":[["send","t0/0",[0,1]]]}`,
	}
	h, err := decodeHistory(context.Background(), strings.NewReader(strings.Join(lines, "\n")), nil, 0)
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
	// The client op was paired across the nemesis events.
	if h.events[8].pair != 10 || h.events[10].pair != 8 {
		t.Errorf("client pairing: %d, %d", h.events[8].pair, h.events[10].pair)
	}
}

func TestDecodeHistoryReportsBadLine(t *testing.T) {
	in := `{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send","a/0",1]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send","a/0",[0,1]]]
`
	_, err := decodeHistory(context.Background(), strings.NewReader(in), nil, 0)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("want an error naming line 2, got %v", err)
	}
}
