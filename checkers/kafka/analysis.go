package kafka

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/verdict"
)

// analysis is the state shared by the individual anomaly searches.
type analysis struct {
	c        *Checker
	col      *verdict.Collector
	orders   []*order
	okRead   msgMap // message -> first ok op (position in c.ops) that read it
	writerOf msgMap // message -> last op (position in c.ops) that sent it
	// writerAt[k][i] is writerOf of the value at dense index i of key k's
	// version order (-1: none), so per-record lookups avoid the map.
	writerAt [][]int32
}

// writer returns the op that sent value v of key k; idx/ok are v's dense
// index in the version order, if known.
func (a *analysis) writer(k int32, v int64, idx int32, ok bool) (int32, bool) {
	if ok {
		w := a.writerAt[k][idx]
		return w, w >= 0
	}
	return a.writerOf.get(k, v)
}

// Result runs every analysis over the observed history. If ctx ends first,
// the result is Unknown (never valid) with what was found so far: proven
// anomalies still make it invalid.
func (c *Checker) Result(ctx context.Context) *Result {
	a := &analysis{c: c, col: verdict.NewCollector(c.opts.MaxExamples), okRead: newMsgMap(c), writerOf: newMsgMap(c)}
	for i := range c.ops.Len() {
		o := c.ops.At(i)
		if o.typ == tOk {
			for _, r := range c.opReads(o) {
				for _, x := range c.values(r) {
					if !a.okRead.has(r.key, x.value) {
						a.okRead.set(r.key, x.value, int32(i))
					}
				}
			}
		}
		for _, w := range c.opWrites(o) {
			a.writerOf.set(w.key, w.value, int32(i))
		}
	}
	a.orders = c.buildOrders(a.okRead)
	a.writerAt = make([][]int32, len(a.orders))
	for k, o := range a.orders {
		ws := make([]int32, len(o.byIndex))
		for i, v := range o.byIndex {
			if w, ok := a.writerOf.get(int32(k), v); ok {
				ws[i] = w
			} else {
				ws[i] = -1
			}
		}
		a.writerAt[k] = ws
	}
	steps := []func(*analysis){
		(*analysis).inconsistentAndDuplicate,
		(*analysis).readChecks,
		(*analysis).lostWrites,
		(*analysis).unseen,
		(*analysis).processChecks,
		(*analysis).cycles,
	}
	// The steps only read the analysis, so they run side by side, each on
	// a copy whose collector is its own; merging those in step order gives exactly
	// what running them one after the other gives. On 2 cores this
	// halves the analysis' wall time once the linearizability search,
	// which runs beside it, is done.
	cols := make([]*verdict.Collector, len(steps))
	ran := make([]bool, len(steps))
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for i, step := range steps {
		cols[i] = verdict.NewCollector(c.opts.MaxExamples)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if ctx.Err() == nil {
				b := *a
				b.col = cols[i]
				step(&b)
				ran[i] = true
			}
		}()
	}
	wg.Wait()
	for _, col := range cols {
		a.col.Merge(col)
	}
	r := result(a.col)
	r.Keys = len(c.keys)
	if !all(ran) {
		r.Valid = verdict.Merge(r.Valid, verdict.Unknown)
		r.Error = fmt.Sprintf("kafka analysis incomplete: %v", ctx.Err())
	}
	return r
}

func all(bs []bool) bool {
	for _, b := range bs {
		if !b {
			return false
		}
	}
	return true
}

func (a *analysis) idx(i int32) int64 { return a.c.ops.At(int(i)).index }

// sortedKeyIDs returns key ids ordered by key name, for deterministic
// output.
func (a *analysis) sortedKeyIDs() []int32 {
	ids := make([]int32, len(a.c.keys))
	for i := range ids {
		ids[i] = int32(i)
	}
	slices.SortFunc(ids, func(x, y int32) int { return strings.Compare(a.c.keys[x], a.c.keys[y]) })
	return ids
}

