package reports

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// Event types in the compact form the report keeps in memory.
const (
	evInvoke uint8 = iota
	evOk
	evFail
	evInfo
)

var typeNames = [...]string{"invoke", "ok", "fail", "info"}

// event is one history line, compacted: a million-operation history holds
// two million of these. It holds no pointers (f is interned, the value and
// error texts live in loadedHistory.text), so the garbage collector never
// scans the events slice.
type event struct {
	idx  int64
	t    int64
	pair int64 // index of the matching invoke/completion, -1 if none
	// text is the offset of the value (raw JSON, truncated to
	// maxValueChars) followed by the error in loadedHistory.text.
	text   int64
	valLen uint16
	errLen uint16
	proc   int32 // -1 for the nemesis
	f      uint16
	typ    uint8
}

// maxValueChars bounds the value text shown per event in the history view;
// polls can return thousands of records and the full line is one click
// away in history.jsonl.
const maxValueChars = 240

// loadedHistory is history.jsonl in the form the renderer needs.
type loadedHistory struct {
	events []event
	// text holds every event's value and error text back to back.
	text []byte
	// nemesisValues holds the full value of nemesis events by position.
	nemesisValues map[int]json.RawMessage
	fs            []string
	fIndex        map[string]uint16
	// byIndex maps a history index to its position in events when the file's
	// indices are not simply 0..n-1.
	byIndex map[int64]int
	// end is the time of the last event.
	end int64
	// keyMops holds the decoded micro-operations of the keys with
	// anomalies, gathered during the same pass.
	keyObs map[string]*keyObservations
}

func (h *loadedHistory) fname(i uint16) string { return h.fs[i] }

// value returns e's value text (raw JSON, possibly truncated).
func (h *loadedHistory) value(e *event) string { return string(h.valueBytes(e)) }

// errText returns e's error.
func (h *loadedHistory) errText(e *event) string { return string(h.errBytes(e)) }

func (h *loadedHistory) valueBytes(e *event) []byte {
	return h.text[e.text : e.text+int64(e.valLen)]
}

func (h *loadedHistory) errBytes(e *event) []byte {
	s := e.text + int64(e.valLen)
	return h.text[s : s+int64(e.errLen)]
}

func (h *loadedHistory) intern(f string) uint16 {
	if i, ok := h.fIndex[f]; ok {
		return i
	}
	i := uint16(len(h.fs))
	h.fs = append(h.fs, f)
	h.fIndex[f] = i
	return i
}

// pos returns the position of history index idx in events, or -1.
func (h *loadedHistory) pos(idx int64) int {
	if h.byIndex == nil {
		if idx >= 0 && idx < int64(len(h.events)) {
			return int(idx)
		}
		return -1
	}
	if p, ok := h.byIndex[idx]; ok {
		return p
	}
	return -1
}

type lineChunk struct {
	seq   int
	first int // line number of the first line (1-based)
	lines [][]byte
}

type decodedChunk struct {
	seq   int
	first int
	ops   []history.Op
	err   error
}

// loadHistory reads path on all cores: lines are split into chunks by one
// goroutine, decoded in parallel (decodeLine, else encoding/json), and
// reassembled in order. A malformed line is an error naming its line
// number: a report must never silently drop operations.
//
// The report does not use checkers/history.Reader on purpose: validating
// the history is the checkers' job (results.json carries their verdict),
// while the report must load two million lines in a few seconds and only
// needs the flat fields, so it skips decoding micro-operations except for
// the keys it draws.
func loadHistory(ctx context.Context, path string, keys map[string]bool) (*loadedHistory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	defer f.Close()
	sizeHint := 0
	if st, err := f.Stat(); err == nil {
		// Lines average well over 80 bytes; a close guess saves the
		// repeated growth of a multi-million-element slice.
		sizeHint = int(min(st.Size()/80, 1<<26))
	}
	return decodeHistory(ctx, f, keys, sizeHint)
}

