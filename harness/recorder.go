package harness

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// Recorder writes the run's history through one history.Writer (one
// monotonic clock, one lock, so line order is event order) and keeps the
// counters the progress printer shows. Safe for concurrent use.
type Recorder struct {
	w    *history.Writer
	base time.Time

	ok, fail, info atomic.Int64
	firstOp        atomic.Int64 // ns since base of the first client invoke, 0 if none

	mu       sync.Mutex
	err      error
	onFault  func(typ, f string, value json.RawMessage)
	nemesisN int
}

// NewRecorder records into w, whose clock starts at base.
func NewRecorder(w *history.Writer, base time.Time) *Recorder {
	return &Recorder{w: w, base: base}
}

// OnNemesis registers a callback for every nemesis event (progress output).
func (r *Recorder) OnNemesis(fn func(typ, f string, value json.RawMessage)) {
	r.mu.Lock()
	r.onFault = fn
	r.mu.Unlock()
}

func (r *Recorder) write(op history.Op) history.Op {
	out, err := r.w.Write(op)
	if err != nil {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
	}
	return out
}

// Err returns the first write error, if any.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// OpMeta are the optional fields of a client operation's line: the node
// that answered (completions), the nodes per key of a poll served by
// several, the consumer group of group operations, and the producer kind
// of sends (invocation and completion).
type OpMeta struct {
	Node     string
	Nodes    map[string][]string
	Group    string
	Producer string
}

// Invoke records the invocation of f by process p with the given
// micro-operations (or any JSON value).
func (r *Recorder) Invoke(p int, f string, value any) { r.InvokeMeta(p, f, value, OpMeta{}) }

// InvokeMeta is Invoke with optional fields (a group, a producer kind;
// never a node, which only a completion knows).
func (r *Recorder) InvokeMeta(p int, f string, value any, m OpMeta) {
	r.firstOp.CompareAndSwap(0, int64(time.Since(r.base)))
	r.write(history.Op{Process: history.Client(p), Type: history.Invoke, F: f, Value: mustJSON(value), Group: m.Group, Producer: m.Producer})
}

// Complete records the completion of p's operation f.
func (r *Recorder) Complete(p int, typ history.Type, f string, value any, err error) {
	r.CompleteMeta(p, typ, f, value, err, OpMeta{})
}

// CompleteMeta is Complete with optional fields.
func (r *Recorder) CompleteMeta(p int, typ history.Type, f string, value any, err error, m OpMeta) {
	op := history.Op{Process: history.Client(p), Type: typ, F: f, Value: mustJSON(value), Node: m.Node, Nodes: m.Nodes, Group: m.Group, Producer: m.Producer}
	if err != nil && typ != history.Ok {
		op.Error = err.Error()
	}
	switch typ {
	case history.Ok:
		r.ok.Add(1)
	case history.Fail:
		r.fail.Add(1)
	default:
		r.info.Add(1)
	}
	r.write(op)
}

// Nemesis implements nemesis.Recorder: typ is "invoke" or "info".
func (r *Recorder) Nemesis(typ, f string, value any) {
	v := mustJSON(value)
	r.write(history.Op{Process: history.Nemesis(), Type: history.Type(typ), F: f, Value: v})
	r.mu.Lock()
	fn := r.onFault
	r.nemesisN++
	r.mu.Unlock()
	if fn != nil {
		fn(typ, f, v)
	}
}

// Counts returns the completions recorded so far.
func (r *Recorder) Counts() (ok, fail, info int64) {
	return r.ok.Load(), r.fail.Load(), r.info.Load()
}

// FirstOp is the time from the run's start to the first client operation
// (0 if none happened).
func (r *Recorder) FirstOp() time.Duration { return time.Duration(r.firstOp.Load()) }

// Flush flushes the history to its file.
func (r *Recorder) Flush() error { return r.w.Flush() }

func mustJSON(v any) json.RawMessage {
	if raw, ok := v.(json.RawMessage); ok {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Values are built by this package from plain types; failing to
		// encode one is a programming error.
		panic(fmt.Sprintf("harness: encode history value: %v", err))
	}
	return b
}
