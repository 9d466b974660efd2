package linear

import (
	"cmp"
	"context"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/internal/blocks"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/checkers/windows"
)

// Partition verdicts in Result.Partitions.
const (
	PartitionOk              = "ok"
	PartitionNonlinearizable = "nonlinearizable"
	PartitionUnknown         = "unknown"
)

// Nonlinearizable is the anomaly name for a partition with no
// linearization (contract, DESIGN.md).
const Nonlinearizable = "nonlinearizable"

// VisualizationFile is the name of the visualization in the out
// directory (contract: store layout, DESIGN.md).
const VisualizationFile = "linearizability.html"

// Result is the linearizable checker's section of results.json.
type Result struct {
	Valid verdict.Validity `json:"valid"`
	// Partitions maps each key with at least one send or read to "ok",
	// "nonlinearizable" or "unknown" (the search ran out of time).
	Partitions map[string]string `json:"partitions"`
	// Errors holds the "nonlinearizable" anomaly, one case per partition.
	Errors map[string]*verdict.Anomaly `json:"errors,omitempty"`
	// Operations is how many send and read micro-operations were checked.
	Operations int `json:"operations"`
	// InfoResolved counts indefinite sends placed at the offset a read
	// found them at; InfoDropped those never seen, which are left out
	// (they may not have happened).
	InfoResolved int `json:"info_resolved"`
	InfoDropped  int `json:"info_dropped"`
	// Segments is how many independently searched pieces the partitions
	// were cut into at quiescent points (see split).
	Segments int `json:"segments"`
	// TxnSkipped lists the keys left out because a transaction sent to
	// them: the log model does not describe transactions, whose sends
	// take offsets the model could not place.
	TxnSkipped []string `json:"txn_skipped,omitempty"`
	// Renumbered lists the keys whose observed offsets were not exactly
	// 0, 1, 2, ... (a log not starting at 0, or gaps such as transaction
	// markers leave): their offsets were searched as dense positions over
	// the offsets some operation observed, as the kafka checker's version
	// orders do.
	Renumbered []string `json:"renumbered,omitempty"`
	// Visualization is the file name of Porcupine's visualization in the
	// out directory, when one was written.
	Visualization string `json:"visualization,omitempty"`
	Error         string `json:"error,omitempty"`
}

// CheckerValid returns the verdict, so Result can be merged into results.
func (r *Result) CheckerValid() verdict.Validity { return r.Valid }

// CheckerErrors returns the anomalies by name (the shape every checker
// shares, verdict.Findings).
func (r *Result) CheckerErrors() map[string]*verdict.Anomaly { return r.Errors }

// infoSend is an indefinite send waiting to be resolved after the drain.
type infoSend struct {
	key    string
	value  int64
	call   int64
	client int
	index  int64
}

// lop is the compact form in which a send or read waits, from Observe
// until its partition is searched. A porcupine.Operation keeps its input,
// output and metadata behind interfaces: about 180 bytes and three
// allocations per operation, which, for every send of a history of
// millions of lines, was the largest part of a check's memory. Result
// turns one partition at a time into Porcupine's form (operations), so at
// most GOMAXPROCS partitions exist in that form at once.
type lop struct {
	call, ret int64
	index     int64 // history index of the completion (Metadata)
	// value is a send's value or a read's starting offset; offset is a
	// send's acknowledged offset (-1 unknown) or a read's high watermark.
	value, offset int64
	client        int
	// recStart and recEnd locate a read's records in Checker.recs.
	recStart, recEnd int
	send, info       bool
}

// Checker accumulates the send and read micro-operations of a history.
// It is not safe for concurrent use.
type Checker struct {
	// ops holds each partition's sends and reads, in blocks (see package
	// blocks) because there are millions of them.
	ops   map[string]*blocks.List[lop]
	recs  []record
	infos []infoSend
	// seenAt maps a message to the first offset an ok poll or read found
	// it at, to resolve indefinite sends.
	// It holds one map per key id: the runtime's int64-keyed maps are
	// much faster than one keyed by a struct, and every record read
	// passes here.
	seenAt []map[int64]int64
	keyIDs map[string]int32
	last   int64
	// offsets holds, per key id, every offset an ok send returned or an ok
	// poll or read returned a record at.
	offsets map[int32]*offsetSet
	// txnKeys are keys some ok or indefinite transaction sent to.
	txnKeys map[string]bool
}