// inconsistentAndDuplicate finds offsets holding several values and values
// at several offsets, then scans the history once for the operations that
// observed each conflicting (offset, value).
func (a *analysis) inconsistentAndDuplicate() {
	c := a.c
	type ko struct {
		key    int32
		offset int64
	}
	type seen struct {
		value int64
		op    int64
	}
	badOffsets := map[ko][]seen{}
	dupValues := map[kv][]seen{}
	var offCases []ko
	var dupCases []kv
	for _, k := range a.sortedKeyIDs() {
		o := a.orders[k]
		for i := range o.offsets {
			vs := o.vals(i)
			if len(vs) > 1 {
				x := ko{k, o.offsets[i]}
				badOffsets[x] = nil
				offCases = append(offCases, x)
			}
		}
		// Values in first-appearance order, so cases come out in log order.
		for i := range o.offsets {
			vs := o.vals(i)
			for _, v := range vs {
				if fi, _ := o.firstIdx(v); fi == int32(i) && o.lastIdx(v) != int32(i) {
					x := kv{k, v}
					dupValues[x] = nil
					dupCases = append(dupCases, x)
				}
			}
		}
	}
	if len(offCases) == 0 && len(dupCases) == 0 {
		return
	}
	note := func(key int32, offset, value, op int64) {
		if s, ok := badOffsets[ko{key, offset}]; ok {
			badOffsets[ko{key, offset}] = appendSeen(s, seen{value, op}, func(a, b seen) bool { return a.value == b.value })
		}
		if s, ok := dupValues[kv{key, value}]; ok {
			dupValues[kv{key, value}] = appendSeen(s, seen{offset, op}, func(a, b seen) bool { return a.value == b.value })
		}
	}
	for i := range c.ops.Len() {
		o := c.ops.At(i)
		for _, r := range c.opReads(o) {
			for _, x := range c.values(r) {
				note(r.key, x.offset, x.value, o.index)
			}
		}
		if c.mustHaveCommitted(o, a.okRead) {
			for _, w := range c.opWrites(o) {
				if w.offset >= 0 {
					note(w.key, w.offset, w.value, o.index)
				}
			}
		}
	}
	for _, x := range offCases {
		o := a.orders[x.key]
		i, _ := slices.BinarySearch(o.offsets, x.offset)
		var ops []int64
		for _, s := range badOffsets[x] {
			ops = append(ops, s.op)
		}
		a.col.Add(InconsistentOffsets, Case{
			Key: c.keys[x.key], Ops: ops, Values: slices.Clone(o.vals(i)), Offsets: []int64{x.offset}, Fatal: true,
			Explanation: fmt.Sprintf("offset %d of %s holds %d different values %v", x.offset, c.keys[x.key], len(o.vals(i)), o.vals(i)),
		})
	}
	for _, x := range dupCases {
		var ops, offsets []int64
		var offs []string
		for _, s := range dupValues[x] {
			ops = append(ops, s.op)
			offsets = append(offsets, s.value)
			offs = append(offs, fmt.Sprint(s.value))
		}
		a.col.Add(Duplicate, Case{
			Key: c.keys[x.key], Ops: ops, Values: []int64{x.v}, Offsets: offsets, Fatal: true,
			Explanation: fmt.Sprintf("value %d of %s appears at %d offsets (%s)", x.v, c.keys[x.key], len(offs), strings.Join(offs, ", ")) +
				duplicateWhy(c.producers[x]),
		})
	}
}

// duplicateWhy says why a duplicate of a value sent by a producer of kind
// (history.ProducerKinds; "" is idempotent) is the broker's doing.
func duplicateWhy(kind string) string {
	switch kind {
	case history.ProducerPlain:
		return "; its producer (plain-no-retry) sent it in exactly one request, so the broker wrote it twice"
	case history.ProducerIdempotentInflight:
		return "; its idempotent producer had several batches in flight, whose retries the broker must deduplicate (it remembers the last five batches, KIP-98)"
	}
	return "; its idempotent producer's retries must be deduplicated by the broker"
}

// appendSeen keeps the first operation that observed each distinct thing.
func appendSeen[T any](s []T, x T, same func(a, b T) bool) []T {
	for _, y := range s {
		if same(x, y) {
			return s
		}
	}
	return append(s, x)
}

