package reports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/windows"
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
	// node is 1 + the index in loadedHistory.nodes of the node that
	// answered (the completion's "node", or its "nodes" joined), 0 when
	// the line names none.
	node uint16
	typ  uint8
}

// maxValueChars bounds the value text shown per event in the history view;
// polls can return thousands of records and the full line is one click
// away in history.jsonl. Longer values are folded (fold.go), never cut
// mid-array.
const maxValueChars = 240

// loadedHistory is history.jsonl in the form the renderer needs.
type loadedHistory struct {
	events []event
	// text holds every event's value and error text back to back.
	text []byte
	// faults pairs the nemesis events into fault windows, fed every entry
	// the checkers' tracker is fed (Pending ones included), so the report
	// shades exactly the windows the stats checker measured.
	faults *windows.Tracker
	fs     []string
	fIndex map[string]uint16
	// nodes are the node names completions were answered by, interned.
	nodes     []string
	nodeIndex map[string]uint16
	// kept holds the whole entries of the operations the anomaly sections
	// tell (wanted), and of their completions, by history index: their
	// values are shown folded around what the anomaly names rather than
	// cut at maxValueChars.
	wanted map[int64]bool
	kept   map[int64]*history.Entry
	// end is the time of the last event.
	end int64
	// keyObs holds what the history says about the keys with anomalies,
	// gathered during the same pass.
	keyObs map[string]*keyObservations
}

func (h *loadedHistory) fname(i uint16) string { return h.fs[i] }

// nodeName returns the node that answered e, "" when the history does not
// say.
func (h *loadedHistory) nodeName(e *event) string {
	if e.node == 0 {
		return ""
	}
	return h.nodes[e.node-1]
}

// internNode returns the event code of node n (0 for "").
func (h *loadedHistory) internNode(n string) uint16 {
	if n == "" {
		return 0
	}
	if i, ok := h.nodeIndex[n]; ok {
		return i
	}
	if len(h.nodes) >= 1<<16-1 {
		return 0 // a history naming 65535 nodes names nothing useful
	}
	h.nodes = append(h.nodes, n)
	i := uint16(len(h.nodes))
	h.nodeIndex[n] = i
	return i
}

