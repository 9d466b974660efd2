package kafka

import (
	"context"
	"strings"
	"testing"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/verdict"
)

func sendOk(i int64, p int, key string, off, v int64) *history.Entry {
	m := history.Send(key, v)
	m.Done, m.Offset = true, &off
	return &history.Entry{Op: history.Op{Index: i, Process: history.Client(p), Type: history.Ok, F: history.FSend}, Mops: []history.Mop{m}}
}

// TestExamplesCappedCountsAll checks that every case is counted while
// only MaxExamples are kept.
func TestExamplesCappedCountsAll(t *testing.T) {
	c := New(Options{MaxExamples: 5})
	for i := int64(0); i < 30; i++ {
		c.Observe(sendOk(i, 0, "t0/0", i, i))
	}
	r := c.Result(context.Background())
	a := r.Errors[Unseen]
	if a == nil || a.Count != 30 || a.FatalCount != 30 || len(a.Examples) != 5 {
		t.Fatalf("unseen = %+v", a)
	}
	if r.Valid != verdict.False || len(r.BadErrorTypes) != 1 {
		t.Errorf("valid %v bad %v", r.Valid, r.BadErrorTypes)
	}
	c2 := New(Options{AllowUnseen: true})
	c2.Observe(sendOk(0, 0, "t0/0", 0, 0))
	if r := c2.Result(context.Background()); r.Valid != verdict.True || r.Errors[Unseen].Count != 1 {
		t.Errorf("AllowUnseen: valid %v errors %+v", r.Valid, r.Errors)
	}
}

// TestCancelledIsUnknown checks that a cancelled analysis is never valid.
func TestCancelledIsUnknown(t *testing.T) {
	c := New(Options{})
	c.Observe(sendOk(0, 0, "t0/0", 0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := c.Result(ctx); r.Valid == verdict.True {
		t.Errorf("valid = %v after cancel", r.Valid)
	}
}

// TestDuplicateNamesProducerKind: a duplicate is fatal whatever the kind
// of producer that sent the value, and its explanation says why the
// broker is to blame for that kind.
func TestDuplicateNamesProducerKind(t *testing.T) {
	tests := []struct {
		producer, want string
	}{
		{"", "retries must be deduplicated"},
		{history.ProducerIdempotentInflight, "several batches in flight"},
		{history.ProducerPlain, "exactly one request"},
	}
	for _, tt := range tests {
		t.Run(tt.producer, func(t *testing.T) {
			c := New(Options{})
			send := sendOk(0, 0, "t0/0", 0, 1)
			send.Producer = tt.producer
			c.Observe(send)
			poll := &history.Entry{Op: history.Op{Index: 1, Process: history.Client(1), Type: history.Ok, F: history.FPoll},
				Mops: []history.Mop{{F: history.FPoll, Done: true, Polls: map[string][]history.Record{"t0/0": {{Offset: 0, Value: 1}, {Offset: 1, Value: 1}}}}}}
			c.Observe(poll)
			r := c.Result(context.Background())
			d := r.Errors[Duplicate]
			if d == nil || d.FatalCount != 1 || r.Valid != verdict.False {
				t.Fatalf("duplicate = %+v, valid %v", d, r.Valid)
			}
			if got := d.Examples[0].Explanation; !strings.Contains(got, tt.want) {
				t.Errorf("explanation %q, want it to mention %q", got, tt.want)
			}
		})
	}
}
