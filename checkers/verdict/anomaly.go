package verdict

import (
	"encoding/json"
	"fmt"
)

// Case is one instance of an anomaly, in the form results.json reports it
// (contract). Every checker reports its cases in this one shape, the
// history checkers and the harness's log-based ones alike, so readers (the
// report, `chaos validate`) never guess at field names. The first five
// fields are about history operations; the optional ones below them serve
// findings that come from elsewhere (node logs, the container engine).
type Case struct {
	// Key is the "topic/partition" the case is about, if any. For a Raft
	// finding it is the Raft group: a partition's key, or "__meta".
	Key string `json:"key,omitempty"`
	// Ops are the history indices of the operations that prove the case,
	// in the order the explanation mentions them; empty (never absent)
	// when the evidence is not in the history.
	Ops []int64 `json:"ops"`
	// Values are the message values involved, if any.
	Values []int64 `json:"values,omitempty"`
	// Offsets are the offsets of Key the explanation names, if any, so
	// that a reader can show that stretch of the log.
	Offsets []int64 `json:"offsets,omitempty"`
	// Explanation says in one line why the evidence proves the anomaly.
	Explanation string `json:"explanation"`
	// Fatal is false for cases the checker reports but allows (see the
	// package comment of package checkers), e.g. poll skips of a
	// subscribed consumer.
	Fatal bool `json:"fatal"`
	// Time is when the anomaly arose, in nanoseconds since the test
	// started (the history's clock), for cases whose evidence is not a
	// history operation; nil otherwise (the operations date the case).
	Time *int64 `json:"time,omitempty"`
	// Node is the node the case is about ("n2"), if any.
	Node string `json:"node,omitempty"`
	// Log cites the log lines that are the evidence, in the order the
	// explanation mentions them.
	Log []LogLine `json:"log,omitempty"`
}

// LogLine cites one line of a node's log as evidence.
type LogLine struct {
	// File is the log's path relative to the run directory
	// ("n2/chronik-server.log").
	File string `json:"file"`
	// Line is the 1-based line number in File; 0 when unknown (the tail
	// the container engine returned, say).
	Line int `json:"line,omitempty"`
	// Time is the line's own timestamp in nanoseconds since the test
	// started; nil when the line has none.
	Time *int64 `json:"time,omitempty"`
	// Text is the line, or the part of it that matters.
	Text string `json:"text,omitempty"`
}

// At returns a pointer to t, for Case.Time and LogLine.Time.
func At(t int64) *int64 { return &t }

// Anomaly gathers all cases of one anomaly name.
type Anomaly struct {
	// Count is the number of cases found, all of them.
	Count int `json:"count"`
	// FatalCount is how many of them make the history invalid.
	FatalCount int `json:"fatal_count"`
	// Examples are some of the cases (capped), fatal ones first.
	Examples []Case `json:"examples"`
}

// Findings is the part of every checker's section of results.json that a
// reader can rely on, whatever the checker: its verdict, why it is unknown,
// and its anomalies by name. Checkers write more fields beside these.
type Findings struct {
	Valid Validity `json:"valid"`
	// Errors maps anomaly names to their cases; absent or empty when the
	// checker found none.
	Errors map[string]*Anomaly `json:"errors,omitempty"`
	// Error says why the verdict is unknown (a time budget ran out, input
	// was missing).
	Error string `json:"error,omitempty"`
}

// CheckerValid returns the verdict, so that a result embedding Findings is
// a section of results.json.
func (f *Findings) CheckerValid() Validity { return f.Valid }

// CheckerErrors returns the anomalies by name.
func (f *Findings) CheckerErrors() map[string]*Anomaly { return f.Errors }

// Collector caps examples per anomaly name while counting every case; fatal
// examples are listed before allowed ones. The zero value is not usable:
// call NewCollector.
type Collector struct {
	max    int
	errors map[string]*Anomaly
	// allowed examples are kept apart while collecting so that fatal ones
	// can be shown first.
	allowed map[string][]Case
}

// NewCollector keeps at most max examples per anomaly name.
func NewCollector(max int) *Collector {
	return &Collector{max: max, errors: map[string]*Anomaly{}, allowed: map[string][]Case{}}
}

// Add counts one case of anomaly name.
func (c *Collector) Add(name string, cs Case) {
	a := c.errors[name]
	if a == nil {
		a = &Anomaly{Examples: []Case{}}
		c.errors[name] = a
	}
	a.Count++
	if cs.Fatal {
		a.FatalCount++
		if len(a.Examples) < c.max {
			a.Examples = append(a.Examples, cs)
		}
		return
	}
	if len(c.allowed[name]) < c.max {
		c.allowed[name] = append(c.allowed[name], cs)
	}
}

// Merge adds o's cases to c as if every Add made on o had been made on c,
// after c's own: counts add up, and examples keep the same cap and order.
// Independent searches can so collect concurrently, each into its own
// Collector, and be merged in a fixed order. Neither collector's Errors
// may have been called.
func (c *Collector) Merge(o *Collector) {
	for name, oa := range o.errors {
		a := c.errors[name]
		if a == nil {
			a = &Anomaly{Examples: []Case{}}
			c.errors[name] = a
		}
		a.Count += oa.Count
		a.FatalCount += oa.FatalCount
		for _, cs := range oa.Examples {
			if len(a.Examples) < c.max {
				a.Examples = append(a.Examples, cs)
			}
		}
		for _, cs := range o.allowed[name] {
			if len(c.allowed[name]) < c.max {
				c.allowed[name] = append(c.allowed[name], cs)
			}
		}
	}
}

// Errors returns the anomalies collected, fatal examples first.
func (c *Collector) Errors() map[string]*Anomaly {
	for name, a := range c.errors {
		for _, cs := range c.allowed[name] {
			if len(a.Examples) >= c.max {
				break
			}
			a.Examples = append(a.Examples, cs)
		}
		c.allowed[name] = nil
	}
	return c.errors
}

// UnmarshalJSON reads a case, including the one older shape results.json
// files in existing stores hold (see the package comment): an absent
// "fatal" reads as true, and an absent "explanation" is taken from
// "message", an absent "key" from "group".
func (c *Case) UnmarshalJSON(b []byte) error {
	type plain Case
	var v struct {
		plain
		Fatal   *bool  `json:"fatal"`
		Message string `json:"message"`
		Group   string `json:"group"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("anomaly case: %w", err)
	}
	*c = Case(v.plain)
	c.Fatal = v.Fatal == nil || *v.Fatal
	if c.Explanation == "" {
		c.Explanation = v.Message
	}
	if c.Key == "" {
		c.Key = v.Group
	}
	if c.Ops == nil {
		c.Ops = []int64{}
	}
	return nil
}

// UnmarshalJSON reads an anomaly; an absent "fatal_count" (the older shape,
// see the package comment) is the number of fatal examples when the
// examples are all the cases, else Count.
func (a *Anomaly) UnmarshalJSON(b []byte) error {
	type plain Anomaly
	var v struct {
		plain
		FatalCount *int `json:"fatal_count"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("anomaly: %w", err)
	}
	*a = Anomaly(v.plain)
	if v.FatalCount != nil {
		a.FatalCount = *v.FatalCount
		return nil
	}
	a.FatalCount = a.Count
	if len(a.Examples) >= a.Count {
		a.FatalCount = 0
		for _, cs := range a.Examples {
			if cs.Fatal {
				a.FatalCount++
			}
		}
	}
	return nil
}