func decodeHistory(ctx context.Context, r io.Reader, keys map[string]bool, sizeHint int) (*loadedHistory, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	const chunkLines = 4096
	workers := max(1, runtime.GOMAXPROCS(0))
	in := make(chan lineChunk, workers*2)
	out := make(chan decodedChunk, workers*2)
	var readErr error
	go func() {
		defer close(in)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		seq, line := 0, 0
		cur := lineChunk{seq: 0, first: 1}
		// The scanner reuses its buffer, so copy lines into one arena per
		// chunk to keep allocations per chunk, not per line.
		arena := make([]byte, 0, 1<<20)
		for sc.Scan() {
			line++
			b := sc.Bytes()
			if len(b) == 0 {
				continue
			}
			start := len(arena)
			arena = append(arena, b...)
			cur.lines = append(cur.lines, arena[start:len(arena):len(arena)])
			if len(cur.lines) == chunkLines {
				select {
				case in <- cur:
				case <-ctx.Done():
					return
				}
				seq++
				cur = lineChunk{seq: seq, first: line + 1}
				arena = make([]byte, 0, 1<<20)
			}
		}
		if err := sc.Err(); err != nil {
			readErr = fmt.Errorf("read history line %d: %w", line+1, err)
		}
		if len(cur.lines) > 0 {
			select {
			case in <- cur:
			case <-ctx.Done():
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range in {
				d := decodedChunk{seq: c.seq, first: c.first, ops: make([]history.Op, len(c.lines))}
				for i, l := range c.lines {
					if decodeLine(l, &d.ops[i]) == nil {
						continue
					}
					if err := json.Unmarshal(l, &d.ops[i]); err != nil {
						d.err = fmt.Errorf("decode history near line %d: %w", c.first+i, err)
						break
					}
				}
				select {
				case out <- d:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()

	h := &loadedHistory{fIndex: map[string]uint16{}, keyObs: map[string]*keyObservations{}, events: make([]event, 0, sizeHint),
		text: make([]byte, 0, sizeHint*40), nemesisValues: map[int]json.RawMessage{}}
	for k := range keys {
		h.keyObs[k] = &keyObservations{key: k}
	}
	b := newHistoryBuilder(h)
	pending := map[int]decodedChunk{}
	next := 0
	var firstErr error
	for d := range out {
		pending[d.seq] = d
		for {
			c, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if c.err != nil && firstErr == nil {
				firstErr = c.err
				cancel()
			}
			if firstErr == nil {
				for i := range c.ops {
					b.add(&c.ops[i])
				}
			}
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if readErr != nil {
		return nil, readErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load history: %w", err)
	}
	b.finish()
	return h, nil
}

// historyBuilder pairs invocations with completions as events arrive.
type historyBuilder struct {
	h       *loadedHistory
	open    map[int32]int // client process -> position of its open invoke
	nemOpen map[uint16]int
}

func newHistoryBuilder(h *loadedHistory) *historyBuilder {
	return &historyBuilder{h: h, open: map[int32]int{}, nemOpen: map[uint16]int{}}
}

func (b *historyBuilder) add(op *history.Op) {
	h := b.h
	e := event{idx: op.Index, t: int64(op.Time), pair: -1, f: h.intern(op.F)}
	if op.Process.Nemesis {
		e.proc = -1
	} else {
		e.proc = int32(op.Process.ID)
	}
	switch op.Type {
	case history.Invoke:
		e.typ = evInvoke
	case history.Ok:
		e.typ = evOk
	case history.Fail:
		e.typ = evFail
	default:
		e.typ = evInfo
	}
	v := op.Value
	e.text = int64(len(h.text))
	if len(v) > maxValueChars {
		h.text = append(h.text, v[:maxValueChars]...)
		h.text = append(h.text, "…"...)
	} else {
		h.text = append(h.text, v...)
	}
	e.valLen = uint16(int64(len(h.text)) - e.text)
	errText := op.Error
	if len(errText) > maxValueChars {
		errText = errText[:maxValueChars] + "…"
	}
	h.text = append(h.text, errText...)
	e.errLen = uint16(len(errText))
	p := len(h.events)
	if e.proc < 0 {
		h.nemesisValues[p] = append(json.RawMessage(nil), v...)
	}
	if h.byIndex == nil && e.idx != int64(p) {
		h.byIndex = make(map[int64]int, p+1)
		for i := range h.events {
			h.byIndex[h.events[i].idx] = i
		}
	}
	if h.byIndex != nil {
		h.byIndex[e.idx] = p
	}
	if e.t > h.end {
		h.end = e.t
	}
	// Pair by process: a client has at most one operation in flight; the
	// nemesis pairs by f, because it may overlap actions of different kinds.
	if e.proc >= 0 {
		if e.typ == evInvoke {
			b.open[e.proc] = p
		} else if ip, ok := b.open[e.proc]; ok {
			delete(b.open, e.proc)
			h.events[ip].pair = e.idx
			e.pair = h.events[ip].idx
		}
	} else {
		if e.typ == evInvoke {
			b.nemOpen[e.f] = p
		} else if ip, ok := b.nemOpen[e.f]; ok {
			delete(b.nemOpen, e.f)
			h.events[ip].pair = e.idx
			e.pair = h.events[ip].idx
		}
	}
	h.events = append(h.events, e)
	if len(h.keyObs) > 0 && e.proc >= 0 && e.typ != evInvoke {
		observeKeys(h, p, op)
	}
}

func (b *historyBuilder) finish() {}
