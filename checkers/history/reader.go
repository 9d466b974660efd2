package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// MaxLineBytes bounds one line of history.jsonl. A poll that returns a
// thousand records is about 30 KiB; 16 MiB leaves room for huge polls while
// keeping a corrupt file (say, a binary blob without newlines) from eating
// all memory.
const MaxLineBytes = 16 << 20

// ErrMalformed is wrapped by every error the Reader returns for input that
// breaks the history contract, so callers can tell a bad file (a usage
// error) from an I/O failure with errors.Is.
var ErrMalformed = errors.New("malformed history")

// FormatError describes why one line of a history is malformed.
type FormatError struct {
	// Line is the 1-based line number, as editors show it.
	Line int64
	Msg  string
}

// Error renders "line N: what is wrong".
func (e *FormatError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Unwrap makes errors.Is(err, ErrMalformed) hold.
func (e *FormatError) Unwrap() error { return ErrMalformed }

// Client operation functions besides the micro-operation ones in mop.go.
const (
	FTxn       = "txn"
	FAssign    = "assign"
	FSubscribe = "subscribe"
	FCrash     = "crash"
)

// Entry is one validated line of the history with what the checkers need
// from its context: the decoded value and, for completions, the matching
// invocation.
type Entry struct {
	Op
	// Mops is the decoded value of a client send, poll, txn or read
	// operation; nil for other functions.
	Mops []Mop
	// Keys is the decoded value of an assign or subscribe operation.
	Keys []string
	// InvokeIndex and InvokeTime locate the invocation this completion
	// answers. For invocations, and for nemesis events that were not
	// preceded by an invoke, they equal the entry's own Index and Time.
	InvokeIndex int64
	InvokeTime  time.Duration
	// InvokeMops is the decoded value of the invocation, for completions of
	// micro-operation functions (a failed or indefinite completion may
	// carry only the invoke form, or nothing useful at all).
	InvokeMops []Mop
	// Pending marks a synthetic info completion the Reader made up at the
	// end of the file for an invocation that never completed: as in Jepsen,
	// such an operation may or may not have happened.
	Pending bool
}

// IsClient reports whether the entry belongs to a client process.
func (e *Entry) IsClient() bool { return !e.Process.Nemesis }

// inflight is what the Reader remembers about an open invocation.
type inflight struct {
	index int64
	time  time.Duration
	f     string
	mops  []Mop
	op    Op
}

// Reader streams a history.jsonl, validating each line against the
// contract of DESIGN.md and pairing completions with invocations. It keeps
// only the open invocations (at most one per live client process) and the
// set of retired process numbers in memory, so it reads arbitrarily long
// histories in constant memory per process.
//
// Next returns every line, invocations included, in file order, then the
// synthetic Pending completions of invocations left open at the end of the
// file (in invocation order), then io.EOF. After a malformed line Next
// keeps returning that error: a history with a broken line is rejected
// whole, never silently truncated.
type Reader struct {
	sc       *bufio.Scanner
	line     int64
	lastTime time.Duration
	open     map[int]*inflight
	retired  map[int]struct{}
	nemesis  map[string][]inflight
	pending  []*inflight
	err      error
	drained  bool
	intern   map[string]string
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	return &Reader{
		sc:      sc,
		open:    map[int]*inflight{},
		retired: map[int]struct{}{},
		nemesis: map[string][]inflight{},
		intern:  map[string]string{},
	}
}

// Line returns how many lines have been read so far.
func (r *Reader) Line() int64 { return r.line }

func (r *Reader) fail(format string, args ...any) error {
	r.err = &FormatError{Line: r.line, Msg: fmt.Sprintf(format, args...)}
	return r.err
}

// rawOp mirrors Op with pointers so that missing fields are detected
// rather than defaulted to zero.
type rawOp struct {
	Index   *int64          `json:"index"`
	Time    *int64          `json:"time"`
	Process *Process        `json:"process"`
	Type    *Type           `json:"type"`
	F       *string         `json:"f"`
	Value   json.RawMessage `json:"value"`
	Error   *string         `json:"error"`
}

// Next returns the next entry, io.EOF at the end, or an error wrapping
// ErrMalformed that names the line and what is wrong with it.
func (r *Reader) Next() (Entry, error) {
	if r.err != nil {
		return Entry{}, r.err
	}
	if r.drained {
		return r.nextPending()
	}
	if !r.sc.Scan() {
		if err := r.sc.Err(); err != nil {
			r.line++
			if errors.Is(err, bufio.ErrTooLong) {
				return Entry{}, r.fail("line longer than %d bytes", MaxLineBytes)
			}
			r.err = fmt.Errorf("read history line %d: %w", r.line, err)
			return Entry{}, r.err
		}
		r.drained = true
		r.collectPending()
		return r.nextPending()
	}
	r.line++
	return r.parse(r.sc.Bytes())
}

func (r *Reader) collectPending() {
	for _, in := range r.open {
		r.pending = append(r.pending, in)
	}
	// Map iteration order is random; emit in invocation order so that
	// results are reproducible.
	sortInflight(r.pending)
	r.open = nil
}

func (r *Reader) nextPending() (Entry, error) {
	if len(r.pending) == 0 {
		return Entry{}, io.EOF
	}
	in := r.pending[0]
	r.pending = r.pending[1:]
	op := in.op
	op.Type = Info
	op.Time = r.lastTime
	op.Error = "pending at end of history"
	return Entry{
		Op:          op,
		Mops:        in.mops,
		InvokeIndex: in.index,
		InvokeTime:  in.time,
		InvokeMops:  in.mops,
		Pending:     true,
	}, nil
}

func (r *Reader) parse(line []byte) (Entry, error) {
	want := r.line - 1
	if len(bytes.TrimSpace(line)) == 0 {
		return Entry{}, r.fail("empty line (want the JSON object of operation %d)", want)
	}
	var e Entry
	if parseFast(line, &e, r.intern) {
		// The fast parser points into the scanner's buffer, which the
		// next Scan overwrites.
		e.Value = append(json.RawMessage(nil), e.Value...)
	} else {
		e = Entry{}
		if err := r.parseSlow(line, &e); err != nil {
			return Entry{}, err
		}
	}
	if e.Index != want {
		return Entry{}, r.fail("index %d, want %d (index is the line number from 0)", e.Index, want)
	}
	if e.Time < 0 {
		return Entry{}, r.fail("negative time %d", e.Time)
	}
	if e.Time < r.lastTime {
		return Entry{}, r.fail("time %d goes backwards (previous line had %d)", e.Time, r.lastTime)
	}
	r.lastTime = e.Time
	switch e.Type {
	case Invoke, Ok, Fail, Info:
	default:
		return Entry{}, r.fail("unknown type %q (want invoke, ok, fail or info)", e.Type)
	}
	e.InvokeIndex, e.InvokeTime = e.Index, e.Time
	if e.Process.Nemesis {
		return r.pairNemesis(e)
	}
	if err := r.checkValue(&e); err != nil {
		return Entry{}, err
	}
	return r.pairClient(e)
}

// parseSlow decodes a line with encoding/json, for every shape the fast
// parser declines, and explains what is wrong with a malformed line.
func (r *Reader) parseSlow(line []byte, e *Entry) error {
	var raw rawOp
	if err := json.Unmarshal(line, &raw); err != nil {
		return r.fail("not a JSON operation: %v", err)
	}
	switch {
	case raw.Index == nil:
		return r.fail(`missing "index"`)
	case raw.Time == nil:
		return r.fail(`missing "time"`)
	case raw.Process == nil:
		return r.fail(`missing "process"`)
	case raw.Type == nil:
		return r.fail(`missing "type"`)
	case raw.F == nil || *raw.F == "":
		return r.fail(`missing "f"`)
	}
	e.Op = Op{
		Index:   *raw.Index,
		Time:    time.Duration(*raw.Time),
		Process: *raw.Process,
		Type:    *raw.Type,
		F:       *raw.F,
		Value:   raw.Value,
	}
	if raw.Error != nil {
		e.Error = *raw.Error
	}
	if e.Process.Nemesis || isNull(e.Value) {
		return nil
	}
	switch e.F {
	case FAssign, FSubscribe:
		if err := json.Unmarshal(e.Value, &e.Keys); err != nil {
			return r.fail("%s value must be a list of keys: %v", e.F, err)
		}
		if e.Keys == nil {
			e.Keys = []string{}
		}
	case FSend, FPoll, FTxn, FRead:
		if err := json.Unmarshal(e.Value, &e.Mops); err != nil {
			return r.fail("%s value: %v", e.F, err)
		}
		if e.Mops == nil {
			e.Mops = []Mop{}
		}
	}
	return nil
}

// pairNemesis matches a nemesis info with the earliest open nemesis invoke
// of the same f. Nemesis operations are exempt from the one-in-flight rule:
// the nemesis may run faults concurrently, and a lone info (no invoke) is a
// legal instant event.
func (r *Reader) pairNemesis(e Entry) (Entry, error) {
	if e.Type == Invoke {
		r.nemesis[e.F] = append(r.nemesis[e.F], inflight{index: e.Index, time: e.Time, f: e.F})
		return e, nil
	}
	if q := r.nemesis[e.F]; len(q) > 0 {
		e.InvokeIndex, e.InvokeTime = q[0].index, q[0].time
		r.nemesis[e.F] = q[1:]
	}
	return e, nil
}

func (r *Reader) pairClient(e Entry) (Entry, error) {
	p := e.Process.ID
	if _, dead := r.retired[p]; dead {
		return Entry{}, r.fail("process %d reused after an info completion (a client takes a new process number after info)", p)
	}
	in, busy := r.open[p]
	if e.Type == Invoke {
		if busy {
			return Entry{}, r.fail("process %d invokes %s while operation %d (%s) is still in flight", p, e.F, in.index, in.f)
		}
		r.open[p] = &inflight{index: e.Index, time: e.Time, f: e.F, mops: e.Mops, op: e.Op}
		return e, nil
	}
	if !busy {
		return Entry{}, r.fail("process %d completes %s (%s) without an open invoke", p, e.F, e.Type)
	}
	if in.f != e.F {
		return Entry{}, r.fail("process %d completes f %q but invoked %q at operation %d", p, e.F, in.f, in.index)
	}
	if e.Mops != nil {
		if err := r.matchInvoke(e.Mops, in); err != nil {
			return Entry{}, err
		}
	}
	delete(r.open, p)
	if e.Type == Info {
		r.retired[p] = struct{}{}
	}
	e.InvokeIndex, e.InvokeTime, e.InvokeMops = in.index, in.time, in.mops
	if e.Mops == nil && isMopF(e.F) {
		// A fail or info completion without a value inherits the
		// invocation's micro-operations: the checkers need to know what it
		// may have written.
		e.Mops = in.mops
	}
	return e, nil
}

// matchInvoke checks that a completion's micro-operations are the
// invocation's, in completion form: the same functions in the same order,
// sends of the same values to the same keys, reads of the same keys.
// Otherwise the completion would silently replace what the invocation
// said was sent.
func (r *Reader) matchInvoke(ms []Mop, in *inflight) error {
	if len(ms) != len(in.mops) {
		return r.fail("completion has %d micro-operations but its invoke (operation %d) has %d", len(ms), in.index, len(in.mops))
	}
	for i, m := range ms {
		w := in.mops[i]
		switch {
		case m.F != w.F:
			return r.fail("micro-operation %d is %q but its invoke (operation %d) has %q", i, m.F, in.index, w.F)
		case m.Key != w.Key:
			return r.fail("micro-operation %d %s key %q but its invoke (operation %d) has %q", i, m.F, m.Key, in.index, w.Key)
		case m.F == FSend && m.Value != w.Value:
			return r.fail("micro-operation %d sends %d but its invoke (operation %d) sends %d", i, m.Value, in.index, w.Value)
		}
	}
	return nil
}

func isMopF(f string) bool {
	switch f {
	case FSend, FPoll, FTxn, FRead:
		return true
	}
	return false
}

func isNull(v json.RawMessage) bool {
	t := bytes.TrimSpace(v)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// checkValue checks the decoded value of client operations whose value
// the contract fixes.
func (r *Reader) checkValue(e *Entry) error {
	switch e.F {
	case FAssign, FSubscribe:
		if e.Keys == nil && (e.Type == Ok || e.Type == Invoke) {
			return r.fail("%s %s without a list of keys", e.Type, e.F)
		}
		return nil
	case FSend, FPoll, FTxn, FRead:
	default:
		return nil // crash and future functions: free-form value
	}
	if e.Mops == nil {
		if e.Type == Invoke || e.Type == Ok {
			return r.fail("%s %s without micro-operations", e.Type, e.F)
		}
		return nil
	}
	for i, m := range e.Mops {
		if e.F != FTxn && m.F != e.F {
			return r.fail("micro-operation %d is %q inside a %s operation", i, m.F, e.F)
		}
		if e.F == FTxn && m.F == FRead {
			return r.fail("micro-operation %d: read is not allowed inside a txn", i)
		}
		if e.Type == Invoke && m.Done {
			return r.fail("micro-operation %d of an invoke is in completion form", i)
		}
		if e.Type == Ok && !m.Done {
			return r.fail("micro-operation %d of an ok completion is in invoke form", i)
		}
		if m.F == FPoll {
			for k, rs := range m.Polls {
				if k == "" && len(rs) > 0 {
					return r.fail("micro-operation %d polls an empty key", i)
				}
			}
		}
		if (m.F == FSend || m.F == FRead) && m.Key == "" {
			return r.fail("micro-operation %d has an empty key", i)
		}
	}
	return nil
}

func sortInflight(s []*inflight) {
	// Insertion sort: at most one entry per live process.
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].index < s[j-1].index; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