// New returns an empty Checker.
func New() *Checker {
	return &Checker{ops: map[string]*blocks.List[lop]{}, keyIDs: map[string]int32{},
		offsets: map[int32]*offsetSet{}, txnKeys: map[string]bool{}}
}

// Observe records one history entry.
func (c *Checker) Observe(e *history.Entry) {
	if int64(e.Time) > c.last {
		c.last = int64(e.Time)
	}
	if e.Type == history.Invoke || e.Process.Nemesis {
		return
	}
	if e.F == history.FTxn && e.Type != history.Fail {
		for _, m := range e.Mops {
			if m.F == history.FSend {
				c.txnKeys[m.Key] = true
			}
		}
	}
	if e.Type == history.Ok && (e.F == history.FPoll || e.F == history.FTxn) {
		for _, m := range e.Mops {
			for k, rs := range m.Polls {
				id := c.keyID(k)
				for _, r := range rs {
					c.see(id, r)
				}
			}
		}
		return
	}
	switch e.F {
	case history.FSend:
		for _, m := range e.Mops {
			if m.F != history.FSend {
				continue
			}
			switch e.Type {
			case history.Ok:
				op := lop{client: e.Process.ID, send: true, value: m.Value, index: e.Index, offset: -1,
					call: int64(e.InvokeTime), ret: int64(e.Time)}
				if m.Offset != nil {
					op.offset = *m.Offset
					c.observe(c.keyID(m.Key), *m.Offset)
				}
				c.partition(m.Key).Add(op)
			case history.Info:
				c.infos = append(c.infos, infoSend{key: m.Key, value: m.Value, call: int64(e.InvokeTime), client: e.Process.ID, index: e.Index})
			}
			// A failed send did not happen: nothing to check.
		}
	case history.FRead:
		if e.Type != history.Ok {
			return // reads have no effect; an unfinished one proves nothing
		}
		for _, m := range e.Mops {
			if m.F != history.FRead || !m.Done {
				continue
			}
			op := lop{client: e.Process.ID, value: m.From, offset: m.HW, index: e.Index,
				call: int64(e.InvokeTime), ret: int64(e.Time), recStart: len(c.recs)}
			for _, r := range m.Records {
				c.recs = append(c.recs, record{r.Offset, r.Value})
				c.see(c.keyID(m.Key), r)
			}
			op.recEnd = len(c.recs)
			c.partition(m.Key).Add(op)
		}
	}
}

// operations returns ops in Porcupine's form, in the same order. Inputs
// and outputs are allocated as two blocks rather than two objects per
// operation. A read's records are the Checker's own (densify renumbers
// them in place; partitions own disjoint ranges).
func (c *Checker) operations(ls *blocks.List[lop]) []porcupine.Operation {
	ins := make([]input, ls.Len())
	outs := make([]output, ls.Len())
	ops := make([]porcupine.Operation, ls.Len())
	ls.All(func(i int, l *lop) {
		in, out := &ins[i], &outs[i]
		if l.send {
			*in = input{send: true, value: l.value, index: l.index, info: l.info}
			*out = output{offset: l.offset}
		} else {
			*in = input{from: l.value, index: l.index}
			*out = output{hw: l.offset, records: c.recs[l.recStart:l.recEnd:l.recEnd]}
		}
		ops[i] = porcupine.Operation{ClientId: l.client, Input: in, Output: out, Call: l.call, Return: l.ret, Metadata: l.index}
	})
	return ops
}

// partition returns the operations of key k.
func (c *Checker) partition(k string) *blocks.List[lop] {
	l := c.ops[k]
	if l == nil {
		l = &blocks.List[lop]{}
		c.ops[k] = l
	}
	return l
}

func (c *Checker) keyID(k string) int32 {
	id, ok := c.keyIDs[k]
	if !ok {
		id = int32(len(c.keyIDs))
		c.keyIDs[k] = id
	}
	return id
}

func (c *Checker) observe(k int32, offset int64) {
	m := c.offsets[k]
	if m == nil {
		m = &offsetSet{}
		c.offsets[k] = m
	}
	m.add(offset)
}

