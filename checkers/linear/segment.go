package linear

import (
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
	byCall := func(a, b porcupine.Operation) int { return cmp64(a.Call, b.Call) }
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
