package kafka

import (
	"sort"

	"github.com/chronik-chaos/chronik/checkers/verdict"
)

// Anomaly names (contract: Jepsen's names, DESIGN.md). UnknownValue is our
// extension for a read of a value nobody sent, which Jepsen treats as a
// crash of the checker.
const (
	InconsistentOffsets = "inconsistent-offsets"
	Duplicate           = "duplicate"
	LostWrite           = "lost-write"
	Unseen              = "unseen"
	G1a                 = "G1a"
	PrecommittedRead    = "precommitted-read"
	PollSkip            = "poll-skip"
	NonmonotonicPoll    = "nonmonotonic-poll"
	IntPollSkip         = "int-poll-skip"
	IntNonmonotonicPoll = "int-nonmonotonic-poll"
	NonmonotonicSend    = "nonmonotonic-send"
	IntSendSkip         = "int-send-skip"
	IntNonmonotonicSend = "int-nonmonotonic-send"
	G0                  = "G0"
	G1c                 = "G1c"
	UnknownValue        = "unknown-value"
)

// Case and Anomaly are the shared result shapes of package verdict.
type (
	Case    = verdict.Case
	Anomaly = verdict.Anomaly
)

// Result is the kafka checker's section of results.json.
type Result struct {
	Valid verdict.Validity `json:"valid"`
	// Errors maps anomaly names to their cases; names with no case are
	// absent.
	Errors map[string]*Anomaly `json:"errors"`
	// BadErrorTypes lists the anomaly names with at least one fatal case,
	// sorted, as Jepsen's :bad-error-types.
	BadErrorTypes []string `json:"bad_error_types,omitempty"`
	// Keys is how many keys (partitions) the history touched.
	Keys int `json:"keys"`
	// Error says why the analysis is Unknown (for example, its budget ran
	// out).
	Error string `json:"error,omitempty"`
}

// CheckerValid returns the verdict, so Result can be merged into results.
func (r *Result) CheckerValid() verdict.Validity { return r.Valid }

// CheckerErrors returns the anomalies by name (the shape every checker
// shares, verdict.Findings).
func (r *Result) CheckerErrors() map[string]*Anomaly { return r.Errors }

// Counts returns the number of cases per anomaly name.
func (r *Result) Counts() map[string]int {
	out := map[string]int{}
	for n, a := range r.Errors {
		out[n] = a.Count
	}
	return out
}

// result turns the collected cases into the section; Valid is false when
// any case is fatal.
func result(col *verdict.Collector) *Result {
	r := &Result{Errors: col.Errors()}
	for name, a := range r.Errors {
		if a.FatalCount > 0 {
			r.BadErrorTypes = append(r.BadErrorTypes, name)
		}
	}
	sort.Strings(r.BadErrorTypes)
	r.Valid = verdict.Of(len(r.BadErrorTypes) == 0)
	return r
}