func (c *Checker) see(k int32, r history.Record) {
	c.observe(k, r.Offset)
	for int(k) >= len(c.seenAt) {
		c.seenAt = append(c.seenAt, map[int64]int64{})
	}
	if _, ok := c.seenAt[k][r.Value]; !ok {
		c.seenAt[k][r.Value] = r.Offset
	}
}

// offsetSet is the set of offsets observed on one partition. They are
// dense from 0 (or from where retention left the log) in practice, so a
// bitmap costs a bit per offset where a map entry cost tens of bytes, and
// every record read passes here. An offset the bitmap cannot take without
// growing past 64 bits per member (plus a fixed 64 Kib), so that sparse
// offsets cannot make it huge, goes to a map.
type offsetSet struct {
	bits  []uint64
	n     int // members in bits
	other map[int64]struct{}
}

func (s *offsetSet) add(o int64) {
	if o >= 0 && o < int64(s.n+1)*64+1<<16 {
		w := int(o / 64)
		if w >= len(s.bits) {
			s.bits = slices.Grow(s.bits, w+1-len(s.bits))[:w+1]
		}
		if b := uint64(1) << (o % 64); s.bits[w]&b == 0 {
			s.bits[w] |= b
			s.n++
		}
		return
	}
	if s.other == nil {
		s.other = map[int64]struct{}{}
	}
	s.other[o] = struct{}{}
}