// readChecks walks each operation once for the per-operation anomalies:
// G1a, unknown values, precommitted reads and internal skips or reorders
// of polls and sends.
func (a *analysis) readChecks() {
	c := a.c
	for i := range c.ops.Len() {
		o := c.ops.At(i)
		reads, writes := c.opReads(o), c.opWrites(o)
		for _, r := range reads {
			key := c.keys[r.key]
			vs := c.values(r)
			ord := a.orders[r.key]
			prev, prevOK := int32(0), false
			for j, x := range vs {
				xi, xok := ord.indexOf(x.offset, x.value)
				w, ok := a.writer(r.key, x.value, xi, xok)
				switch {
				case !ok:
					a.col.Add(UnknownValue, Case{
						Key: key, Ops: []int64{o.index}, Values: []int64{x.value}, Offsets: []int64{x.offset}, Fatal: true,
						Explanation: fmt.Sprintf("op %d read value %d of %s at offset %d, which no operation sent", o.index, x.value, key, x.offset),
					})
				case c.ops.At(int(w)).typ == tFail && o.typ == tOk && (o.f == fPoll || o.f == fTxn || o.f == fRead):
					a.col.Add(G1a, Case{
						Key: key, Ops: []int64{a.idx(w), o.index}, Values: []int64{x.value}, Fatal: true,
						Explanation: fmt.Sprintf("op %d failed to send %d to %s, yet op %d read it (aborted read)", a.idx(w), x.value, key, o.index),
					})
				}
				i1, i2 := prev, xi
				check := j > 0 && prevOK && xok
				prev, prevOK = xi, xok
				if !check {
					continue
				}
				v1, v2 := vs[j-1].value, x.value
				switch d := i2 - i1; {
				case d > 1:
					a.col.Add(IntPollSkip, Case{
						Key: key, Ops: []int64{o.index}, Values: []int64{v1, v2}, Fatal: true,
						Explanation: fmt.Sprintf("op %d read %d then %d from %s, skipping %d value(s) %s between them", o.index, v1, v2, key, d-1, fmtSkipped(ord, i1, i2)),
					})
				case d < 1 && o.f == fTxn && o.typ != tOk:
					// A transaction that did not commit may have had
					// its consumer rebalanced mid-way (the reason a
					// group transaction aborts), and a rebalance
					// rewinds a consumer to its committed offsets:
					// reported, allowed. A committed transaction saw
					// no rebalance, so its reads must go forward.
					a.col.Add(IntNonmonotonicPoll, Case{
						Key: key, Ops: []int64{o.index}, Values: []int64{v1, v2}, Fatal: false,
						Explanation: fmt.Sprintf("op %d (a transaction that did not commit; its consumer may have been rewound by a rebalance) read %d then %d from %s, but the log has %d at or before %d (index delta %d, want 1)", o.index, v1, v2, key, v2, v1, d),
					})
				case d < 1:
					a.col.Add(IntNonmonotonicPoll, Case{
						Key: key, Ops: []int64{o.index}, Values: []int64{v1, v2}, Fatal: true,
						Explanation: fmt.Sprintf("op %d read %d then %d from %s, but the log has %d at or before %d (index delta %d, want 1)", o.index, v1, v2, key, v2, v1, d),
					})
				}
			}
		}
		if len(writes) == 0 {
			continue
		}
		// Precommitted read: Kafka consumers read committed, so no
		// transaction may see its own sends. As Jepsen's
		// precommitted-read-cases, one case per operation: the first key
		// (in send order) with such a read, and the values concerned.
		a.precommitted(o, reads, writes)
		if len(writes) < 2 {
			continue
		}
		for j := 0; j < len(writes); j++ {
			// The previous send to the same key in this operation.
			p := -1
			for q := j - 1; q >= 0; q-- {
				if writes[q].key == writes[j].key {
					p = q
					break
				}
			}
			if p < 0 {
				continue
			}
			ord := a.orders[writes[j].key]
			v1, v2 := writes[p].value, writes[j].value
			i1, ok1 := ord.index(v1)
			i2, ok2 := ord.index(v2)
			if !ok1 || !ok2 {
				continue
			}
			key := c.keys[writes[j].key]
			switch d := i2 - i1; {
			case d > 1:
				// Allowed, as in Jepsen: sends of concurrent producers
				// interleave in the log.
				a.col.Add(IntSendSkip, Case{
					Key: key, Ops: []int64{o.index}, Values: []int64{v1, v2}, Fatal: false,
					Explanation: fmt.Sprintf("op %d sent %d then %d to %s, and %d other value(s) landed between them", o.index, v1, v2, key, d-1),
				})
			case d < 1:
				a.col.Add(IntNonmonotonicSend, Case{
					Key: key, Ops: []int64{o.index}, Values: []int64{v1, v2}, Fatal: true,
					Explanation: fmt.Sprintf("op %d sent %d then %d to %s, but the log has %d at or before %d (index delta %d, want >= 1)", o.index, v1, v2, key, v2, v1, d),
				})
			}
		}
	}
}

func (a *analysis) precommitted(o *kop, reads []kread, writes []kwrite) {
	c := a.c
	for j, w := range writes {
		seenKey := false
		for _, p := range writes[:j] {
			if p.key == w.key {
				seenKey = true
				break
			}
		}
		if seenKey {
			continue
		}
		var bad []int64
		for _, r := range reads {
			if r.key != w.key {
				continue
			}
			for _, x := range c.values(r) {
				for _, w2 := range writes {
					if w2.key == w.key && w2.value == x.value && !slices.Contains(bad, x.value) {
						bad = append(bad, x.value)
					}
				}
			}
		}
		if len(bad) == 0 {
			continue
		}
		key := c.keys[w.key]
		a.col.Add(PrecommittedRead, Case{
			Key: key, Ops: []int64{o.index}, Values: bad, Fatal: true,
			Explanation: fmt.Sprintf("op %d read its own uncommitted send(s) %v to %s", o.index, bad, key),
		})
		return
	}
}

