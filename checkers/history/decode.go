package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// decoder turns one line into an Entry and checks everything about it that
// does not depend on other lines: the fields, the type and the shape of the
// value. It is used by one goroutine at a time; Scan gives each of its
// workers one.
//
// Decoded micro-operations, records and offsets are carved from blocks that
// are filled once and never reused, so an entry's Mops stay valid for as
// long as anyone holds them while costing a few allocations per thousand
// lines instead of several per line.
type decoder struct {
	intern map[string]string
	mops   []Mop
	recs   []Record
	offs   []int64
	// mopBuf and recBuf collect one list while it is being parsed.
	mopBuf []Mop
	recBuf []Record
}

func newDecoder() *decoder { return &decoder{intern: map[string]string{}} }

// blockLen is the number of elements of a fresh block.
const blockLen = 1024

// carve copies src into block and returns the copy, capped so that
// appending to it cannot overwrite its neighbours. An empty src gives an
// empty, non-nil slice, as encoding/json decodes "[]".
func carve[T any](block *[]T, src []T) []T {
	b := *block
	if b == nil || cap(b)-len(b) < len(src) {
		b = make([]T, 0, max(blockLen, len(src)))
	}
	n := len(b)
	b = append(b, src...)
	*block = b
	return b[n:len(b):len(b)]
}

// offset returns a pointer to a copy of o carved from the offset block.
func (d *decoder) offset(o int64) *int64 {
	s := carve(&d.offs, []int64{o})
	return &s[0]
}

// lineError is what is wrong with one line. Late errors (an unknown type, a
// value of the wrong shape) are reported only after the line's index and
// time have been checked, so that a line broken in several ways is
// described the same way however it was decoded.
type lineError struct {
	msg  string
	late bool
}

// decode parses line, which should hold operation want, into e. On success
// e.Value is a sub-slice of line, so line must not be overwritten while e
// is in use.
func (d *decoder) decode(line []byte, want int64, e *Entry) *lineError {
	*e = Entry{}
	if len(bytes.TrimSpace(line)) == 0 {
		return &lineError{msg: fmt.Sprintf("empty line (want the JSON object of operation %d)", want)}
	}
	if !d.parseFast(line, e) {
		*e = Entry{}
		if msg := parseSlow(line, e); msg != "" {
			return &lineError{msg: msg}
		}
	}
	switch e.Type {
	case Invoke, Ok, Fail, Info:
	default:
		return &lineError{msg: fmt.Sprintf("unknown type %q (want invoke, ok, fail or info)", e.Type), late: true}
	}
	if !e.Process.Nemesis {
		if msg := checkValue(e); msg != "" {
			return &lineError{msg: msg, late: true}
		}
	}
	return nil
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

// parseSlow decodes a line with encoding/json, for every shape the fast
// parser declines, and explains what is wrong with a malformed line.
func parseSlow(line []byte, e *Entry) (msg string) {
	var raw rawOp
	if err := json.Unmarshal(line, &raw); err != nil {
		return fmt.Sprintf("not a JSON operation: %v", err)
	}
	switch {
	case raw.Index == nil:
		return `missing "index"`
	case raw.Time == nil:
		return `missing "time"`
	case raw.Process == nil:
		return `missing "process"`
	case raw.Type == nil:
		return `missing "type"`
	case raw.F == nil || *raw.F == "":
		return `missing "f"`
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
		return ""
	}
	switch e.F {
	case FAssign, FSubscribe:
		if err := json.Unmarshal(e.Value, &e.Keys); err != nil {
			return fmt.Sprintf("%s value must be a list of keys: %v", e.F, err)
		}
		if e.Keys == nil {
			e.Keys = []string{}
		}
	case FSend, FPoll, FTxn, FRead:
		if err := json.Unmarshal(e.Value, &e.Mops); err != nil {
			return fmt.Sprintf("%s value: %v", e.F, err)
		}
		if e.Mops == nil {
			e.Mops = []Mop{}
		}
	}
	return ""
}

func isNull(v json.RawMessage) bool {
	t := bytes.TrimSpace(v)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// checkValue checks the decoded value of client operations whose value
// the contract fixes.
func checkValue(e *Entry) (msg string) {
	switch e.F {
	case FAssign, FSubscribe:
		if e.Keys == nil && (e.Type == Ok || e.Type == Invoke) {
			return fmt.Sprintf("%s %s without a list of keys", e.Type, e.F)
		}
		return ""
	case FSend, FPoll, FTxn, FRead:
	default:
		return "" // crash and future functions: free-form value
	}
	if e.Mops == nil {
		if e.Type == Invoke || e.Type == Ok {
			return fmt.Sprintf("%s %s without micro-operations", e.Type, e.F)
		}
		return ""
	}
	for i, m := range e.Mops {
		if msg := checkMop(e, i, &m); msg != "" {
			return msg
		}
	}
	return ""
}

// checkMop checks micro-operation i of e against the operation it is part
// of.
func checkMop(e *Entry, i int, m *Mop) (msg string) {
	switch {
	case e.F != FTxn && m.F != e.F:
		return fmt.Sprintf("micro-operation %d is %q inside a %s operation", i, m.F, e.F)
	case e.F == FTxn && m.F == FRead:
		return fmt.Sprintf("micro-operation %d: read is not allowed inside a txn", i)
	case e.Type == Invoke && m.Done:
		return fmt.Sprintf("micro-operation %d of an invoke is in completion form", i)
	case e.Type == Ok && !m.Done:
		return fmt.Sprintf("micro-operation %d of an ok completion is in invoke form", i)
	case (m.F == FSend || m.F == FRead) && m.Key == "":
		return fmt.Sprintf("micro-operation %d has an empty key", i)
	}
	if m.F == FPoll {
		if rs, ok := m.Polls[""]; ok && len(rs) > 0 {
			return fmt.Sprintf("micro-operation %d polls an empty key", i)
		}
	}
	return ""
}
