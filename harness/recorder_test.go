package harness

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// BenchmarkRecorderSend measures recording one send (invoke + ok), the
// most frequent pair of history lines, through the shared writer.
func BenchmarkRecorderSend(b *testing.B) {
	b.ReportAllocs()
	rec := NewRecorder(history.NewWriter(io.Discard, time.Now()), time.Now())
	off := int64(0)
	for b.Loop() {
		rec.Invoke(1, history.FSend, []history.Mop{history.Send("t0/1", 42)})
		m := history.Send("t0/1", 42)
		m.Done, m.Offset = true, &off
		rec.Complete(1, history.Ok, history.FSend, []history.Mop{m}, nil)
		off++
	}
}

func TestRecorderLines(t *testing.T) {
	var buf strings.Builder
	base := time.Now()
	w := history.NewWriter(&buf, base)
	rec := NewRecorder(w, base)
	var faults []string
	rec.OnNemesis(func(typ, f string, _ json.RawMessage) { faults = append(faults, typ+" "+f) })

	rec.Invoke(3, history.FSend, []history.Mop{history.Send("t0/1", 17)})
	rec.Complete(3, history.Info, history.FSend, []history.Mop{history.Send("t0/1", 17)}, errors.New("context deadline exceeded"))
	rec.Nemesis("info", "kill", map[string]any{"nodes": []string{"n2"}})
	rec.Invoke(9, history.FPoll, []history.Mop{history.Poll()})
	rec.Complete(9, history.Ok, history.FPoll, []history.Mop{history.Poll()}, errors.New("ignored on ok"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	ops := decodeOps(t, []byte(buf.String()))
	cases := []struct {
		name    string
		i       int
		process string
		typ     history.Type
		err     string
	}{
		{"invoke", 0, "3", history.Invoke, ""},
		{"info carries the error", 1, "3", history.Info, "context deadline exceeded"},
		{"nemesis process", 2, "nemesis", history.Info, ""},
		{"ok carries no error", 4, "9", history.Ok, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			op := ops[tc.i]
			if op.Index != int64(tc.i) || op.Process.String() != tc.process || op.Type != tc.typ || op.Error != tc.err {
				t.Errorf("line %d = %+v", tc.i, op)
			}
		})
	}
	for i := 1; i < len(ops); i++ {
		if ops[i].Time < ops[i-1].Time {
			t.Errorf("time goes backwards at line %d", i)
		}
	}
	if ok, fail, info := rec.Counts(); ok != 1 || fail != 0 || info != 1 {
		t.Errorf("counts = %d/%d/%d", ok, fail, info)
	}
	if len(faults) != 1 || faults[0] != "info kill" {
		t.Errorf("nemesis callback saw %v", faults)
	}
	if rec.FirstOp() <= 0 {
		t.Errorf("first op time not recorded")
	}
}
