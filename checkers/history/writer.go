package history

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Writer appends events to a history.jsonl stream. It assigns Index in
// write order and Time from one monotonic clock started at Base, so that all
// events of a run share a single time base. It is safe for concurrent use;
// the order of lines is the order in which Write calls took the lock, which
// is the order the events are considered to have happened.
type Writer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	base time.Time
	next int64
	err  error
}

// NewWriter returns a Writer whose times are measured from base (use the
// test's start; time.Time carries a monotonic reading).
func NewWriter(w io.Writer, base time.Time) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 1<<16), base: base}
}

// Write stamps op with the next index and the current time (unless
// op.Time is already set by the caller, who then owns ordering) and appends
// it. It returns the stamped op.
func (w *Writer) Write(op Op) (Op, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return op, w.err
	}
	op.Index = w.next
	if op.Time == 0 {
		op.Time = time.Since(w.base)
	}
	if op.Value == nil {
		op.Value = json.RawMessage("null")
	}
	b, err := json.Marshal(op)
	if err != nil {
		return op, fmt.Errorf("history: encode op %d: %w", op.Index, err)
	}
	b = append(b, '\n')
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("history: write op %d: %w", op.Index, err)
		return op, w.err
	}
	w.next++
	return op, nil
}

// Flush writes buffered events to the underlying writer.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if err := w.w.Flush(); err != nil {
		w.err = fmt.Errorf("history: flush: %w", err)
	}
	return w.err
}
