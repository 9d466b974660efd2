package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
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

// Results is results.json as the report needs it. It is parsed loosely:
// unknown fields are kept (Extra) and rendered as key/value tables, because
// the checkers may add optional fields at any time (DESIGN.md allows
// extension, never renaming).
type Results struct {
	Valid    Verdict
	Checkers []Checker
	// Extra holds top-level fields other than valid and checkers.
	Extra []Field
}

// Checker is one entry of results.json's checkers map.
type Checker struct {
	Name        string
	Valid       Verdict
	Explanation string
	Anomalies   []Anomaly
	// Partitions maps a key to its per-partition outcome ("ok",
	// "nonlinearizable", "unknown", ...), as the linearizability checker
	// writes it.
	Partitions []Partition
	// Fields holds every other field (stats such as ok/fail/info counts,
	// latency quantiles, longest unavailability).
	Fields []Field
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
	// FatalCount is how many cases make the history invalid; -1 when the
	// checker does not say.
	FatalCount  int
	Explanation string
	Examples    []Example
}

// Example is one anomaly example. Raw is kept verbatim; Ops, Keys and
// Explanation are what could be recognized inside it.
type Example struct {
	// Allowed is set when the example says "fatal": false: the checker
	// reports the case but does not count it against the verdict (e.g.
	// poll skips of a subscribed consumer).
	Allowed     bool
	Raw         json.RawMessage
	Pretty      string
	Explanation string
	Ops         []int64
	Keys        []string
	Offsets     []int64
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
	c := Checker{Name: name}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		// A checker may be summarized by a bare value; show it as a field.
		c.Valid = Unknown
		c.Fields = []Field{{Name: "result", Value: decodeAny(raw)}}
		return c, nil
	}
	c.Valid = parseVerdict(m["valid"])
	for _, k := range []string{"explanation", "explain", "message", "error"} {
		if s, ok := asString(m[k]); ok && c.Explanation == "" {
			c.Explanation = s
			delete(m, k)
		}
	}
	if raw, ok := m["errors"]; ok {
		var errs map[string]json.RawMessage
		if err := json.Unmarshal(raw, &errs); err == nil {
			for _, an := range sortedKeys(errs) {
				c.Anomalies = append(c.Anomalies, parseAnomaly(name, an, errs[an]))
			}
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

func parseAnomaly(checker, name string, raw json.RawMessage) Anomaly {
	a := Anomaly{Checker: checker, Name: name}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		// Jepsen sometimes writes the examples list directly.
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) == nil {
			m = map[string]json.RawMessage{"examples": raw}
		} else {
			a.Explanation = compactJSON(raw)
			return a
		}
	}
	var list []json.RawMessage
	_ = json.Unmarshal(m["examples"], &list)
	if err := json.Unmarshal(m["count"], &a.Count); err != nil {
		a.Count = len(list)
	}
	a.FatalCount = -1
	if raw, ok := m["fatal_count"]; ok {
		_ = json.Unmarshal(raw, &a.FatalCount)
	}
	for _, k := range []string{"explanation", "explain", "description", "message"} {
		if s, ok := asString(m[k]); ok && a.Explanation == "" {
			a.Explanation = s
		}
	}
	for _, ex := range list {
		a.Examples = append(a.Examples, parseExample(ex))
	}
	return a
}

// parseExample recognizes operation indices, keys, offsets and an
// explanation anywhere inside a free-form example. The checkers decide the
// exact shape; we only rely on conventional field names (Jepsen's and the
// obvious Go spellings) so that a new field never breaks the report.
func parseExample(raw json.RawMessage) Example {
	ex := Example{Raw: raw, Pretty: prettyJSON(raw)}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return ex
	}
	ops := map[int64]bool{}
	keys := map[string]bool{}
	offs := map[int64]bool{}
	walkExample(v, "", &ex, ops, keys, offs, 0)
	if obj, ok := v.(map[string]any); ok {
		if f, ok := obj["fatal"].(bool); ok && !f {
			ex.Allowed = true
		}
	}
	for o := range ops {
		ex.Ops = append(ex.Ops, o)
	}
	sort.Slice(ex.Ops, func(i, j int) bool { return ex.Ops[i] < ex.Ops[j] })
	for k := range keys {
		ex.Keys = append(ex.Keys, k)
	}
	sort.Strings(ex.Keys)
	if len(offs) == 0 && ex.Explanation != "" {
		// The checkers name offsets in the explanation ("... at offset 20
		// of t0/1 ..."); take them from there when no field holds them.
		for _, m := range offsetInText.FindAllStringSubmatch(ex.Explanation, 8) {
			if n, err := strconv.ParseInt(m[1], 10, 64); err == nil {
				offs[n] = true
			}
		}
	}
	for o := range offs {
		ex.Offsets = append(ex.Offsets, o)
	}
	sort.Slice(ex.Offsets, func(i, j int) bool { return ex.Offsets[i] < ex.Offsets[j] })
	return ex
}

var offsetInText = regexp.MustCompile(`\boffsets? (\d+)`)

// Field names whose integer values are history indices.
var opFieldNames = map[string]bool{
	"op": true, "ops": true, "index": true, "indices": true, "op-index": true,
	"op_index": true, "op-indices": true, "op_indices": true, "op-indexes": true,
	"op_indexes": true, "writer": true, "reader": true, "writers": true, "readers": true,
	"invoke": true, "completion": true, "send": true, "poll": true, "sends": true, "polls": true,
	"prev-op": true, "prev_op": true, "witness": true, "witnesses": true,
}

// Field names whose integer values are offsets.
var offsetFieldNames = map[string]bool{
	"offset": true, "offsets": true, "expected-offset": true, "expected_offset": true,
	"prev-offset": true, "prev_offset": true, "from": true, "to": true,
}

func walkExample(v any, field string, ex *Example, ops map[int64]bool, keys map[string]bool, offs map[int64]bool, depth int) {
	if depth > 12 {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		// An embedded history op (Jepsen style): take its index and keys.
		if idx, ok := x["index"].(json.Number); ok {
			if _, hasType := x["type"]; hasType {
				if n, err := idx.Int64(); err == nil {
					ops[n] = true
				}
			}
		}
		for k, child := range x {
			lk := strings.ToLower(k)
			switch {
			case lk == "explanation" || lk == "explain" || lk == "message" || lk == "why":
				if s, ok := child.(string); ok && ex.Explanation == "" {
					ex.Explanation = s
				}
				continue
			case lk == "key" || lk == "keys" || lk == "partition":
				collectKeys(child, keys)
			}
			walkExample(child, lk, ex, ops, keys, offs, depth+1)
		}
	case []any:
		for _, child := range x {
			walkExample(child, field, ex, ops, keys, offs, depth+1)
		}
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			return
		}
		if opFieldNames[field] {
			ops[n] = true
		}
		if offsetFieldNames[field] {
			offs[n] = true
		}
	}
}

func collectKeys(v any, keys map[string]bool) {
	switch x := v.(type) {
	case string:
		if strings.Contains(x, "/") {
			keys[x] = true
		}
	case []any:
		for _, c := range x {
			collectKeys(c, keys)
		}
	}
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
