package reports

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// TestLoadHistoryPairsLikeTheCheckers pins the pairing the report shares
// with the checkers: overlapping nemesis actions of one f pair oldest
// first. The report used to pair a completion with the newest open invoke
// and lose the older one, so the first kill's window had no start.
func TestLoadHistoryPairsLikeTheCheckers(t *testing.T) {
	in := strings.Join([]string{
		`{"index":0,"time":1,"process":"nemesis","type":"invoke","f":"kill","value":{"nodes":["n1"]}}`,
		`{"index":1,"time":2,"process":"nemesis","type":"invoke","f":"kill","value":{"nodes":["n2"]}}`,
		`{"index":2,"time":3,"process":0,"type":"invoke","f":"send","value":[["send","t0/0",1]]}`,
		`{"index":3,"time":4,"process":"nemesis","type":"info","f":"kill","value":{"nodes":["n1"]}}`,
		`{"index":4,"time":5,"process":"nemesis","type":"info","f":"kill","value":{"nodes":["n2"]}}`,
		`{"index":5,"time":6,"process":0,"type":"ok","f":"send","value":[["send","t0/0",[0,1]]]}`,
		`{"index":6,"time":7,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}`,
	}, "\n")
	h, err := decodeHistory(context.Background(), strings.NewReader(in), nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The poll left open at the end stays unpaired (never completed): the
	// reader's synthetic completion is not a line of the file.
	want := []int64{3, 4, 5, 0, 1, 2, -1}
	if len(h.events) != len(want) {
		t.Fatalf("got %d events, want %d", len(h.events), len(want))
	}
	for i, p := range want {
		if h.events[i].pair != p {
			t.Errorf("event %d pairs %d, want %d", i, h.events[i].pair, p)
		}
	}
}

// TestLoadHistoryRejects checks that what the checkers' reader rejects,
// the report rejects too, naming the line, and keeps the events before it
// (it used to read an unknown type as info and skip empty lines).
func TestLoadHistoryRejects(t *testing.T) {
	inv := `{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send","t0/0",1]]}`
	tests := []struct {
		name  string
		lines []string
		line  int64
		msg   string
	}{
		{"unknown type", []string{inv, `{"index":1,"time":2,"process":0,"type":"done","f":"send","value":null}`}, 2, "unknown type"},
		{"empty line", []string{inv, ``, `{"index":1,"time":2,"process":0,"type":"fail","f":"send","value":null}`}, 2, "empty line"},
		{"index gap", []string{inv, `{"index":2,"time":2,"process":0,"type":"fail","f":"send","value":null}`}, 2, "index 2, want 1"},
		{"completion without invoke", []string{inv, `{"index":1,"time":2,"process":4,"type":"ok","f":"send","value":[["send","t0/0",[0,1]]]}`}, 2, "without an open invoke"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := decodeHistory(context.Background(), strings.NewReader(strings.Join(tc.lines, "\n")+"\n"), nil, nil, 0)
			var fe *history.FormatError
			if !errors.As(err, &fe) || fe.Line != tc.line || !strings.Contains(fe.Msg, tc.msg) {
				t.Fatalf("err = %v, want line %d: %s", err, tc.line, tc.msg)
			}
			if h == nil || len(h.events) != int(tc.line-1) {
				t.Fatalf("want the %d events before the bad line, got %+v", tc.line-1, h)
			}
		})
	}
}
