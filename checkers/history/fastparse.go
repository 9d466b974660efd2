package history

import (
	"encoding/json"
	"time"
)

// fastParser decodes the common shapes of history lines (client operations
// as history.Writer writes them) without reflection: encoding/json costs
// about 20 µs per line, which dominates checking a million-line history.
// It accepts only a strict subset of JSON — keys in Writer's order, strings
// without escapes, integers — and reports ok=false for anything else, in
// which case the caller decodes the line with encoding/json, which also
// produces the error messages. So the fast path can only ever be faster,
// never more lenient.
type fastParser struct {
	b   []byte
	i   int
	bad bool
	// intern shares the strings that repeat on every line (types, fs,
	// keys), saving an allocation per field; nil disables it.
	intern map[string]string
}

// maxInterned bounds the intern table, in case a history uses a huge
// number of distinct keys.
const maxInterned = 1 << 16

// istr reads a string and returns a shared copy of it.
func (p *fastParser) istr() string {
	b := p.str()
	if p.intern == nil {
		return string(b)
	}
	if s, ok := p.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(p.intern) < maxInterned {
		p.intern[s] = s
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

func (p *fastParser) key(want string) {
	if string(p.str()) != want {
		p.bad = true
	}
	p.expect(':')
}

// records reads [[o, v], ...].
func (p *fastParser) records() []Record {
	p.expect('[')
	rs := []Record{}
	if p.peek() == ']' {
		p.i++
		return rs
	}
	for !p.bad {
		p.expect('[')
		o := p.int()
		p.expect(',')
		v := p.int()
		p.expect(']')
		rs = append(rs, Record{Offset: o, Value: v})
		if p.peek() == ',' {
			p.i++
			continue
		}
		p.expect(']')
		break
	}
	return rs
}

// mop reads one micro-operation.
func (p *fastParser) mop() Mop {
	p.expect('[')
	f := p.istr()
	m := Mop{F: f}
	switch f {
	case FSend:
		p.expect(',')
		m.Key = p.istr()
		p.expect(',')
		if p.peek() == '[' {
			p.i++
			m.Done = true
			if !p.null() {
				o := p.int()
				m.Offset = &o
			}
			p.expect(',')
			m.Value = p.int()
			p.expect(']')
		} else {
			m.Value = p.int()
		}
	case FPoll:
		if p.peek() == ',' {
			p.i++
			m.Done = true
			m.Polls = map[string][]Record{}
			p.expect('{')
			if p.peek() == '}' {
				p.i++
			} else {
				for !p.bad {
					k := p.istr()
					p.expect(':')
					if _, dup := m.Polls[k]; dup {
						p.bad = true // let encoding/json define duplicate keys
					}
					m.Polls[k] = p.records()
					if p.peek() == ',' {
						p.i++
						continue
					}
					p.expect('}')
					break
				}
			}
		}
	case FRead:
		p.expect(',')
		m.Key = p.istr()
		p.expect(',')
		if p.peek() == '[' {
			p.i++
			m.Done = true
			m.From = p.int()
			p.expect(',')
			m.Records = p.records()
			p.expect(',')
			m.HW = p.int()
			p.expect(']')
		} else {
			m.From = p.int()
		}
	default:
		p.bad = true
	}
	p.expect(']')
	return m
}

// parseFast decodes line into e (Mops for micro-operation functions, Keys
// for assign/subscribe). ok=false means "use the slow path", not "invalid".
func parseFast(line []byte, e *Entry, intern map[string]string) (ok bool) {
	p := &fastParser{b: line, intern: intern}
	p.expect('{')
	p.key("index")
	e.Index = p.int()
	p.expect(',')
	p.key("time")
	e.Time = time.Duration(p.int())
	p.expect(',')
	p.key("process")
	if p.peek() == '"' || p.bad {
		return false // the nemesis: free-form values, rare
	}
	pid := p.int()
	if pid < 0 || pid > 1<<31-1 {
		return false
	}
	e.Process = Process{ID: int(pid)}
	p.expect(',')
	p.key("type")
	e.Type = Type(p.istr())
	p.expect(',')
	p.key("f")
	e.F = p.istr()
	p.expect(',')
	p.key("value")
	if p.bad {
		return false
	}
	vstart := p.i
	switch e.F {
	case FSend, FPoll, FTxn, FRead:
		if p.null() {
			break
		}
		p.expect('[')
		e.Mops = []Mop{}
		if p.peek() == ']' {
			p.i++
			break
		}
		for !p.bad {
			e.Mops = append(e.Mops, p.mop())
			if p.peek() == ',' {
				p.i++
				continue
			}
			p.expect(']')
			break
		}
	case FAssign, FSubscribe:
		if p.null() {
			break
		}
		p.expect('[')
		e.Keys = []string{}
		if p.peek() == ']' {
			p.i++
			break
		}
		for !p.bad {
			e.Keys = append(e.Keys, p.istr())
			if p.peek() == ',' {
				p.i++
				continue
			}
			p.expect(']')
			break
		}
	default:
		return false
	}
	if p.bad {
		return false
	}
	e.Value = json.RawMessage(line[vstart:p.i])
	if p.peek() == ',' {
		p.i++
		p.key("error")
		e.Error = string(p.str())
	}
	p.expect('}')
	p.ws()
	return !p.bad && p.i == len(p.b)
}
