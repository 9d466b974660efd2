package history

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// pairer checks what a line means in the context of the lines before it
// (its index, its time, one operation in flight per client process) and
// pairs completions with invocations. It keeps only the open invocations
// (at most one per live client process) and the set of retired process
// numbers, so it reads arbitrarily long histories in constant memory per
// process. It is used by one goroutine, in file order.
type pairer struct {
	lastTime time.Duration
	// procs holds the client processes by number. Numbers are dense from
	// 0 in practice (a client takes the next one after an info), so a
	// slice costs a fraction of a map lookup per line; numbers from
	// maxDenseProcess on live in sparse.
	procs  []procState
	sparse map[int]*procState
	// nemesis holds the open nemesis invocations per f, oldest first.
	nemesis map[string][]inflight
}

// maxDenseProcess bounds procs, to a few megabytes.
const maxDenseProcess = 1 << 16

// retiredProc is the shared state of every retired sparse process.
var retiredProc = &procState{retired: true}

type procState struct {
	in      inflight
	open    bool
	retired bool
}

// inflight is what the pairer remembers about an open invocation.
type inflight struct {
	index int64
	time  time.Duration
	f     string
	value json.RawMessage
	mops  []Mop
}

func newPairer() *pairer {
	return &pairer{sparse: map[int]*procState{}, nemesis: map[string][]inflight{}}
}

func (p *pairer) proc(id int) *procState {
	if id >= maxDenseProcess {
		s := p.sparse[id]
		if s == nil {
			s = &procState{}
			p.sparse[id] = s
		}
		return s
	}
	if id >= len(p.procs) {
		p.procs = append(p.procs, make([]procState, id+1-len(p.procs))...)
	}
	return &p.procs[id]
}

// add checks the decoded line e (line number line, from 1; lerr is what
// decode found wrong with it, if anything) and fills in its invocation.
// Errors name the line.
func (p *pairer) add(e *Entry, line int64, lerr *lineError) error {
	fail := func(format string, args ...any) error {
		return &FormatError{Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if lerr != nil && !lerr.late {
		return fail("%s", lerr.msg)
	}
	if want := line - 1; e.Index != want {
		return fail("index %d, want %d (index is the line number from 0)", e.Index, want)
	}
	if e.Time < 0 {
		return fail("negative time %d", e.Time)
	}
	if e.Time < p.lastTime {
		return fail("time %d goes backwards (previous line had %d)", e.Time, p.lastTime)
	}
	if lerr != nil {
		return fail("%s", lerr.msg)
	}
	p.lastTime = e.Time
	e.InvokeIndex, e.InvokeTime = e.Index, e.Time
	if e.Process.Nemesis {
		p.pairNemesis(e)
		return nil
	}
	if msg := p.pairClient(e); msg != "" {
		return fail("%s", msg)
	}
	return nil
}

// pairNemesis matches a nemesis completion with the earliest open nemesis
// invoke of the same f: as in Jepsen, an invocation is answered by the next
// completion of its process, and the nemesis may run faults of different
// kinds concurrently, so pairing goes by f. A lone info (no open invoke)
// is a legal instant event.
func (p *pairer) pairNemesis(e *Entry) {
	if e.Type == Invoke {
		p.nemesis[e.F] = append(p.nemesis[e.F], inflight{index: e.Index, time: e.Time, f: e.F})
		return
	}
	if q := p.nemesis[e.F]; len(q) > 0 {
		e.InvokeIndex, e.InvokeTime = q[0].index, q[0].time
		p.nemesis[e.F] = q[1:]
	}
}

func (p *pairer) pairClient(e *Entry) (msg string) {
	id := e.Process.ID
	st := p.proc(id)
	if st.retired {
		return fmt.Sprintf("process %d reused after an info completion (a client takes a new process number after info)", id)
	}
	in := &st.in
	if e.Type == Invoke {
		if st.open {
			return fmt.Sprintf("process %d invokes %s while operation %d (%s) is still in flight", id, e.F, in.index, in.f)
		}
		st.open = true
		*in = inflight{index: e.Index, time: e.Time, f: e.F, value: e.Value, mops: e.Mops}
		return ""
	}
	if !st.open {
		return fmt.Sprintf("process %d completes %s (%s) without an open invoke", id, e.F, e.Type)
	}
	if in.f != e.F {
		return fmt.Sprintf("process %d completes f %q but invoked %q at operation %d", id, e.F, in.f, in.index)
	}
	if e.Mops != nil {
		if msg := matchInvoke(e.Mops, in); msg != "" {
			return msg
		}
	}
	e.InvokeIndex, e.InvokeTime, e.InvokeMops = in.index, in.time, in.mops
	if e.Mops == nil && isMopF(e.F) {
		// A fail or info completion without a value inherits the
		// invocation's micro-operations: the checkers need to know what it
		// may have written.
		e.Mops = in.mops
	}
	// Drop the invocation, so that its memory can be collected.
	*st = procState{retired: e.Type == Info}
	if id >= maxDenseProcess {
		if st.retired {
			p.sparse[id] = retiredProc
		} else {
			delete(p.sparse, id)
		}
	}
	return ""
}

// matchInvoke checks that a completion's micro-operations are the
// invocation's, in completion form: the same functions in the same order,
// sends of the same values to the same keys, reads of the same keys.
// Otherwise the completion would silently replace what the invocation
// said was sent.
func matchInvoke(ms []Mop, in *inflight) (msg string) {
	if len(ms) != len(in.mops) {
		return fmt.Sprintf("completion has %d micro-operations but its invoke (operation %d) has %d", len(ms), in.index, len(in.mops))
	}
	for i, m := range ms {
		w := in.mops[i]
		switch {
		case m.F != w.F:
			return fmt.Sprintf("micro-operation %d is %q but its invoke (operation %d) has %q", i, m.F, in.index, w.F)
		case m.Key != w.Key:
			return fmt.Sprintf("micro-operation %d %s key %q but its invoke (operation %d) has %q", i, m.F, m.Key, in.index, w.Key)
		case m.F == FSend && m.Value != w.Value:
			return fmt.Sprintf("micro-operation %d sends %d but its invoke (operation %d) sends %d", i, m.Value, in.index, w.Value)
		}
	}
	return ""
}

func isMopF(f string) bool {
	switch f {
	case FSend, FPoll, FTxn, FRead:
		return true
	}
	return false
}

// pending returns the synthetic info completions of the invocations still
// open at the end of the history, in invocation order, and forgets them.
// As in Jepsen, such an operation may or may not have happened.
func (p *pairer) pending() []Entry {
	var out []Entry
	add := func(id int, st *procState) {
		if !st.open {
			return
		}
		in := st.in
		*st = procState{}
		op := Op{Index: in.index, Time: p.lastTime, Process: Client(id), Type: Info, F: in.f, Value: in.value,
			Error: "pending at end of history"}
		out = append(out, Entry{
			Op:          op,
			Mops:        in.mops,
			InvokeIndex: in.index,
			InvokeTime:  in.time,
			InvokeMops:  in.mops,
			Pending:     true,
		})
	}
	for id := range p.procs {
		add(id, &p.procs[id])
	}
	for id, st := range p.sparse {
		add(id, st)
	}
	// Map iteration order is random; emit in invocation order so that
	// results are reproducible.
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(a.InvokeIndex, b.InvokeIndex) })
	return out
}