// entryNode names the node that answered e: its "node", or the nodes of
// its "nodes" map (a poll served by several), sorted and joined.
func entryNode(e *history.Entry) string {
	if e.Node != "" || len(e.Nodes) == 0 {
		return e.Node
	}
	var all []string
	for _, ns := range e.Nodes {
		for _, n := range ns {
			if !slices.Contains(all, n) {
				all = append(all, n)
			}
		}
	}
	// n2 before n10: shorter names first, then in order.
	slices.SortFunc(all, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	return strings.Join(all, ",")
}

// keyNode names the node that served e's records of key: the key's
// entry of "nodes", else the completion's "node".
func keyNode(e *history.Entry, key string) string {
	if ns, ok := e.Nodes[key]; ok && len(ns) > 0 {
		return strings.Join(slices.Compact(slices.Clone(ns)), ",")
	}
	return e.Node
}

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

// pos returns the position of history index idx in events, or -1. The
// reader has checked that every line's index is its position.
func (h *loadedHistory) pos(idx int64) int {
	if idx >= 0 && idx < int64(len(h.events)) {
		return int(idx)
	}
	return -1
}

// loadHistory reads path with history.Scan, the decoder and pairing the
// checkers use, on all cores, and keeps it in the compact form the report
// renders. A history that breaks the contract is not rendered as if it
// were whole: loadHistory then returns the events before the malformed
// line together with the *history.FormatError that names it (and wraps
// history.ErrMalformed), so the report can show both. Any other error
// (I/O, ctx) comes with a nil history.
func loadHistory(ctx context.Context, path string, keys map[string]bool, wanted map[int64]bool) (*loadedHistory, error) {
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
	return decodeHistory(ctx, f, keys, wanted, sizeHint)
}

func decodeHistory(ctx context.Context, r io.Reader, keys map[string]bool, wanted map[int64]bool, sizeHint int) (*loadedHistory, error) {
	h := &loadedHistory{fIndex: map[string]uint16{}, keyObs: map[string]*keyObservations{}, events: make([]event, 0, sizeHint),
		text: make([]byte, 0, sizeHint*40), faults: windows.NewTracker(), nodeIndex: map[string]uint16{},
		wanted: wanted, kept: map[int64]*history.Entry{}}
	for k := range keys {
		h.keyObs[k] = &keyObservations{key: k}
	}
	_, err := history.Scan(ctx, r, history.ScanOptions{}, func(batch []history.Entry) error {
		for i := range batch {
			h.add(&batch[i])
		}
		return nil
	})
	switch {
	case errors.Is(err, history.ErrMalformed):
		return h, err
	case err != nil:
		return nil, fmt.Errorf("load history: %w", err)
	}
	return h, nil
}

// add appends one entry of the history. The Reader's synthetic completions
// of invocations left open are not lines of the file: their invocations
// stay unpaired, which the views show as never completed.
func (h *loadedHistory) add(e *history.Entry) {
	h.faults.Observe(e)
	if e.Pending {
		return
	}
	ev := event{idx: e.Index, t: int64(e.Time), pair: -1, f: h.intern(e.F), typ: typeCode(e.Type), proc: -1}
	if !e.Process.Nemesis {
		ev.proc = int32(e.Process.ID)
	}
	if e.Node != "" || e.Nodes != nil {
		ev.node = h.internNode(entryNode(e))
	}
	ev.text = int64(len(h.text))
	h.text = appendValue(h.text, e.Value)
	ev.valLen = uint16(int64(len(h.text)) - ev.text)
	errStart := len(h.text)
	h.text = appendCapped(h.text, []byte(e.Error))
	ev.errLen = uint16(len(h.text) - errStart)
	h.end = max(h.end, ev.t)
	// The reader has checked that index = position and paired the
	// completion with its invocation.
	if e.InvokeIndex != e.Index {
		h.events[e.InvokeIndex].pair = e.Index
		ev.pair = e.InvokeIndex
	}
	h.events = append(h.events, ev)
	if len(h.keyObs) > 0 && ev.typ == evOk && ev.proc >= 0 {
		observeKeys(h, &ev, e.Mops)
	}
	if len(h.wanted) > 0 && (h.wanted[e.Index] || h.wanted[e.InvokeIndex]) {
		// Scan lets callers keep copies of entries and what they point to.
		c := *e
		h.kept[e.Index] = &c
	}
}

// appendValue appends a value's text: as written when it is short, folded
// to about maxValueChars otherwise (fold.go).
func appendValue(text, b []byte) []byte {
	if len(b) > maxValueChars {
		return appendFolded(text, b, maxValueChars)
	}
	return append(text, b...)
}

// appendCapped appends b to text, cut at maxValueChars (error texts).
func appendCapped(text, b []byte) []byte {
	if len(b) > maxValueChars {
		return append(append(text, b[:maxValueChars]...), "…"...)
	}
	return append(text, b...)
}

// completion returns the kept entry of the completion of the operation
// idx names (idx may be its invocation or its completion), nil when the
// operation was not kept or never completed.
func (h *loadedHistory) completion(idx int64) *history.Entry {
	p := h.pos(idx)
	if p < 0 {
		return nil
	}
	e := &h.events[p]
	if e.typ == evInvoke {
		if e.pair < 0 {
			return nil
		}
		return h.kept[e.pair]
	}
	return h.kept[idx]
}

// typeCode is the compact form of an event type; the reader has rejected
// every other type.
func typeCode(t history.Type) uint8 {
	for i, n := range typeNames {
		if string(t) == n {
			return uint8(i)
		}
	}
	return evInfo
}