// sorted returns the members in increasing order.
func (s *offsetSet) sorted() []int64 {
	if s == nil {
		return nil
	}
	out := make([]int64, 0, s.n+len(s.other))
	for w, x := range s.bits {
		for ; x != 0; x &= x - 1 {
			out = append(out, int64(w)*64+int64(bits.TrailingZeros64(x)))
		}
	}
	for o := range s.other {
		if o < 0 || o >= int64(len(s.bits))*64 || s.bits[o/64]&(1<<(o%64)) == 0 {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// dense reports whether the members are exactly 0, 1, ..., n-1 (or none).
func (s *offsetSet) dense() bool {
	if s == nil || (s.n == 0 && len(s.other) == 0) {
		return true
	}
	if len(s.other) > 0 {
		offs := s.sorted() // rare: some offset did not fit the bitmap
		return offs[0] == 0 && offs[len(offs)-1] == int64(len(offs)-1)
	}
	last := len(s.bits) - 1
	for last >= 0 && s.bits[last] == 0 {
		last--
	}
	top := int64(last)*64 + int64(63-bits.LeadingZeros64(s.bits[last]))
	return int64(s.n) == top+1
}

// DefaultSegmentTimeLimit is the search budget of one segment when
// Options.SegmentTimeLimit is zero. A segment of a correct history takes
// milliseconds; one that takes seconds has exploded (Porcupine's search is
// exponential in the operations that overlap), and bounding it keeps one
// such stretch from using up the whole check's budget.
const DefaultSegmentTimeLimit = 10 * time.Second

// Options tune Result.
type Options struct {
	// OutDir receives linearizability.html when a partition is not
	// linearizable; empty writes nothing.
	OutDir string
	// Windows are the history's fault windows, drawn as annotations.
	Windows []windows.Window
	// MaxExamples caps the examples of the nonlinearizable anomaly.
	MaxExamples int
	// SegmentTimeLimit bounds the search of each segment of a partition
	// (see split); a segment that runs out makes its partition "unknown".
	// Zero means DefaultSegmentTimeLimit. The context's deadline bounds
	// the whole search as well.
	SegmentTimeLimit time.Duration
}

// partResult is the outcome of one partition's search.
type partResult struct {
	key   string
	res   porcupine.CheckResult
	info  porcupine.LinearizationInfo
	model porcupine.Model
	// ops are the operations of the segment that failed.
	ops []porcupine.Operation
	// segments is how many independent pieces the partition was cut into.
	segments int
	// renumbered says the offsets were renumbered (see densify).
	renumbered bool
	// overBudget says a segment ran out of Options.SegmentTimeLimit
	// (rather than the context's deadline).
	overBudget bool
}

// partition is one partition's operations on their way to the search.
type partition struct {
	key     string
	ops     *blocks.List[lop]
	offsets *offsetSet
}

// Result resolves indefinite sends, then searches every partition for a
// linearization in parallel until ctx's deadline. A partition whose
// search did not finish is "unknown", never "ok".
func (c *Checker) Result(ctx context.Context, opts Options) *Result {
	r := &Result{Partitions: map[string]string{}}
	if opts.SegmentTimeLimit <= 0 {
		opts.SegmentTimeLimit = DefaultSegmentTimeLimit
	}
	// Resolve info sends: a value some ok read saw at offset o was
	// appended there at some point after its invocation, possibly after
	// the client gave up, so it gets an infinite return time (after every
	// other event). A value never seen is dropped: it may never have
	// happened, and if it did, nobody could tell.
	inf := c.last + 1
	for _, s := range c.infos {
		var o int64
		ok := false
		if k := c.keyID(s.key); int(k) < len(c.seenAt) {
			o, ok = c.seenAt[k][s.value]
		}
		if !ok {
			r.InfoDropped++
			continue
		}
		r.InfoResolved++
		c.partition(s.key).Add(lop{client: s.client, send: true, info: true, value: s.value, index: s.index,
			call: s.call, offset: o, ret: inf})
	}
	c.infos, c.seenAt = nil, nil
	parts := make([]partition, 0, len(c.ops))
	for k, ops := range c.ops {
		if c.txnKeys[k] {
			r.TxnSkipped = append(r.TxnSkipped, k)
			continue
		}
		parts = append(parts, partition{key: k, ops: ops, offsets: c.offsets[c.keyID(k)]})
		r.Operations += ops.Len()
	}
	slices.SortFunc(parts, func(a, b partition) int { return cmp.Compare(a.key, b.key) })
	slices.Sort(r.TxnSkipped)
	// From here on each partition's operations are reachable only from
	// parts, which lets each go as soon as it is searched.
	c.ops, c.offsets = nil, nil

	results := make([]partResult, len(parts))
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for i := range parts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			pt := &parts[i]
			ops := c.operations(pt.ops)
			renumbered := densify(ops, pt.offsets)
			*pt = partition{key: pt.key}
			results[i] = checkPartition(ctx, pt.key, ops, opts.SegmentTimeLimit)
			results[i].renumbered = renumbered
		}()
	}
	wg.Wait()

	var failed []partResult
	unknown, overBudget := 0, 0
	for _, p := range results {
		r.Segments += p.segments
		if p.renumbered {
			r.Renumbered = append(r.Renumbered, p.key)
		}
		switch p.res {
		case porcupine.Ok:
			r.Partitions[p.key] = PartitionOk
		case porcupine.Illegal:
			r.Partitions[p.key] = PartitionNonlinearizable
			failed = append(failed, p)
		default:
			r.Partitions[p.key] = PartitionUnknown
			unknown++
			if p.overBudget {
				overBudget++
			}
		}
	}
	switch {
	case len(failed) > 0:
		r.Valid = verdict.False
	case unknown > 0:
		r.Valid = verdict.Unknown
		r.Error = fmt.Sprintf("linearizability search of %d partition(s) did not finish in time", unknown)
		if overBudget > 0 {
			r.Error += fmt.Sprintf(" (%d ran out of the per-segment budget of %v)", overBudget, opts.SegmentTimeLimit)
		}
	default:
		r.Valid = verdict.True
	}
	if len(failed) > 0 {
		maxEx := opts.MaxExamples
		if maxEx <= 0 {
			maxEx = 20
		}
		a := &verdict.Anomaly{Count: len(failed), FatalCount: len(failed), Examples: []verdict.Case{}}
		for _, p := range failed {
			if len(a.Examples) < maxEx {
				a.Examples = append(a.Examples, explain(p))
			}
		}
		r.Errors = map[string]*verdict.Anomaly{Nonlinearizable: a}
		if opts.OutDir != "" {
			if err := writeVisualization(opts.OutDir, failed, opts.Windows); err != nil {
				r.Error = err.Error()
			} else {
				r.Visualization = VisualizationFile
			}
		}
	}
	return r
}

// densify renumbers the offsets of one partition's operations to dense
// positions over the observed offsets (the offsets some ok send returned or
// some ok poll or read found a record at), unless those are already 0..n-1,
// and reports whether it did. The model is a log whose offsets are 0, 1,
// 2, ...; a Kafka log may start elsewhere (retention, a pre-existing
// topic) and have offsets no message occupies (transaction markers), which
// are not anomalies. An offset or high watermark nobody observed maps to
// the number of observed offsets below it.
func densify(ops []porcupine.Operation, observed *offsetSet) bool {
	if observed.dense() {
		return false
	}
	offs := observed.sorted()
	pos := func(o int64) int64 {
		i, _ := slices.BinarySearch(offs, o)
		return int64(i)
	}
	for i := range ops {
		in, out := ops[i].Input.(*input), ops[i].Output.(*output)
		if in.send {
			if out.offset >= 0 {
				out.offset = pos(out.offset)
			}
			continue
		}
		if in.from >= 0 {
			in.from = pos(in.from)
		}
		for j := range out.records {
			out.records[j].offset = pos(out.records[j].offset)
		}
		out.hw = pos(out.hw)
	}
	return true
}

func checkPartition(ctx context.Context, key string, ops []porcupine.Operation, segLimit time.Duration) partResult {
	if segs, values, ok := splitByPosition(ops); ok {
		return searchSegments(ctx, key, segs, func(o int64) int64 { return values[o] }, segLimit)
	}
	segs, values := split(ops)
	return searchSegments(ctx, key, segs, func(o int64) int64 { return values[o] }, segLimit)
}

// searchSegments searches the segments of one partition in order, each
// starting from the log the previous ones determined (valueAt gives the
// value at each offset below the last segment's start), each for at most
// segLimit (and never past ctx's deadline).
func searchSegments(ctx context.Context, key string, segs []segment, valueAt func(int64) int64, segLimit time.Duration) partResult {
	t := newTrie()
	node, length := int32(0), int64(0)
	p := partResult{key: key, res: porcupine.Ok, segments: len(segs)}
	for _, sg := range segs {
		for ; length < sg.startLen; length++ {
			node = t.appendValue(node, valueAt(length))
		}
		if err := ctx.Err(); err != nil {
			p.res = porcupine.Unknown
			return p
		}
		// Porcupine honours a timeout, not a context: turn the deadline
		// into one.
		timeout, budget := segLimit, true
		if d, ok := ctx.Deadline(); ok {
			if left := time.Until(d); left < timeout {
				timeout, budget = left, false
			}
			if timeout <= 0 {
				p.res = porcupine.Unknown
				return p
			}
		}
		denseClients(sg.ops)
		m := model(t, node)
		res, info := porcupine.CheckOperationsVerbose(m, sg.ops, timeout)
		switch res {
		case porcupine.Illegal:
			p.res, p.info, p.model, p.ops = res, info, m, sg.ops
			return p
		case porcupine.Unknown:
			p.res, p.overBudget = res, budget
			return p
		}
	}
	return p
}

// denseClients renumbers client ids from 0: the visualization draws one
// row per client id, and processes are renumbered after every info.
func denseClients(ops []porcupine.Operation) {
	dense := map[int]int{}
	for i := range ops {
		id, ok := dense[ops[i].ClientId]
		if !ok {
			id = len(dense)
			dense[ops[i].ClientId] = id
		}
		ops[i].ClientId = id
	}
}

// explain names the first operation (in invocation order) that no partial
// linearization could place: the search got stuck there.
func explain(p partResult) verdict.Case {
	placed := map[int64]bool{}
	longest := 0
	for _, part := range p.info.PartialLinearizationsOperations() {
		for _, lin := range part {
			longest = max(longest, len(lin))
			for _, op := range lin {
				placed[op.Metadata.(int64)] = true
			}
		}
	}
	ops := slices.Clone(p.ops)
	slices.SortStableFunc(ops, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
	cs := verdict.Case{Key: p.key, Fatal: true, Ops: []int64{}}
	for _, op := range ops {
		idx := op.Metadata.(int64)
		if !placed[idx] {
			cs.Ops = append(cs.Ops, idx)
			desc := p.model.DescribeOperation(op.Input, op.Output)
			cs.Explanation = fmt.Sprintf("no linearization of %s exists: of the %d operations of the failing stretch, the longest linearizable prefix has %d, and op %d (%s) fits after none of them; see %s",
				p.key, len(p.ops), longest, idx, desc, VisualizationFile)
			return cs
		}
	}
	cs.Explanation = fmt.Sprintf("no linearization of %s's %d operations exists; see %s", p.key, len(p.ops), VisualizationFile)
	return cs
}
