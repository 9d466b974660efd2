package harness

import (
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/nemesis"
)

// A term regression at the first load after the corrupt nemesis damaged
// the node's store is allowed (the fault may have removed durable state);
// the same regression at another restart, or on another node, is not.
func TestRaftSafetyDamagedStore(t *testing.T) {
	base := time.Unix(1000, 0)
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	ev := func(node, msg string, term uint64, s, line int) raftEvent {
		return raftEvent{Msg: msg, Node: node, Group: "__meta", GID: "1", Term: term, At: at(s), Line: line}
	}
	logs := map[string]nodeEvents{
		"n1": {events: []raftEvent{ev("n1", eventLoaded, 0, 1, 1), ev("n1", eventPersisted, 2, 5, 2), ev("n1", eventLoaded, 1, 22, 3)}},
		"n2": {events: []raftEvent{ev("n2", eventLoaded, 0, 1, 1)}},
	}
	tests := []struct {
		name    string
		damaged []nemesis.Damage
		valid   verdict.Validity
		fatal   int
	}{
		{"no damage", nil, verdict.False, 1},
		{"damaged before that start", []nemesis.Damage{{Node: "n1", Stopped: at(15), Started: at(25)}}, verdict.True, 0},
		{"damaged before another start", []nemesis.Damage{{Node: "n1", Stopped: at(30), Started: at(40)}}, verdict.False, 1},
		{"another node damaged", []nemesis.Damage{{Node: "n2", Stopped: at(15), Started: at(25)}}, verdict.False, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			damagedStarts = tt.damaged
			defer func() { damagedStarts = nil }()
			res := raftSafety([]string{"n1", "n2"}, logs, base)
			a := res.Errors[AnomalyTermRegression]
			if res.Valid != tt.valid || a == nil || a.Count != 1 || a.FatalCount != tt.fatal {
				t.Fatalf("valid %v, term-regression %+v; want %v with %d fatal", res.Valid, a, tt.valid, tt.fatal)
			}
		})
	}
}
