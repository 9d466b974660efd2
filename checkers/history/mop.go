package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// Micro-operation functions of the queue and log workloads.
const (
	FSend = "send"
	FPoll = "poll"
	FRead = "read"
)

// Record is one (offset, value) pair as read from or written to a key. It
// marshals as the two-element JSON array [offset, value].
type Record struct {
	Offset int64
	Value  int64
}

// MarshalJSON writes [offset, value].
func (r Record) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, "[%d,%d]", r.Offset, r.Value), nil
}

// UnmarshalJSON reads [offset, value].
func (r *Record) UnmarshalJSON(b []byte) error {
	var pair []int64
	if err := json.Unmarshal(b, &pair); err != nil || len(pair) != 2 {
		return fmt.Errorf("record: want [offset, value], got %s", b)
	}
	r.Offset, r.Value = pair[0], pair[1]
	return nil
}

// Mop is one micro-operation inside a send, poll, txn or read operation.
//
// The JSON forms (the history contract):
//
//	["send", key, v]                      invoke
//	["send", key, [offset|null, v]]       completion (Done)
//	["poll"]                              invoke
//	["poll", {key: [[o, v], ...]}]        completion (Done)
//	["read", key, from]                   invoke
//	["read", key, [from, [[o, v]...], hw]] completion (Done)
type Mop struct {
	F   string
	Key string
	// Value is the value sent (send).
	Value int64
	// Offset is the offset a completed send was acknowledged at; nil when
	// unknown.
	Offset *int64
	// Polls holds what a completed poll returned, per key.
	Polls map[string][]Record
	// From is the offset a read starts at.
	From int64
	// Records and HW are a completed read's records and high watermark.
	Records []Record
	HW      int64
	// Done selects the completion form of the micro-operation.
	Done bool
}

// Send returns an invoke-form send micro-operation.
func Send(key string, v int64) Mop { return Mop{F: FSend, Key: key, Value: v} }

// Poll returns an invoke-form poll micro-operation.
func Poll() Mop { return Mop{F: FPoll} }

// Read returns an invoke-form read micro-operation.
func Read(key string, from int64) Mop { return Mop{F: FRead, Key: key, From: from} }

// MarshalJSON writes the contract's array form.
func (m Mop) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	key, _ := json.Marshal(m.Key)
	switch m.F {
	case FSend:
		if !m.Done {
			fmt.Fprintf(&buf, `["send",%s,%d]`, key, m.Value)
			break
		}
		if m.Offset == nil {
			fmt.Fprintf(&buf, `["send",%s,[null,%d]]`, key, m.Value)
		} else {
			fmt.Fprintf(&buf, `["send",%s,[%d,%d]]`, key, *m.Offset, m.Value)
		}
	case FPoll:
		if !m.Done {
			buf.WriteString(`["poll"]`)
			break
		}
		keys := make([]string, 0, len(m.Polls))
		for k := range m.Polls {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteString(`["poll",{`)
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			rs := m.Polls[k]
			if rs == nil {
				rs = []Record{}
			}
			rb, err := json.Marshal(rs)
			if err != nil {
				return nil, err
			}
			buf.Write(kb)
			buf.WriteByte(':')
			buf.Write(rb)
		}
		buf.WriteString(`}]`)
	case FRead:
		if !m.Done {
			fmt.Fprintf(&buf, `["read",%s,%d]`, key, m.From)
			break
		}
		rs := m.Records
		if rs == nil {
			rs = []Record{}
		}
		rb, err := json.Marshal(rs)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&buf, `["read",%s,[%d,%s,%d]]`, key, m.From, rb, m.HW)
	default:
		return nil, fmt.Errorf("mop: unknown function %q", m.F)
	}
	return buf.Bytes(), nil
}

// UnmarshalJSON reads any of the contract's array forms and sets Done for
// completion forms.
func (m *Mop) UnmarshalJSON(b []byte) error {
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		return fmt.Errorf("mop: want a JSON array: %w", err)
	}
	if len(parts) == 0 {
		return fmt.Errorf("mop: empty micro-operation")
	}
	var f string
	if err := json.Unmarshal(parts[0], &f); err != nil {
		return fmt.Errorf("mop: function must be a string: %w", err)
	}
	*m = Mop{F: f}
	switch f {
	case FSend, FRead:
		if len(parts) != 3 {
			return fmt.Errorf("mop: %s wants 3 elements, got %d", f, len(parts))
		}
		if err := json.Unmarshal(parts[1], &m.Key); err != nil {
			return fmt.Errorf("mop: %s key must be a string: %w", f, err)
		}
		m.Done = bytes.HasPrefix(bytes.TrimSpace(parts[2]), []byte("["))
		switch {
		case !m.Done:
			// The invoke form: the value sent or the offset to read from.
			arg, what := &m.Value, "send value"
			if f == FRead {
				arg, what = &m.From, "read from"
			}
			if err := json.Unmarshal(parts[2], arg); err != nil {
				return fmt.Errorf("mop: %s must be an integer: %w", what, err)
			}
		case f == FSend:
			return m.unmarshalSendResult(parts[2])
		default:
			return m.unmarshalReadResult(parts[2])
		}
	case FPoll:
		switch len(parts) {
		case 1:
		case 2:
			m.Done = true
			if err := json.Unmarshal(parts[1], &m.Polls); err != nil {
				return fmt.Errorf("mop: poll result wants {key: [[offset, value], ...]}: %w", err)
			}
			if m.Polls == nil {
				m.Polls = map[string][]Record{}
			}
		default:
			return fmt.Errorf("mop: poll wants 1 or 2 elements, got %d", len(parts))
		}
	default:
		return fmt.Errorf("mop: unknown function %q", f)
	}
	return nil
}

// unmarshalSendResult reads a send's completion form, [offset|null, value].
func (m *Mop) unmarshalSendResult(b json.RawMessage) error {
	var pair []*int64
	if err := json.Unmarshal(b, &pair); err != nil || len(pair) != 2 || pair[1] == nil {
		return fmt.Errorf("mop: send completion wants [offset|null, value], got %s", b)
	}
	m.Offset, m.Value = pair[0], *pair[1]
	return nil
}

// unmarshalReadResult reads a read's completion form, [from, records, hw].
func (m *Mop) unmarshalReadResult(b json.RawMessage) error {
	var res []json.RawMessage
	if err := json.Unmarshal(b, &res); err != nil || len(res) != 3 {
		return fmt.Errorf("mop: read completion wants [from, records, hw], got %s", b)
	}
	if err := json.Unmarshal(res[0], &m.From); err != nil {
		return fmt.Errorf("mop: read from: %w", err)
	}
	if err := json.Unmarshal(res[1], &m.Records); err != nil {
		return fmt.Errorf("mop: read records: %w", err)
	}
	if err := json.Unmarshal(res[2], &m.HW); err != nil {
		return fmt.Errorf("mop: read hw: %w", err)
	}
	return nil
}

// Mops decodes the value of a send, poll, txn or read operation.
func (o *Op) Mops() ([]Mop, error) {
	var ms []Mop
	if err := json.Unmarshal(o.Value, &ms); err != nil {
		return nil, fmt.Errorf("op %d: value: %w", o.Index, err)
	}
	return ms, nil
}

// SetMops encodes ms as the operation's value.
func (o *Op) SetMops(ms []Mop) error {
	b, err := json.Marshal(ms)
	if err != nil {
		return fmt.Errorf("op %d: encode value: %w", o.Index, err)
	}
	o.Value = b
	return nil
}
