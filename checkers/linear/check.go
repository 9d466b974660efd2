package linear

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/chronik-chaos/chronik/checkers/history"
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

// kv names a message by key id (see Checker.keyID) and value; integer
// keys hash much faster than strings, and every record read passes here.
type kv struct {
	key   int32
	value int64
}

// Checker accumulates the send and read micro-operations of a history.
// It is not safe for concurrent use.
type Checker struct {
	ops   map[string][]porcupine.Operation
	infos []infoSend
	// seenAt maps a message to the first offset an ok poll or read found
	// it at, to resolve indefinite sends.
	seenAt map[kv]int64
	keyIDs map[string]int32
	last   int64
	// offsets holds, per key id, every offset an ok send returned or an ok
	// poll or read returned a record at.
	offsets map[int32]map[int64]struct{}
	// txnKeys are keys some ok or indefinite transaction sent to.
	txnKeys map[string]bool
}

// New returns an empty Checker.
func New() *Checker {
	return &Checker{ops: map[string][]porcupine.Operation{}, seenAt: map[kv]int64{}, keyIDs: map[string]int32{},
		offsets: map[int32]map[int64]struct{}{}, txnKeys: map[string]bool{}}
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
				out := &output{offset: -1}
				if m.Offset != nil {
					out.offset = *m.Offset
					c.observe(c.keyID(m.Key), *m.Offset)
				}
				c.ops[m.Key] = append(c.ops[m.Key], porcupine.Operation{
					ClientId: e.Process.ID,
					Input:    &input{send: true, value: m.Value, index: e.Index},
					Call:     int64(e.InvokeTime), Output: out, Return: int64(e.Time),
					Metadata: e.Index,
				})
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
			out := &output{hw: m.HW, records: make([]record, len(m.Records))}
			for i, r := range m.Records {
				out.records[i] = record{r.Offset, r.Value}
				c.see(c.keyID(m.Key), r)
			}
			c.ops[m.Key] = append(c.ops[m.Key], porcupine.Operation{
				ClientId: e.Process.ID,
				Input:    &input{from: m.From, index: e.Index},
				Call:     int64(e.InvokeTime), Output: out, Return: int64(e.Time),
				Metadata: e.Index,
			})
		}
	}
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
		m = map[int64]struct{}{}
		c.offsets[k] = m
	}
	m[offset] = struct{}{}
}

func (c *Checker) see(k int32, r history.Record) {
	c.observe(k, r.Offset)
	x := kv{k, r.Value}
	if _, ok := c.seenAt[x]; !ok {
		c.seenAt[x] = r.Offset
	}
}

// Options tune Result.
type Options struct {
	// OutDir receives linearizability.html when a partition is not
	// linearizable; empty writes nothing.
	OutDir string
	// Windows are the history's fault windows, drawn as annotations.
	Windows []windows.Window
	// MaxExamples caps the examples of the nonlinearizable anomaly.
	MaxExamples int
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
}

// Result resolves indefinite sends, then searches every partition for a
// linearization in parallel until ctx's deadline. A partition whose
// search did not finish is "unknown", never "ok".
func (c *Checker) Result(ctx context.Context, opts Options) *Result {
	r := &Result{Partitions: map[string]string{}}
	// Resolve info sends: a value some ok read saw at offset o was
	// appended there at some point after its invocation, possibly after
	// the client gave up, so it gets an infinite return time (after every
	// other event). A value never seen is dropped: it may never have
	// happened, and if it did, nobody could tell.
	inf := c.last + 1
	for _, s := range c.infos {
		o, ok := c.seenAt[kv{c.keyID(s.key), s.value}]
		if !ok {
			r.InfoDropped++
			continue
		}
		r.InfoResolved++
		c.ops[s.key] = append(c.ops[s.key], porcupine.Operation{
			ClientId: s.client,
			Input:    &input{send: true, value: s.value, index: s.index, info: true},
			Call:     s.call, Output: &output{offset: o}, Return: inf,
			Metadata: s.index,
		})
	}
	c.infos, c.seenAt = nil, nil
	keys := make([]string, 0, len(c.ops))
	for k, ops := range c.ops {
		if c.txnKeys[k] {
			r.TxnSkipped = append(r.TxnSkipped, k)
			continue
		}
		if densify(ops, c.offsets[c.keyID(k)]) {
			r.Renumbered = append(r.Renumbered, k)
		}
		keys = append(keys, k)
		r.Operations += len(ops)
	}
	slices.Sort(keys)
	slices.Sort(r.TxnSkipped)
	slices.Sort(r.Renumbered)
	c.offsets = nil

	results := make([]partResult, len(keys))
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = checkPartition(ctx, k, c.ops[k])
		}()
	}
	wg.Wait()

	var failed []partResult
	unknown := 0
	for _, p := range results {
		r.Segments += p.segments
		switch p.res {
		case porcupine.Ok:
			r.Partitions[p.key] = PartitionOk
		case porcupine.Illegal:
			r.Partitions[p.key] = PartitionNonlinearizable
			failed = append(failed, p)
		default:
			r.Partitions[p.key] = PartitionUnknown
			unknown++
		}
	}
	switch {
	case len(failed) > 0:
		r.Valid = verdict.False
	case unknown > 0:
		r.Valid = verdict.Unknown
		r.Error = fmt.Sprintf("linearizability search of %d partition(s) did not finish in time", unknown)
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
func densify(ops []porcupine.Operation, observed map[int64]struct{}) bool {
	offs := make([]int64, 0, len(observed))
	for o := range observed {
		offs = append(offs, o)
	}
	slices.Sort(offs)
	if len(offs) == 0 || (offs[0] == 0 && offs[len(offs)-1] == int64(len(offs)-1)) {
		return false
	}
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

func checkPartition(ctx context.Context, key string, ops []porcupine.Operation) partResult {
	segs, values, ok := splitByPosition(ops)
	if !ok {
		segs, values = split(ops)
	}
	return searchSegments(ctx, key, segs, values)
}

// searchSegments searches the segments of one partition in order, each
// starting from the log the previous ones determined.
func searchSegments(ctx context.Context, key string, segs []segment, values map[int64]int64) partResult {
	t := newTrie()
	node, length := int32(0), int64(0)
	p := partResult{key: key, res: porcupine.Ok, segments: len(segs)}
	for _, sg := range segs {
		for ; length < sg.startLen; length++ {
			node = t.appendValue(node, values[length])
		}
		if err := ctx.Err(); err != nil {
			p.res = porcupine.Unknown
			return p
		}
		// Porcupine honours a timeout, not a context: turn the deadline
		// into one. Without a deadline the search runs to completion.
		timeout := time.Duration(0)
		if d, ok := ctx.Deadline(); ok {
			timeout = time.Until(d)
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
			p.res = res
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
