package history

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// MarshalJSON writes a client process as an integer and the nemesis as the
// string "nemesis".
func (p Process) MarshalJSON() ([]byte, error) {
	if p.Nemesis {
		return []byte(`"nemesis"`), nil
	}
	return strconv.AppendInt(nil, int64(p.ID), 10), nil
}

// UnmarshalJSON accepts a non-negative integer or the string "nemesis".
func (p *Process) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("process: %w", err)
		}
		if s != NemesisProcess {
			return fmt.Errorf("process: want an integer or %q, got %q", NemesisProcess, s)
		}
		*p = Process{Nemesis: true}
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("process: want an integer or %q: %w", NemesisProcess, err)
	}
	if n < 0 {
		return fmt.Errorf("process: negative process number %d", n)
	}
	*p = Process{ID: int(n)}
	return nil
}

// String renders the process as it appears in reports.
func (p Process) String() string {
	if p.Nemesis {
		return NemesisProcess
	}
	return strconv.Itoa(p.ID)
}
