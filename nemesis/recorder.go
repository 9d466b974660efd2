package nemesis

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Recorder receives the nemesis's history events. The harness implements it
// by appending an Op with process "nemesis" to history.jsonl. typ is "invoke"
// or "info"; f is the Start or Stop of a row of the table of nemesis
// functions (history.NemesisFamilies), such as "kill" and "restart"; value
// is JSON-marshalable and always an object with at least "nodes". Nemesis
// calls Recorder from one goroutine at a time.
type Recorder interface {
	Nemesis(typ, f string, value any)
}

// ErrUnverified marks a fault (or heal) whose effect could not be proven
// after it was applied: a killed node still running, a cut pair that still
// connects, loss that does not show in the delivery rate. The harness maps it
// to exit code 4, because a fault that silently did not happen would make a
// green run a lie.
var ErrUnverified = errors.New("nemesis: fault effect could not be verified")

// Value is the JSON object recorded as a nemesis operation's value.
type Value map[string]any

// nopRecorder drops events; used when a caller passes a nil Recorder.
type nopRecorder struct{}

func (nopRecorder) Nemesis(string, string, any) {}

func orNop(rec Recorder) Recorder {
	if rec == nil {
		return nopRecorder{}
	}
	return rec
}

// unverified wraps ErrUnverified with what was expected and what was seen.
func unverified(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnverified, fmt.Sprintf(format, args...))
}

// action records one fault action as an invoke/info pair around do. do
// returns what it verified; on error the info carries "error" and the error
// is returned. The info's value repeats the invoke's fields so that each
// event reads on its own in a report.
func action(ctx context.Context, rec Recorder, f string, v Value, do func(ctx context.Context) (Value, error)) error {
	rec.Nemesis("invoke", f, cloneValue(v))
	verified, err := do(ctx)
	info := cloneValue(v)
	if verified != nil {
		info["verified"] = verified
	}
	if err != nil {
		info["error"] = err.Error()
	}
	rec.Nemesis("info", f, info)
	if err != nil {
		return fmt.Errorf("%s %v: %w", f, v["nodes"], err)
	}
	return nil
}

func cloneValue(v Value) Value {
	out := make(Value, len(v)+2)
	for k, x := range v {
		out[k] = x
	}
	if _, ok := out["nodes"]; !ok {
		out["nodes"] = []string{}
	}
	return out
}

// sleep waits d or until ctx is done, reporting whether it slept fully.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	// Since Go 1.23 an unfired timer is collected without Stop, so
	// time.After leaks nothing when ctx ends first.
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
