package linear

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// randomHistory simulates clients sending to and reading from one log,
// each operation taking effect at a random instant inside its interval,
// and then, with probability bad, corrupts one operation's output.
func randomHistory(rng *rand.Rand, n int, bad float64) []porcupine.Operation {
	type ev struct {
		at  int64
		op  int
		end bool
	}
	var log []int64
	var ops []porcupine.Operation
	clock := int64(0)
	next := int64(0)
	for i := 0; i < n; i++ {
		clock += int64(rng.IntN(3))
		call := clock
		ret := call + 1 + int64(rng.IntN(6))
		in := &input{}
		out := &output{}
		if rng.IntN(2) == 0 {
			in.send, in.value = true, next
			next++
		} else {
			in.from = int64(max(0, len(log)-rng.IntN(3)))
		}
		ops = append(ops, porcupine.Operation{ClientId: i % 5, Input: in, Output: out, Call: call, Return: ret, Metadata: int64(i)})
	}
	// Apply effects in order of a random point inside each interval.
	order := make([]int, len(ops))
	points := make([]int64, len(ops))
	for i, op := range ops {
		order[i] = i
		points[i] = op.Call*10 + rng.Int64N((op.Return-op.Call)*10)
	}
	for a := 1; a < len(order); a++ {
		for b := a; b > 0 && points[order[b]] < points[order[b-1]]; b-- {
			order[b], order[b-1] = order[b-1], order[b]
		}
	}
	for _, i := range order {
		in, out := ops[i].Input.(*input), ops[i].Output.(*output)
		if in.send {
			out.offset = int64(len(log))
			log = append(log, in.value)
			switch r := rng.Float64(); {
			case r < 0.1:
				in.info = true
				ops[i].Return = 1 << 40
			case r < 0.15:
				out.offset = -1
			}
			continue
		}
		out.hw = int64(len(log))
		for o := in.from; o < int64(len(log)) && len(out.records) < 3; o++ {
			out.records = append(out.records, record{o, log[o]})
		}
	}
	if rng.Float64() < bad {
		i := rng.IntN(len(ops))
		in, out := ops[i].Input.(*input), ops[i].Output.(*output)
		if in.send {
			out.offset++
		} else {
			out.hw--
		}
	}
	return ops
}

// TestSplitIsExact checks that searching the segments one after the other
// gives the same verdict as searching the whole partition at once, for
// both ways of cutting.
func TestSplitIsExact(t *testing.T) {
	defer func(old int) { segmentTarget = old }(segmentTarget)
	segmentTarget = 3
	rng := rand.New(rand.NewPCG(1, 2))
	var illegal, cutTime, cutPos int
	for i := 0; i < 600; i++ {
		ops := randomHistory(rng, 5+rng.IntN(40), 0.5)
		whole, _ := porcupine.CheckOperationsVerbose(model(newTrie(), 0), ops, 0)
		if whole == porcupine.Illegal {
			illegal++
		}
		segs, values := split(clone(ops))
		if p := searchSegments(context.Background(), "k", segs, func(o int64) int64 { return values[o] }, time.Hour); p.res != whole {
			t.Fatalf("history %d: time-cut %v, whole %v\n%s", i, p.res, whole, dump(ops))
		}
		if len(segs) > 1 {
			cutTime++
		}
		if segs, values, ok := splitByPosition(clone(ops)); ok {
			if p := searchSegments(context.Background(), "k", segs, func(o int64) int64 { return values[o] }, time.Hour); p.res != whole {
				t.Fatalf("history %d: position-cut %v, whole %v\n%s", i, p.res, whole, dump(ops))
			}
			if len(segs) > 1 {
				cutPos++
			}
		}
		if p := checkPartition(context.Background(), "k", clone(ops), time.Hour); p.res != whole {
			t.Fatalf("history %d: checkPartition %v, whole %v", i, p.res, whole)
		}
	}
	t.Logf("illegal %d, time cuts %d, position cuts %d of 600", illegal, cutTime, cutPos)
	// The test is only meaningful if both verdicts and real cuts occur.
	if illegal < 100 || illegal > 500 || cutTime < 50 || cutPos < 50 {
		t.Errorf("generator not exercising both sides")
	}
}

func clone(ops []porcupine.Operation) []porcupine.Operation {
	return append([]porcupine.Operation(nil), ops...)
}

func dump(ops []porcupine.Operation) string {
	s := ""
	for _, op := range ops {
		in, out := op.Input.(*input), op.Output.(*output)
		s += fmt.Sprintf("[%d,%d] %+v %+v\n", op.Call, op.Return, *in, *out)
	}
	return s
}
