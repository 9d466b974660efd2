package checkers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/chronik-chaos/chronik/checkers/kafka"
	"github.com/chronik-chaos/chronik/checkers/linear"
	"github.com/chronik-chaos/chronik/checkers/offsets"
	"github.com/chronik-chaos/chronik/checkers/stats"
	"github.com/chronik-chaos/chronik/checkers/verdict"
)

// Names of the built-in checkers in results.json (contract).
const (
	NameKafka        = "kafka"
	NameLinearizable = "linearizable"
	NameStats        = "stats"
	// NameOffsets is the consumer-group offsets checker (package offsets).
	NameOffsets = offsets.Name
)

// ResultsFile is the file name WriteResults writes (contract: store
// layout).
const ResultsFile = "results.json"

// CheckerResult is one checker's section of results.json: any value that
// marshals to a JSON object with a "valid" field and reports that verdict.
type CheckerResult interface {
	CheckerValid() verdict.Validity
}

// AnomalyReporter is a section that names anomalies: an "errors" object
// mapping anomaly names to verdict.Anomaly (contract: every checker's
// examples have the one shape verdict.Case). Every section but stats is
// one.
type AnomalyReporter interface {
	CheckerResult
	CheckerErrors() map[string]*verdict.Anomaly
}

// Extra is the section of a checker outside this package (the harness's
// liveness and raft-safety checkers) and of any unknown section read back
// from a results.json. It marshals as a flat object: "valid", "errors"
// (when Errors is not nil), "error" (when set), and Fields.
type Extra struct {
	Valid verdict.Validity
	// Errors are the anomalies by name, in the shape every checker
	// shares; nil writes no "errors" field.
	Errors map[string]*verdict.Anomaly
	// Error says why Valid is unknown.
	Error string
	// Fields are the section's other fields.
	Fields map[string]any
}

// CheckerValid returns the verdict.
func (e *Extra) CheckerValid() verdict.Validity { return e.Valid }

// CheckerErrors returns the anomalies by name.
func (e *Extra) CheckerErrors() map[string]*verdict.Anomaly { return e.Errors }

// MarshalJSON writes {"valid": ..., "errors": ..., "error": ..., fields...}.
func (e *Extra) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(e.Fields)+3)
	for k, v := range e.Fields {
		m[k] = v
	}
	m["valid"] = e.Valid
	if e.Errors != nil {
		m["errors"] = e.Errors
	}
	if e.Error != "" {
		m["error"] = e.Error
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads a flat object with a "valid" field.
func (e *Extra) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("checker result: %w", err)
	}
	*e = Extra{Fields: map[string]any{}}
	for k, raw := range m {
		var err error
		switch k {
		case "valid":
			err = e.Valid.UnmarshalJSON(raw)
		case "errors":
			err = json.Unmarshal(raw, &e.Errors)
		case "error":
			err = json.Unmarshal(raw, &e.Error)
		default:
			var v any
			err = json.Unmarshal(raw, &v)
			e.Fields[k] = v
		}
		if err != nil {
			return fmt.Errorf("checker result field %s: %w", k, err)
		}
	}
	return nil
}

// Results is results.json (contract, DESIGN.md): the overall verdict and
// one section per checker. Fields beyond valid and checkers are optional
// extensions.
type Results struct {
	Valid    verdict.Validity         `json:"valid"`
	Checkers map[string]CheckerResult `json:"checkers"`
	// History is the path of the checked history, for humans.
	History string `json:"history,omitempty"`
	// Lines is how many history lines were read.
	Lines int64 `json:"lines,omitempty"`
	// ElapsedS is how long the check took.
	ElapsedS float64 `json:"elapsed_s,omitempty"`
}

// Add sets (or replaces) the section of checker name and recomputes the
// overall verdict. The harness uses it to merge checkers of its own.
func (r *Results) Add(name string, c CheckerResult) {
	if r.Checkers == nil {
		r.Checkers = map[string]CheckerResult{}
	}
	r.Checkers[name] = c
	r.recompute()
}

// recompute sets Valid to the worst verdict of all sections.
func (r *Results) recompute() {
	v := verdict.True
	for _, c := range r.Checkers {
		v = verdict.Merge(v, c.CheckerValid())
	}
	r.Valid = v
}

// Counts returns the number of cases per anomaly name over all sections
// that name anomalies.
func (r *Results) Counts() map[string]int {
	out := map[string]int{}
	for _, name := range r.names() {
		if c, ok := r.Checkers[name].(AnomalyReporter); ok {
			for n, a := range c.CheckerErrors() {
				out[n] += a.Count
			}
		}
	}
	return out
}

func (r *Results) names() []string {
	ns := make([]string, 0, len(r.Checkers))
	for n := range r.Checkers {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// UnmarshalJSON reads results.json back, decoding the built-in sections
// into their concrete types and anything else into *Extra.
func (r *Results) UnmarshalJSON(b []byte) error {
	var raw struct {
		Valid    verdict.Validity           `json:"valid"`
		Checkers map[string]json.RawMessage `json:"checkers"`
		History  string                     `json:"history"`
		Lines    int64                      `json:"lines"`
		ElapsedS float64                    `json:"elapsed_s"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("decode results: %w", err)
	}
	*r = Results{Valid: raw.Valid, History: raw.History, Lines: raw.Lines, ElapsedS: raw.ElapsedS, Checkers: map[string]CheckerResult{}}
	for name, sec := range raw.Checkers {
		var c CheckerResult
		switch name {
		case NameKafka:
			c = &kafka.Result{}
		case NameLinearizable:
			c = &linear.Result{}
		case NameStats:
			c = &stats.Result{}
		case NameOffsets:
			c = &offsets.Result{}
		default:
			c = &Extra{}
		}
		if err := json.Unmarshal(sec, c); err != nil {
			return fmt.Errorf("decode results section %s: %w", name, err)
		}
		r.Checkers[name] = c
	}
	return nil
}

// ReadResults reads dir/results.json or the file path itself.
func ReadResults(path string) (*Results, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, ResultsFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	defer f.Close()
	var r Results
	if err := json.NewDecoder(f).Decode(&r); err != nil {
		return nil, fmt.Errorf("read results %s: %w", path, err)
	}
	return &r, nil
}

// WriteResults writes r as dir/results.json, atomically (a reader never
// sees half a file).
func WriteResults(dir string, r *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".results-*.json")
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write results: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write results: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write results: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, ResultsFile)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}
