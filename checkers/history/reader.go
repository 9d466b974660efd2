package history

import (
	"errors"
	"fmt"
	"io"
	"time"
)

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
	// FCommit commits consumer-group offsets (OffsetCommit): value
	// {key: offset}, the next offset to consume per key, for Op.Group.
	FCommit = "commit"
	// FOffsets reads a group's committed offsets (OffsetFetch): value
	// null on invoke, {key: offset} on completion, a key absent when the
	// group has no commit for it.
	FOffsets = "offsets"
)

// Entry is one validated line of the history with what the checkers need
// from its context: the decoded value and, for completions, the matching
// invocation.
type Entry struct {
	// Op is the line itself. Value may share memory with the line it was
	// read from and with other entries' values; never modify it.
	Op
	// Mops is the decoded value of a client send, poll, txn or read
	// operation; nil for other functions. Like Value, it may be shared.
	Mops []Mop
	// Keys is the decoded value of an assign or subscribe operation.
	Keys []string
	// Offsets is the decoded value of a commit or offsets operation.
	Offsets map[string]int64
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
	// such an operation may or may not have happened. It has no line of its
	// own: its Index is its invocation's.
	Pending bool
}

// IsClient reports whether the entry belongs to a client process.
func (e *Entry) IsClient() bool { return !e.Process.Nemesis }

// Reader streams a history.jsonl, validating each line against the
// history contract (see the package documentation) and pairing completions with invocations, on the
// caller's goroutine. Scan does the same work on several cores.
//
// Next returns every line, invocations included, in file order, then the
// synthetic Pending completions of invocations left open at the end of the
// file (in invocation order), then io.EOF. After a malformed line Next
// keeps returning that error: a history with a broken line is rejected
// whole, never silently truncated.
type Reader struct {
	lines   lineSplitter
	line    int64
	dec     *decoder
	pair    *pairer
	pending []Entry
	drained bool
	err     error
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader {
	return &Reader{lines: lineSplitter{r: r}, dec: newDecoder(), pair: newPairer()}
}

// Line returns how many lines have been read so far.
func (r *Reader) Line() int64 { return r.line }

// Next returns the next entry, io.EOF at the end, or an error wrapping
// ErrMalformed that names the line and what is wrong with it.
func (r *Reader) Next() (Entry, error) {
	if r.err != nil {
		return Entry{}, r.err
	}
	if r.drained {
		if len(r.pending) == 0 {
			return Entry{}, io.EOF
		}
		e := r.pending[0]
		r.pending = r.pending[1:]
		return e, nil
	}
	line, err := r.lines.next()
	if errors.Is(err, io.EOF) {
		r.drained = true
		r.pending = r.pair.pending()
		return r.Next()
	}
	r.line++
	if err != nil {
		r.err = readErr(err, r.line)
		return Entry{}, r.err
	}
	var e Entry
	lerr := r.dec.decode(line, r.line-1, &e)
	if err := r.pair.add(&e, r.line, lerr); err != nil {
		r.err = err
		return Entry{}, err
	}
	return e, nil
}
