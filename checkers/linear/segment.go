package linear

import (
	"cmp"
	"math"
	"slices"
	"sort"

	"github.com/anishathalye/porcupine"
)

// segment is a stretch of one partition's history that can be searched on
// its own, starting from a log of startLen entries.
type segment struct {
	ops      []porcupine.Operation
	startLen int64
}

// split cuts a partition's operations into segments that are linearizable
// one after the other exactly when the whole is linearizable. Porcupine's
// memoization costs O(n²/64) bits for n operations, so a long partition
// (hundreds of thousands of sends) must not be searched in one piece.
//
// A cut at time t is sound when
//   - every definite operation before t returned before t and every other
//     one is invoked after t (a quiescent point), so in any linearization
//     the former come first;
//   - the log the prefix leaves behind is determined: its length L is the
//     largest offset or high watermark the prefix needs, and each offset
//     below L is claimed by exactly one send with a known offset (an ok
//     send of the prefix, or an indefinite send invoked before t), so every
//     linearization of the prefix ends in that same log;
//   - no operation invoked after t claims an offset below L.
//
// Indefinite sends resolved at offset o have an infinite return time, so
// they never end a quiescent stretch; they join the segment whose range of
// log lengths contains o, because a linearization must place them when the
// log has exactly o entries, which happens inside that segment (an
// indefinite send invoked before the cut whose offset is at or beyond L can
// always be moved to just after the cut). If the conditions never hold
// (unknown offsets, conflicts), the partition stays one segment, and the
// search decides as before.
//
// It also returns the value at each offset below the last cut, to build
// the starting log of each segment.
func split(ops []porcupine.Operation) ([]segment, map[int64]int64) {
	var reg, infos []porcupine.Operation
	for _, op := range ops {
		if op.Input.(*input).info {
			infos = append(infos, op)
		} else {
			reg = append(reg, op)
		}
	}
	byCall := func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) }
	slices.SortStableFunc(reg, byCall)
	slices.SortStableFunc(infos, byCall)
	// Suffix minima of the offsets claimed by operations from i on.
	minSend := make([]int64, len(reg)+1)
	minSend[len(reg)] = math.MaxInt64
	for i := len(reg) - 1; i >= 0; i-- {
		minSend[i] = minSend[i+1]
		if o := reg[i].Output.(*output); reg[i].Input.(*input).send && o.offset >= 0 {
			minSend[i] = min(minSend[i], o.offset)
		}
	}
	minInfo := make([]int64, len(infos)+1)
	minInfo[len(infos)] = math.MaxInt64
	for j := len(infos) - 1; j >= 0; j-- {
		minInfo[j] = min(minInfo[j+1], infos[j].Output.(*output).offset)
	}

	covered := map[int64]int64{} // offset -> value
	full := int64(0)             // offsets 0..full-1 are all covered
	need := int64(0)             // log length the prefix needs
	stuck := false               // the prefix log can no longer be determined
	claim := func(o, v int64) {
		if _, dup := covered[o]; dup {
			stuck = true
			return
		}
		covered[o] = v
		for {
			if _, ok := covered[full]; !ok {
				break
			}
			full++
		}
	}
	var segs []segment
	start, startLen := 0, int64(0)
	maxRet := int64(math.MinInt64)
	j := 0
	for i, op := range reg {
		t := op.Call
		for j < len(infos) && infos[j].Call < t {
			in := infos[j].Input.(*input)
			claim(infos[j].Output.(*output).offset, in.value)
			j++
		}
		if !stuck && i > start && maxRet < t && full >= need && minSend[i] >= need && minInfo[j] >= need {
			segs = append(segs, segment{ops: reg[start:i:i], startLen: startLen})
			start, startLen = i, need
		}
		maxRet = max(maxRet, op.Return)
		in, out := op.Input.(*input), op.Output.(*output)
		switch {
		case in.send && out.offset < 0:
			stuck = true // an ok send with an unknown offset: the log is not determined
		case in.send:
			claim(out.offset, in.value)
			need = max(need, out.offset+1)
		default:
			need = max(need, out.hw, in.from+int64(len(out.records)))
		}
	}
	segs = append(segs, segment{ops: reg[start:len(reg):len(reg)], startLen: startLen})
	// Place each indefinite send in the segment whose lengths contain its
	// offset.
	for _, op := range infos {
		o := op.Output.(*output).offset
		k := sort.Search(len(segs), func(k int) bool { return segs[k].startLen > o }) - 1
		k = max(k, 0)
		segs[k].ops = append(segs[k].ops, op)
	}
	return segs, covered
}

