package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/chronik-chaos/chronik/checkers/verdict"
)

// Verdict is the outcome of a run or of one checker, as the report shows it.
type Verdict string

// The three verdicts of results.json (DESIGN.md): valid is true, invalid is
// false, unknown is the string "unknown" (a checker ran out of time or could
// not decide). Anything else a file may hold is read as unknown so that a
// damaged file never renders as a pass.
const (
	Valid   Verdict = "valid"
	Invalid Verdict = "invalid"
	Unknown Verdict = "unknown"
)

// parseVerdict maps the JSON forms of "valid" onto a Verdict.
func parseVerdict(raw json.RawMessage) Verdict {
	switch strings.TrimSpace(string(raw)) {
	case "true":
		return Valid
	case "false":
		return Invalid
	default:
		return Unknown
	}
}

// Results is results.json as the report needs it. Sections are read
// loosely: besides the fields every checker shares (verdict.Findings:
// valid, errors, error) and the linearizability checker's partitions,
// whatever a section holds is kept (Fields) and rendered as a key/value
// table, because checkers may add optional fields at any time (DESIGN.md
// allows extension, never renaming).
type Results struct {
	Valid    Verdict
	Checkers []Checker
	// Extra holds top-level fields other than valid and checkers.
	Extra []Field
}

// Checker is one entry of results.json's checkers map.
type Checker struct {
	Name  string
	Valid Verdict
	// Explanation is the section's "error": why it is unknown.
	Explanation string
	Anomalies   []Anomaly
	// Partitions maps a key to its per-partition outcome ("ok",
	// "nonlinearizable", "unknown", ...), as the linearizability checker
	// writes it.
	Partitions []Partition
	// Fields holds every other field (stats such as ok/fail/info counts,
	// latency quantiles, longest unavailability).
	Fields []Field
	// Raw is the section as written, for readers that decode a section
	// with its checker's own type (the index reads the stats checker's).
	Raw json.RawMessage
}

// Partition is one key's outcome in a checker's partitions map.
type Partition struct {
	Key    string
	Result string
}

// Anomaly is one anomaly name of a checker's errors map with its examples.
type Anomaly struct {
	Checker string
	Name    string
	Count   int
	// FatalCount is how many cases make the history invalid.
	FatalCount int
	// Explanation describes the anomaly name; results.json has none, the
	// report fills it in.
	Explanation string
	Examples    []Example
}

// Example is one anomaly example: the case as every checker writes it
// (verdict.Case), and the example's JSON as written, for the reader.
type Example struct {
	verdict.Case
	// Allowed is set when the case is not fatal: the checker reports it
	// but does not count it against the verdict (e.g. poll skips of a
	// subscribed consumer).
	Allowed bool
	// Keys is the case's key as a list, empty when it has none.
	Keys   []string
	Raw    json.RawMessage
	Pretty string
}

// Field is a named JSON value for generic rendering.
type Field struct {
	Name  string
	Value any
}

// readResults parses path; a missing file yields nil, nil so that a run
// whose checker never finished still gets a report (verdict unknown).
func readResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	return parseResults(b)
}

func parseResults(b []byte) (*Results, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("parse results.json: %w", err)
	}
	r := &Results{Valid: parseVerdict(top["valid"])}
	var checkers map[string]json.RawMessage
	if raw, ok := top["checkers"]; ok {
		if err := json.Unmarshal(raw, &checkers); err != nil {
			return nil, fmt.Errorf("parse results.json checkers: %w", err)
		}
	}
	for _, name := range sortedKeys(checkers) {
		c, err := parseChecker(name, checkers[name])
		if err != nil {
			return nil, err
		}
		r.Checkers = append(r.Checkers, c)
	}
	for _, k := range sortedKeys(top) {
		if k == "valid" || k == "checkers" {
			continue
		}
		r.Extra = append(r.Extra, Field{Name: k, Value: decodeAny(top[k])})
	}
	return r, nil
}

func parseChecker(name string, raw json.RawMessage) (Checker, error) {
	c := Checker{Name: name, Raw: raw}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		// Not an object: show the value as it is, never as a pass.
		c.Valid = Unknown
		c.Fields = []Field{{Name: "result", Value: decodeAny(raw)}}
		return c, nil
	}
	c.Valid = parseVerdict(m["valid"])
	if s, ok := asString(m["error"]); ok {
		c.Explanation = s
		delete(m, "error")
	}
	if raw, ok := m["errors"]; ok {
		// A section not in the shape every checker writes is shown as
		// written rather than failing the whole report.
		if as, err := parseAnomalies(name, raw); err == nil {
			c.Anomalies = as
		} else {
			m["errors (unparsed)"] = raw
		}
	}
	if raw, ok := m["partitions"]; ok {
		var ps map[string]json.RawMessage
		if err := json.Unmarshal(raw, &ps); err == nil {
			for _, k := range sortedKeys(ps) {
				res, ok := asString(ps[k])
				if !ok {
					res = compactJSON(ps[k])
				}
				c.Partitions = append(c.Partitions, Partition{Key: k, Result: res})
			}
		} else {
			m["partitions (unparsed)"] = raw
		}
	}
	for _, k := range sortedKeys(m) {
		if k == "valid" || k == "errors" || k == "partitions" {
			continue
		}
		c.Fields = append(c.Fields, Field{Name: k, Value: decodeAny(m[k])})
	}
	return c, nil
}

// parseAnomalies reads a section's "errors": anomaly names mapped to
// verdict.Anomaly, the one shape every checker writes. Each example keeps
// its JSON as written beside the decoded case.
func parseAnomalies(checker string, raw json.RawMessage) ([]Anomaly, error) {
	var errs map[string]json.RawMessage
	if err := json.Unmarshal(raw, &errs); err != nil {
		return nil, fmt.Errorf("errors: %w", err)
	}
	var out []Anomaly
	for _, name := range sortedKeys(errs) {
		var va verdict.Anomaly
		var asWritten struct {
			Examples []json.RawMessage `json:"examples"`
		}
		if err := json.Unmarshal(errs[name], &va); err != nil {
			return nil, fmt.Errorf("anomaly %s: %w", name, err)
		}
		if err := json.Unmarshal(errs[name], &asWritten); err != nil {
			return nil, fmt.Errorf("anomaly %s: %w", name, err)
		}
		a := Anomaly{Checker: checker, Name: name, Count: va.Count, FatalCount: va.FatalCount}
		for i, cs := range va.Examples {
			ex := Example{Case: cs, Allowed: !cs.Fatal, Raw: asWritten.Examples[i], Pretty: prettyJSON(asWritten.Examples[i])}
			if cs.Key != "" {
				ex.Keys = []string{cs.Key}
			}
			a.Examples = append(a.Examples, ex)
		}
		out = append(out, a)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func asString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func decodeAny(raw json.RawMessage) any {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return string(raw)
	}
	return v
}

func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

func prettyJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}

// AnomalyCounts sums anomaly counts by name over all checkers.
func (r *Results) AnomalyCounts() map[string]int {
	out := map[string]int{}
	if r == nil {
		return out
	}
	for _, c := range r.Checkers {
		for _, a := range c.Anomalies {
			n := a.Count
			if n == 0 {
				n = max(1, len(a.Examples))
			}
			out[a.Name] += n
		}
	}
	return out
}
