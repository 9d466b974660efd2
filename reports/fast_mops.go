package reports

import "github.com/chronik-chaos/chronik/checkers/history"

// mopScanner reads the completion forms of send, poll and read
// micro-operations (DESIGN.md) without reflection, for the per-key offset
// views, which look at every completion of the keys with anomalies. Any
// other shape makes it give up, and the caller decodes with Op.Mops.
type mopScanner struct {
	b   []byte
	i   int
	bad bool
}

func (s *mopScanner) ws() { s.i = skipWS(s.b, s.i) }

func (s *mopScanner) eat(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *mopScanner) must(c byte) {
	if !s.eat(c) {
		s.bad = true
	}
}

func (s *mopScanner) str() string {
	s.ws()
	e, ok := skipString(s.b, s.i)
	if !ok || s.b[s.i] != '"' {
		s.bad = true
		return ""
	}
	v, ok := plainString(s.b[s.i:e])
	if !ok {
		s.bad = true
	}
	s.i = e
	return v
}

func (s *mopScanner) num() (int64, bool) {
	s.ws()
	st := s.i
	for s.i < len(s.b) && (s.b[s.i] == '-' || s.b[s.i] >= '0' && s.b[s.i] <= '9' || s.b[s.i] == 'n' || s.b[s.i] == 'u' || s.b[s.i] == 'l') {
		s.i++
	}
	if string(s.b[st:s.i]) == "null" {
		return 0, false
	}
	n, ok := parseInt(s.b[st:s.i])
	if !ok {
		s.bad = true
	}
	return n, true
}

// records reads [[o, v], ...].
func (s *mopScanner) records(yield func(o, v int64)) {
	s.must('[')
	if s.eat(']') {
		return
	}
	for !s.bad {
		s.must('[')
		o, _ := s.num()
		s.must(',')
		v, _ := s.num()
		s.must(']')
		if s.bad {
			return
		}
		yield(o, v)
		if s.eat(']') {
			return
		}
		s.must(',')
	}
}

// scanMops calls send for acknowledged sends (offset known) and read for
// every record a poll or read returned. It reports false if the value has
// a shape it does not know; nothing must then be trusted from the calls
// already made, so callers collect into scratch space first.
func scanMops(b []byte, send func(key string, o, v int64), read func(key string, o, v int64)) bool {
	s := &mopScanner{b: b}
	s.must('[')
	if s.eat(']') {
		return !s.bad
	}
	for !s.bad {
		s.must('[')
		switch f := s.str(); f {
		case history.FSend:
			s.must(',')
			key := s.str()
			s.must(',')
			if !s.eat('[') {
				return false // invoke form
			}
			o, known := s.num()
			s.must(',')
			v, _ := s.num()
			s.must(']')
			if known && !s.bad {
				send(key, o, v)
			}
		case history.FPoll:
			if s.eat(']') {
				return false // invoke form
			}
			s.must(',')
			s.must('{')
			if !s.eat('}') {
				for !s.bad {
					key := s.str()
					s.must(':')
					s.records(func(o, v int64) { read(key, o, v) })
					if s.eat('}') {
						break
					}
					s.must(',')
				}
			}
		case history.FRead:
			s.must(',')
			key := s.str()
			s.must(',')
			if !s.eat('[') {
				return false
			}
			s.num()
			s.must(',')
			s.records(func(o, v int64) { read(key, o, v) })
			s.must(',')
			s.num()
			s.must(']')
		default:
			return false
		}
		s.must(']')
		if s.eat(']') {
			break
		}
		s.must(',')
	}
	s.ws()
	return !s.bad && s.i == len(s.b)
}
