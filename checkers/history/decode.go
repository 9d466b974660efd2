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
// Decoded micro-operations, records and offsets live in blocks that are
// filled once and never reused, so an entry's Mops stay valid for as
// long as anyone holds them while costing a few allocations per thousand
// lines instead of several per line.
type decoder struct {
	intern map[string]string
	mops   []Mop
	recs   []Record
	offs   []int64
}

func newDecoder() *decoder { return &decoder{intern: map[string]string{}} }

// blockLen is the number of elements of a fresh block.
const blockLen = 1024

// begin starts a list at the end of block and returns where it starts.
func begin[T any](block *[]T) int {
	if *block == nil {
		*block = make([]T, 0, blockLen)
	}
	return len(*block)
}

// push appends v to the list that starts at *start in block. A full block
// is replaced, and the list so far moves with it: a list never spans two
// blocks, and the elements before it stay where they are.
func push[T any](block *[]T, start *int, v T) {
	b := *block
	if len(b) == cap(b) {
		n := len(b) - *start
		nb := make([]T, n, max(blockLen, 2*n))
		copy(nb, b[*start:])
		b, *start = nb, 0
	}
	*block = append(b, v)
}

// end returns the list that starts at start, capped so that appending to
// it cannot overwrite what follows. An empty list is empty, not nil, as
// encoding/json decodes "[]".
func end[T any](block []T, start int) []T { return block[start:len(block):len(block)] }

// offset returns a pointer to a copy of o in the offset block.
func (d *decoder) offset(o int64) *int64 {
	start := begin(&d.offs)
	push(&d.offs, &start, o)
	return &d.offs[start]
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
	Index   *int64              `json:"index"`
	Time    *int64              `json:"time"`
	Process *Process            `json:"process"`
	Type    *Type               `json:"type"`
	F       *string             `json:"f"`
	Value   json.RawMessage     `json:"value"`
	Error   *string             `json:"error"`
	Node    *string             `json:"node"`
	Nodes   map[string][]string `json:"nodes"`
	// Producer is optional; absent, a send's producer is idempotent.
	Producer *string `json:"producer"`
	Group    *string `json:"group"`
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
	if raw.Node != nil {
		e.Node = *raw.Node
	}
	e.Nodes = raw.Nodes
	if raw.Producer != nil {
		e.Producer = *raw.Producer
	}
	if raw.Group != nil {
		e.Group = *raw.Group
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
	case FCommit, FOffsets:
		if err := json.Unmarshal(e.Value, &e.Offsets); err != nil {
			return fmt.Sprintf("%s value must be an object of offsets by key: %v", e.F, err)
		}
		if e.Offsets == nil {
			e.Offsets = map[string]int64{}
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
	case FCommit, FOffsets:
		switch {
		case e.Group == "" && (e.Type == Invoke || e.Type == Ok):
			return fmt.Sprintf("%s %s without a group", e.Type, e.F)
		case e.Offsets == nil && e.Type == Ok, e.F == FCommit && e.Offsets == nil && e.Type == Invoke:
			return fmt.Sprintf("%s %s without offsets", e.Type, e.F)
		}
		for k := range e.Offsets {
			if k == "" {
				return fmt.Sprintf("%s %s has an offset for an empty key", e.Type, e.F)
			}
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