// segmentTarget is the number of operations splitByPosition aims for per
// segment: Porcupine's memo costs about n²/8 bytes for n operations, so
// 2000 keep each search under a megabyte. A variable so tests can force
// many cuts.
var segmentTarget = 2000

// splitByPosition cuts a partition by log position rather than by time.
// It applies when the log is determined: every send has a known offset
// (indefinite ones resolved), no two claim the same offset, and every
// offset below the highest one any operation needs is claimed. Then each
// operation is pinned to the log length at which it must take effect (a
// send at offset o when the log has o entries, a read with high watermark
// h when it has h), and in every linearization the operations pinned below
// a send at offset L come before those pinned at or above it. So a cut
// before the send at L is exact provided real time agrees: no operation
// after the cut returned before an operation before it was invoked (if one
// did, the history is not linearizable, and the cut is skipped so that the
// search over the merged stretch reports it).
//
// Unlike quiescent points, such cuts exist even when a partition always
// has operations in flight, which is the case for a hot partition with
// many producers. ok=false means the log is not determined; use split.
func splitByPosition(ops []porcupine.Operation) (segs []segment, values []int64, ok bool) {
	type pinned struct {
		pos  int64
		kind int // 0 read, 1 send: reads at length h come before the send at offset h
	}
	// values[o] is the value sent at offset o. Every offset below the
	// log length needed must be claimed by a different send, so a send at
	// an offset beyond the number of sends means the log is not
	// determined, and a slice indexed by offset (rather than a map, many
	// times larger on a partition of millions of sends) suffices.
	sends := 0
	for _, op := range ops {
		if op.Input.(*input).send {
			sends++
		}
	}
	values = make([]int64, sends)
	claimed := make([]bool, sends)
	pins := make([]pinned, len(ops))
	need := int64(0)
	for i, op := range ops {
		in, out := op.Input.(*input), op.Output.(*output)
		if in.send {
			if out.offset < 0 || out.offset >= int64(sends) || claimed[out.offset] {
				return nil, nil, false
			}
			claimed[out.offset], values[out.offset] = true, in.value
			pins[i] = pinned{out.offset, 1}
			need = max(need, out.offset+1)
			continue
		}
		if in.from < 0 && len(out.records) > 0 {
			return nil, nil, false
		}
		pins[i] = pinned{out.hw, 0}
		need = max(need, out.hw, in.from+int64(len(out.records)))
	}
	if int64(sends) < need {
		return nil, nil, false
	}
	for o := int64(0); o < need; o++ {
		if !claimed[o] {
			return nil, nil, false
		}
	}
	claimed = nil
	order := make([]int, len(ops))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if pins[a].pos != pins[b].pos {
			return cmp.Compare(pins[a].pos, pins[b].pos)
		}
		if pins[a].kind != pins[b].kind {
			return pins[a].kind - pins[b].kind
		}
		return cmp.Compare(ops[a].Call, ops[b].Call)
	})
	sorted := make([]porcupine.Operation, len(ops))
	for i, j := range order {
		sorted[i] = ops[j]
	}
	// minReturn[i] is the earliest return among sorted[i:].
	minReturn := make([]int64, len(sorted)+1)
	minReturn[len(sorted)] = math.MaxInt64
	for i := len(sorted) - 1; i >= 0; i-- {
		minReturn[i] = min(minReturn[i+1], sorted[i].Return)
	}
	start, startLen := 0, int64(0)
	maxCall := int64(math.MinInt64)
	for i := range sorted {
		p := pins[order[i]]
		if i-start >= segmentTarget && p.kind == 1 && p != pins[order[i-1]] && maxCall < minReturn[i] {
			segs = append(segs, segment{ops: sorted[start:i:i], startLen: startLen})
			start, startLen = i, p.pos
		}
		maxCall = max(maxCall, sorted[i].Call)
	}
	segs = append(segs, segment{ops: sorted[start:len(sorted):len(sorted)], startLen: startLen})
	return segs, values, true
}