func fmtSkipped(o *order, i1, i2 int32) string {
	var b strings.Builder
	b.WriteByte('[')
	n := 0
	for i := i1 + 1; i < i2; i++ {
		if n == 5 {
			b.WriteString(" ...")
			break
		}
		if n > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, o.byIndex[i])
		n++
	}
	b.WriteByte(']')
	return b.String()
}

// lostWrites is Jepsen's lost-write-cases: for each key, the highest log
// index any ok poll reached bounds the prefix every reader collectively
// should have seen; a value in that prefix, sent by an operation that must
// have committed, yet read by no ok operation, was lost.
func (a *analysis) lostWrites() {
	c := a.c
	bound := make([]int32, len(c.keys))
	boundVal := make([]int64, len(c.keys))
	boundOp := make([]int32, len(c.keys)) // the first ok poll that read boundVal
	for i := range bound {
		bound[i] = -1
	}
	// Only consumer reads (ok polls and txns, Jepsen's reads-by-type) set
	// the bound: a consumer starts at the beginning of a partition or where
	// an earlier one left off, so reaching a value means having passed every
	// value before it. A read op (log workload) starts at an offset of its
	// choosing and proves nothing about the values before it; the values it
	// returned still count as seen.
	for i := range c.ops.Len() {
		o := c.ops.At(i)
		if o.typ != tOk || (o.f != fPoll && o.f != fTxn) {
			continue
		}
		for _, r := range c.opReads(o) {
			for _, x := range c.values(r) {
				if fi, ok := a.orders[r.key].firstIdx(x.value); ok && (fi > bound[r.key] || fi == bound[r.key] && x.value < boundVal[r.key]) {
					bound[r.key], boundVal[r.key], boundOp[r.key] = fi, x.value, int32(i)
				}
			}
		}
	}
	for _, k := range a.sortedKeyIDs() {
		if bound[k] < 0 {
			continue
		}
		o := a.orders[k]
		key := c.keys[k]
		maxReader := boundOp[k]
		for li := int32(0); li <= bound[k]; li++ {
			for _, v := range o.vals(int(li)) {
				if o.lastIdx(v) != li {
					continue
				}
				if a.okRead.has(k, v) {
					continue
				}
				w, ok := a.writerOf.get(k, v)
				if !ok || !c.mustHaveCommitted(c.ops.At(int(w)), a.okRead) {
					continue
				}
				a.col.Add(LostWrite, Case{
					Key: key, Ops: []int64{a.idx(w), a.idx(maxReader)}, Values: []int64{v, boundVal[k]},
					Offsets: []int64{o.offsets[li], o.offsets[bound[k]]}, Fatal: true,
					Explanation: fmt.Sprintf("op %d sent %d to %s at offset %d; op %d read %d at offset %d, later in the log, but no ok read ever saw %d",
						a.idx(w), v, key, o.offsets[li], a.idx(maxReader), boundVal[k], o.offsets[bound[k]], v),
				})
			}
		}
	}
}

// unseen reports values whose send was acknowledged (ok) but which no ok
// operation ever read, as Jepsen's final :unseen. Jepsen counts them as
// fatal because its final generator drains every key; see
// Options.AllowUnseen.
func (a *analysis) unseen() {
	c := a.c
	for i := range c.ops.Len() {
		o := c.ops.At(i)
		if o.typ != tOk {
			continue
		}
		for _, w := range c.opWrites(o) {
			if a.okRead.has(w.key, w.value) {
				continue
			}
			key := c.keys[w.key]
			var offsets []int64
			if w.offset >= 0 {
				offsets = []int64{w.offset}
			}
			a.col.Add(Unseen, Case{
				Key: key, Ops: []int64{o.index}, Values: []int64{w.value}, Offsets: offsets, Fatal: !c.opts.AllowUnseen,
				Explanation: fmt.Sprintf("op %d's send of %d to %s was acknowledged (offset %s) but no ok read ever saw it", o.index, w.value, key, fmtOffset(w.offset)),
			})
		}
	}
}

func fmtOffset(o int64) string {
	if o < 0 {
		return "unknown"
	}
	return fmt.Sprint(o)
}
