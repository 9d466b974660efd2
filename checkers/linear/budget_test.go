package linear

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/verdict"
)

// explodingHistory returns entries of partition key whose search cannot
// finish in any budget a test can wait for: n concurrent sends with
// unknown offsets (every order of them is a different log) and one
// overlapping read whose high watermark no log reaches, so Porcupine must
// try every order before it could answer "nonlinearizable".
func explodingHistory(key string, n int, firstProc int, index *int64) []history.Entry {
	var es []history.Entry
	op := func(proc int, ms []history.Mop, call, ret time.Duration) {
		*index++
		es = append(es, history.Entry{
			Op:          history.Op{Index: *index, Time: ret, Process: history.Client(proc), Type: history.Ok, F: ms[0].F},
			Mops:        ms,
			InvokeIndex: *index, InvokeTime: call,
		})
	}
	for i := range n {
		op(firstProc+i, []history.Mop{{F: history.FSend, Key: key, Value: int64(i), Done: true}}, 1, 100)
	}
	op(firstProc+n, []history.Mop{{F: history.FRead, Key: key, From: 0, HW: int64(n + 5), Done: true}}, 1, 100)
	return es
}

// TestSegmentBudget checks that a segment whose search explodes is cut
// off by the per-segment budget and reported unknown, while the other
// partitions are still decided, well before the overall deadline.
func TestSegmentBudget(t *testing.T) {
	c := New()
	var index int64
	for _, e := range explodingHistory("t/0", 40, 0, &index) {
		c.Observe(&e)
	}
	// A small partition that is plainly fine.
	off := int64(0)
	index++
	c.Observe(&history.Entry{
		Op:   history.Op{Index: index, Time: 300, Process: history.Client(100), Type: history.Ok, F: history.FSend},
		Mops: []history.Mop{{F: history.FSend, Key: "t/1", Value: 7, Offset: &off, Done: true}}, InvokeIndex: index, InvokeTime: 200,
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	r := c.Result(ctx, Options{SegmentTimeLimit: 50 * time.Millisecond})
	if r.Valid != verdict.Unknown || r.Partitions["t/0"] != PartitionUnknown || r.Partitions["t/1"] != PartitionOk {
		t.Fatalf("valid %v, partitions %v, error %q", r.Valid, r.Partitions, r.Error)
	}
	if ctx.Err() != nil {
		t.Errorf("the overall deadline ran out; the segment budget should have stopped the search")
	}
	if want := "per-segment budget"; !strings.Contains(r.Error, want) {
		t.Errorf("error %q does not mention the %s", r.Error, want)
	}
}
