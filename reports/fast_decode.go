package reports

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// A million-operation history is two million lines, and encoding/json's
// reflection costs about 4 µs a line, most of the render time. The lines
// the harness writes are flat objects with a fixed set of fields, so
// decodeLine scans them directly and returns errSlowPath for anything
// unusual (escaped keys, unknown shapes); the caller then falls back to
// encoding/json, which also produces the precise error message for a
// malformed line.
var errSlowPath = errors.New("take the encoding/json path")

func decodeLine(b []byte, op *history.Op) error {
	*op = history.Op{}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errSlowPath
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return errSlowPath
	}
	seen := 0
	for {
		if i >= len(b) || b[i] != '"' {
			return errSlowPath
		}
		ks := i + 1
		ke := ks
		for ke < len(b) && b[ke] != '"' && b[ke] != '\\' {
			ke++
		}
		if ke >= len(b) || b[ke] != '"' {
			return errSlowPath
		}
		key := b[ks:ke]
		i = skipWS(b, ke+1)
		if i >= len(b) || b[i] != ':' {
			return errSlowPath
		}
		i = skipWS(b, i+1)
		vs := i
		ve, ok := skipValue(b, i)
		if !ok {
			return errSlowPath
		}
		val := b[vs:ve]
		switch string(key) {
		case "index":
			n, ok := parseInt(val)
			if !ok {
				return errSlowPath
			}
			op.Index = n
			seen |= 1
		case "time":
			n, ok := parseInt(val)
			if !ok {
				return errSlowPath
			}
			op.Time = time.Duration(n)
			seen |= 2
		case "process":
			if len(val) > 0 && val[0] == '"' {
				if string(val) != `"nemesis"` {
					return errSlowPath
				}
				op.Process = history.Nemesis()
			} else {
				n, ok := parseInt(val)
				if !ok || n < 0 {
					return errSlowPath
				}
				op.Process = history.Client(int(n))
			}
			seen |= 4
		case "type":
			s, ok := plainString(val)
			if !ok {
				return errSlowPath
			}
			op.Type = history.Type(s)
			seen |= 8
		case "f":
			s, ok := plainString(val)
			if !ok {
				return errSlowPath
			}
			op.F = s
			seen |= 16
		case "value":
			op.Value = json.RawMessage(val)
		case "error":
			if string(val) == "null" {
				break
			}
			s, ok := plainString(val)
			if !ok {
				if err := json.Unmarshal(val, &s); err != nil {
					return errSlowPath
				}
			}
			op.Error = s
		default:
			// Unknown fields are allowed (the contract may grow).
		}
		i = skipWS(b, ve)
		if i >= len(b) {
			return errSlowPath
		}
		if b[i] == '}' {
			if skipWS(b, i+1) != len(b) || seen != 31 {
				return errSlowPath
			}
			return nil
		}
		if b[i] != ',' {
			return errSlowPath
		}
		i = skipWS(b, i+1)
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value starting at b[i]. It checks
// bracket balance and string termination only; the value is validated
// later, when (and if) it is decoded.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '[', '{':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				e, ok := skipString(b, i)
				if !ok {
					return i, false
				}
				i = e
				continue
			case '[', '{':
				depth++
			case ']', '}':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return i, false
	default:
		s := i
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' {
			i++
		}
		return i, i > s
	}
}

func skipString(b []byte, i int) (int, bool) {
	i++
	for i < len(b) {
		switch b[i] {
		case '\\':
			i += 2
			continue
		case '"':
			return i + 1, true
		}
		i++
	}
	return i, false
}

func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		n, err := strconv.ParseInt(string(b), 10, 64)
		return n, err == nil
	}
	neg := false
	if b[0] == '-' {
		neg, b = true, b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// plainString returns the content of a JSON string without escapes.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	for _, c := range b[1 : len(b)-1] {
		if c == '\\' || c < 0x20 {
			return "", false
		}
	}
	return string(b[1 : len(b)-1]), true
}
