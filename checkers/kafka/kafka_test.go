package kafka

import (
	"context"
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
