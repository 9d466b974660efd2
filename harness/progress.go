package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress prints what a person watching `make chaos` wants to see: the
// phase, the operation rate every few seconds, and faults as they happen.
// Every line is prefixed with the time since the test started.
type progress struct {
	mu   sync.Mutex
	w    io.Writer
	base time.Time
}

func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "[%6.1fs] %s\n", time.Since(p.base).Seconds(), fmt.Sprintf(format, args...))
}

// nemesis prints one nemesis event; completions only, with their compact
// value (which carries what was verified).
func (p *progress) nemesis(typ, f string, value json.RawMessage) {
	if typ != "info" {
		return
	}
	// Re-encode without HTML escaping: "n1->n2" reads better than
	// "n1-\u003en2" on a terminal.
	var v any
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := json.Unmarshal(value, &v); err != nil || enc.Encode(v) != nil {
		buf.Reset()
		buf.Write(value)
	}
	s := strings.TrimSpace(buf.String())
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	p.printf("nemesis %-10s %s", f, s)
}

// rates prints the operation counts every interval until ctx ends.
func (p *progress) rates(ctx context.Context, rec *Recorder, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	lastN, last := int64(0), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			ok, fail, info := rec.Counts()
			n := ok + fail + info
			rate := float64(n-lastN) / now.Sub(last).Seconds()
			lastN, last = n, now
			p.printf("ops %6d  %6.0f/s  ok %d  fail %d  info %d", n, rate, ok, fail, info)
		}
	}
}
