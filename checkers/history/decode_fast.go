package history

import (
	"encoding/json"
	"time"
)

// fastParser decodes the common shapes of history lines (client operations
// as history.Writer writes them) without reflection: encoding/json costs
// about 20 µs per line, which dominates checking or rendering a
// million-line history. It accepts only a strict subset of JSON (keys in
// Writer's order and spelling with no space around them, strings without
// escapes, integers) and reports ok=false for anything else, in which case
// the decoder decodes the line with encoding/json, which also produces the
// error messages. So the fast path can only ever be faster, never more
// lenient.
type fastParser struct {
	b   []byte
	i   int
	bad bool
	d   *decoder
}

// maxInterned bounds the intern table, in case a history uses a huge
// number of distinct keys.
const maxInterned = 1 << 16

// istr reads a string and returns a shared copy of it: types, fs and keys
// repeat on every line, so interning saves an allocation per field. The
// names of the contract are matched first, which is cheaper than hashing.
func (p *fastParser) istr() string {
	b := p.str()
	switch string(b) {
	case FSend:
		return FSend
	case FPoll:
		return FPoll
	case string(Invoke):
		return string(Invoke)
	case string(Ok):
		return string(Ok)
	case string(Info):
		return string(Info)
	case string(Fail):
		return string(Fail)
	case FRead:
		return FRead
	case FTxn:
		return FTxn
	}
	if s, ok := p.d.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(p.d.intern) < maxInterned {
		p.d.intern[s] = s
	}
	return s
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) expect(c byte) {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return
	}
	p.bad = true
}

// peek returns the next non-space byte, or 0.
func (p *fastParser) peek() byte {
	p.ws()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

// more reports whether a list or object continues after an element: it
// eats a ',' or the closing bracket.
func (p *fastParser) more(closing byte) bool {
	if p.peek() == ',' {
		p.i++
		return !p.bad
	}
	p.expect(closing)
	return false
}

// list reads a JSON array, calling elem for each element.
func (p *fastParser) list(elem func()) {
	p.expect('[')
	if p.peek() == ']' {
		p.i++
		return
	}
	for !p.bad {
		elem()
		if !p.more(']') {
			return
		}
	}
}

// str reads a string without escapes; it returns a sub-slice of the line.
func (p *fastParser) str() []byte {
	p.expect('"')
	if p.bad {
		return nil
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := p.b[start:p.i]
			p.i++
			return s
		}
		if c == '\\' || c < 0x20 {
			p.bad = true
			return nil
		}
		p.i++
	}
	p.bad = true
	return nil
}

// int reads a JSON integer that fits in int64.
func (p *fastParser) int() int64 {
	p.ws()
	neg := false
	if p.i < len(p.b) && p.b[p.i] == '-' {
		neg = true
		p.i++
	}
	start := p.i
	var n int64
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		if p.i-start >= 18 { // keep clear of overflow; encoding/json decides
			p.bad = true
			return 0
		}
		n = n*10 + int64(p.b[p.i]-'0')
		p.i++
	}
	if p.i == start || (p.b[start] == '0' && p.i-start > 1) {
		p.bad = true
		return 0
	}
	if p.i < len(p.b) {
		switch p.b[p.i] {
		case '.', 'e', 'E':
			p.bad = true
			return 0
		}
	}
	if neg {
		n = -n
	}
	return n
}

func (p *fastParser) null() bool {
	p.ws()
	if len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "null" {
		p.i += 4
		return true
	}
	return false
}

// lit eats the literal s, which in the field names of an operation is
// cheaper than reading a string and comparing it.
func (p *fastParser) lit(s string) {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return
	}
	p.bad = true
}

// records reads [[o, v], ...] into the decoder's record block.
func (p *fastParser) records() []Record {
	start := begin(&p.d.recs)
	p.list(func() {
		p.expect('[')
		o := p.int()
		p.expect(',')
		v := p.int()
		p.expect(']')
		push(&p.d.recs, &start, Record{Offset: o, Value: v})
	})
	return end(p.d.recs, start)
}

