package verdict

import (
	"bytes"
	"fmt"
)

// Validity is a checker's verdict. It marshals as the JSON literal true or
// false, or the string "unknown", as the results.json contract requires.
type Validity int8

// The three verdicts. The zero value is True so that a checker that found
// nothing to complain about needs no extra code; checkers that can time out
// set Unknown explicitly.
const (
	True    Validity = 0
	Unknown Validity = 1
	False   Validity = 2
)

// Of returns True when ok holds and False otherwise.
func Of(ok bool) Validity {
	if ok {
		return True
	}
	return False
}

// Merge returns the worst of the verdicts: False beats Unknown beats True.
func Merge(vs ...Validity) Validity {
	out := True
	for _, v := range vs {
		if v > out {
			out = v
		}
	}
	return out
}

// String renders the verdict as it appears in results.json and on the
// terminal.
func (v Validity) String() string {
	switch v {
	case True:
		return "true"
	case False:
		return "false"
	default:
		return "unknown"
	}
}

// MarshalJSON writes true, false or "unknown".
func (v Validity) MarshalJSON() ([]byte, error) {
	if v == Unknown {
		return []byte(`"unknown"`), nil
	}
	return []byte(v.String()), nil
}

// UnmarshalJSON accepts true, false or "unknown".
func (v *Validity) UnmarshalJSON(b []byte) error {
	switch string(bytes.TrimSpace(b)) {
	case "true":
		*v = True
	case "false":
		*v = False
	case `"unknown"`:
		*v = Unknown
	default:
		return fmt.Errorf("verdict: want true, false or \"unknown\", got %s", b)
	}
	return nil
}