// mop reads one micro-operation.
func (p *fastParser) mop() Mop {
	p.expect('[')
	m := Mop{F: p.istr()}
	switch m.F {
	case FPoll:
		if p.peek() == ',' {
			p.i++
			m.Done = true
			m.Polls = p.polls()
		}
	case FSend, FRead:
		// A key, then the argument: a bare integer on invocations, a list
		// on completions.
		p.expect(',')
		m.Key = p.istr()
		p.expect(',')
		m.Done = p.peek() == '['
		switch {
		case !m.Done && m.F == FSend:
			m.Value = p.int()
		case !m.Done:
			m.From = p.int()
		case m.F == FSend:
			p.sendResult(&m)
		default:
			p.readResult(&m)
		}
	default:
		p.bad = true
	}
	p.expect(']')
	return m
}

// sendResult reads [offset|null, v].
func (p *fastParser) sendResult(m *Mop) {
	p.expect('[')
	if !p.null() {
		m.Offset = p.d.offset(p.int())
	}
	p.expect(',')
	m.Value = p.int()
	p.expect(']')
}

// readResult reads [from, [[o, v], ...], hw].
func (p *fastParser) readResult(m *Mop) {
	p.expect('[')
	m.From = p.int()
	p.expect(',')
	m.Records = p.records()
	p.expect(',')
	m.HW = p.int()
	p.expect(']')
}

// has reports whether the line continues with the literal s.
func (p *fastParser) has(s string) bool {
	return len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s
}

// offsets reads {key: offset, ...}.
func (p *fastParser) offsets() map[string]int64 {
	return fastObject(p, map[string]int64{}, p.int)
}

// polls reads a poll's result, {key: [[o, v], ...], ...}.
func (p *fastParser) polls() map[string][]Record {
	return fastObject(p, make(map[string][]Record, 1), p.records)
}

// fastObject reads a JSON object whose keys are plain strings into m, each
// value by value. A duplicate key marks the line bad: encoding/json
// defines what it means.
func fastObject[V any](p *fastParser, m map[string]V, value func() V) map[string]V {
	p.expect('{')
	if p.peek() == '}' {
		p.i++
		return m
	}
	for !p.bad {
		k := p.istr()
		p.expect(':')
		if _, dup := m[k]; dup {
			p.bad = true
		}
		m[k] = value()
		if !p.more('}') {
			break
		}
	}
	return m
}

// parseFast decodes line into e (Mops for micro-operation functions, Keys
// for assign/subscribe). ok=false means "use the slow path", not "invalid".
// e.Value is a sub-slice of line.
func (d *decoder) parseFast(line []byte, e *Entry) (ok bool) {
	p := &fastParser{b: line, d: d}
	p.lit(`{"index":`)
	e.Index = p.int()
	p.lit(`,"time":`)
	e.Time = time.Duration(p.int())
	p.lit(`,"process":`)
	if p.peek() == '"' || p.bad {
		return false // the nemesis: free-form values, rare
	}
	pid := p.int()
	if pid < 0 || pid > 1<<31-1 {
		return false
	}
	e.Process = Process{ID: int(pid)}
	p.lit(`,"type":`)
	e.Type = Type(p.istr())
	p.lit(`,"f":`)
	e.F = p.istr()
	p.lit(`,"value":`)
	if p.bad {
		return false
	}
	vstart := p.i
	switch e.F {
	case FSend, FPoll, FTxn, FRead:
		if p.null() {
			break
		}
		start := begin(&d.mops)
		p.list(func() { push(&d.mops, &start, p.mop()) })
		e.Mops = end(d.mops, start)
	case FAssign, FSubscribe:
		if p.null() {
			break
		}
		e.Keys = []string{}
		p.list(func() { e.Keys = append(e.Keys, p.istr()) })
	case FCommit, FOffsets:
		if p.null() {
			break
		}
		e.Offsets = p.offsets()
	default:
		return false
	}
	if p.bad {
		return false
	}
	e.Value = json.RawMessage(line[vstart:p.i])
	// The optional fields, in Op's order; "nodes" (rare) takes the slow
	// path.
	if p.peek() == ',' && p.has(`,"error":`) {
		p.lit(`,"error":`)
		e.Error = string(p.str())
	}
	if p.peek() == ',' && p.has(`,"node":`) {
		p.lit(`,"node":`)
		e.Node = p.istr()
	}
	if p.peek() == ',' && p.has(`,"producer":`) {
		p.lit(`,"producer":`)
		e.Producer = p.istr()
	}
	if p.peek() == ',' && p.has(`,"group":`) {
		p.lit(`,"group":`)
		e.Group = p.istr()
	}
	p.expect('}')
	p.ws()
	return !p.bad && p.i == len(p.b)
}
