package reports

import (
	"fmt"
	"html/template"
	"sort"
	"strings"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// A story tells one case of an anomaly so that it can be followed without
// opening anything else: what the key's log holds around the offsets the
// case is about (which values, at which offsets, acknowledged or read by
// which operations, served by which node), each operation that proves it
// in words, the faults in effect meanwhile, and the guarantee that broke.
// It is built from the case (verdict.Case) and the history alone, so every
// anomaly of every checker gets one; a case without a key or operations
// simply has fewer parts.

// storyView is the story of one case, as the template renders it.
type storyView struct {
	Anchor string
	// Told is the position of the case among the anomaly's examples
	// (1-based) and Of their number; Earliest says it was picked as the
	// one whose evidence was complete first.
	Told, Of    int
	Earliest    bool
	Explanation string
	Guarantee   string
	// KnownName is false when the guarantee was made from the case's
	// explanation (an anomaly name the report has no words for).
	KnownName bool
	Key       string
	KeyAnchor string
	HasKey    bool
	// KeyDerived is set when the case named no key and Key is the one
	// key all its operations touched.
	KeyDerived bool
	Steps      []storyStep
	Log        *logExcerpt
	// Faults are the fault windows in effect at some point between the
	// first invocation and the last completion of the case's operations
	// (or around its time, for a case from node logs); Span says which
	// stretch that was.
	Faults  []storyFault
	Span    string
	HasSpan bool
	// Node and Time come from the case itself (findings from node logs).
	Node string
	Time string
	// NoNodes is set when the history names no serving node at all.
	NoNodes bool
}

// storyStep is one operation of the case, told in a sentence.
type storyStep struct {
	Index    int64
	Found    bool
	Sentence template.HTML
	F        string
	Type     string
	Process  string
	Node     string
	Invoked  string
	Done     string
	Latency  string
	Value    template.HTML
	Error    string
	Faults   []storyFault
	Complete bool
}

// storyFault is a fault window as a story mentions it.
type storyFault struct {
	Label   string
	Color   string
	From    string
	To      string
	Instant bool
	Open    bool
	// During lists the case's operations the window overlaps.
	During []int64
}

// logExcerpt is the stretch of a key's log around the case's offsets.
type logExcerpt struct {
	Key  string
	Rows []logRow
	// Unplaced are values the case names that no operation saw at an
	// offset of the key (a failed send, an acknowledgement without an
	// offset).
	Unplaced []int64
	Note     string
	// HasCopies is set when the rows carry every node's copy, read after
	// the final heal (replica_copies.go); CopiesNote says why they do not
	// when the run read copies but not these.
	HasCopies  bool
	CopiesNote string
}

// logRow is one offset of the excerpt, or (Skip > 0) a marker for offsets
// left out between two stretches.
type logRow struct {
	Skip     int64
	Offset   int64
	Named    bool // the case names this offset, or a value found here
	Hole     bool // inside the key's known range, yet nobody saw it
	Conflict bool // more than one value was seen here
	Values   []valueTrail
	// Copies is what each node's copy holds here; CopiesDisagree is set
	// when they do not all hold one value.
	Copies         []copyCell
	CopiesDisagree bool
}

// valueTrail is one value at one offset and who says it is there.
type valueTrail struct {
	Value     int64
	Named     bool
	Acked     []obsRef
	Read      []obsRef
	MoreReads int
}

// obsRef is one operation that acknowledged or read a value.
type obsRef struct {
	Op   int64
	Node string
	Time string
}

// Bounds of one excerpt: offsets shown around each named one, named
// offsets considered, rows in all, readers named per value.
const (
	excerptContext = 2
	maxNamedOffs   = 12
	maxExcerptRows = 40
	maxReadersShow = 3
)

// storyOf tells example i of anomaly a.
func storyOf(a *Anomaly, i int, h *loadedHistory, wins []NemesisWindow) *storyView {
	ex := a.Examples[i]
	derived := false
	if ex.Key == "" && h != nil {
		// A case that names no key (a G0 cycle) whose operations all
		// wrote or read one key is told with that key's log, when the
		// report has it.
		if k := commonKey(h, ex.Ops); k != "" && h.keyObs[k] != nil {
			ex.Key, derived = k, true
		}
	}
	st := &storyView{Anchor: "story-" + a.Name, Told: i + 1, Of: len(a.Examples), Explanation: ex.Explanation,
		Key: ex.Key, HasKey: ex.Key != "", KeyAnchor: keyAnchor(ex.Key), Node: ex.Node, KeyDerived: derived}
	st.Guarantee, st.KnownName = guaranteeFor(a.Name, ex.Explanation)
	if ex.Time != nil {
		st.Time = fmtSeconds(*ex.Time)
	}
	if h == nil {
		return st
	}
	st.NoNodes = len(h.nodes) == 0
	fc := caseFocus(&ex, h)
	lo, hi := int64(-1), int64(-1)
	widen := func(a, b int64) {
		if lo < 0 || a < lo {
			lo = a
		}
		if b > hi {
			hi = b
		}
	}
	ops := ex.Ops
	if len(ops) > maxOpsPerExample {
		ops = ops[:maxOpsPerExample]
	}
	for _, idx := range ops {
		s := storyStepOf(h, idx, fc)
		if s.Found {
			inv, done, _ := h.span(idx)
			widen(inv, done)
			s.Faults = faultsBetween(wins, inv, done, nil)
		}
		st.Steps = append(st.Steps, s)
	}
	if ex.Time != nil {
		widen(*ex.Time, *ex.Time)
	}
	for _, l := range ex.Log {
		if l.Time != nil {
			widen(*l.Time, *l.Time)
		}
	}
	if lo >= 0 {
		st.HasSpan = true
		st.Span = fmtSeconds(lo) + " – " + fmtSeconds(hi)
		st.Faults = faultsBetween(wins, lo, hi, func(w NemesisWindow) []int64 {
			var during []int64
			for _, s := range st.Steps {
				if !s.Found {
					continue
				}
				inv, done, _ := h.span(s.Index)
				if overlaps(w, inv, done) {
					during = append(during, s.Index)
				}
			}
			return during
		})
	}
	if ex.Key != "" {
		st.Log = excerptOf(h, fc)
	}
	return st
}

// commonKey returns the one key every micro-operation of ops touches, ""
// when they touch none or several.
func commonKey(h *loadedHistory, ops []int64) string {
	key := ""
	for _, idx := range ops {
		full := h.completion(idx)
		if full == nil {
			return ""
		}
		for _, m := range mopsOf(full) {
			keys := []string{m.Key}
			if m.F == history.FPoll {
				keys = sortedKeys(m.Polls)
			}
			for _, k := range keys {
				switch {
				case k == "":
				case key == "":
					key = k
				case k != key:
					return ""
				}
			}
		}
	}
	return key
}

// caseFocus gathers what a case names on its key: its offsets, its values,
// and the offsets where the history saw those values. A case that names
// neither gets the offsets its own operations wrote on the key.
func caseFocus(ex *Example, h *loadedHistory) focus {
	fc := focus{key: ex.Key, offsets: map[int64]bool{}, values: map[int64]bool{}}
	for _, o := range ex.Offsets {
		fc.offsets[o] = true
	}
	for _, v := range ex.Values {
		fc.values[v] = true
	}
	ko := h.keyObs[ex.Key]
	if ko == nil {
		return fc
	}
	if len(fc.values) > 0 {
		for _, obs := range [][]keyObs{ko.acks, ko.reads} {
			for _, o := range obs {
				if fc.values[o.value] {
					fc.offsets[o.offset] = true
				}
			}
		}
	}
	if len(fc.offsets) == 0 {
		ops := map[int64]bool{}
		for _, idx := range ex.Ops {
			ops[idx] = true
			if p := h.pos(idx); p >= 0 && h.events[p].pair >= 0 {
				ops[h.events[p].pair] = true
			}
		}
		for _, o := range ko.acks {
			if ops[o.idx] {
				fc.offsets[o.offset] = true
			}
		}
		// A read names where it started and ended, not every record.
		first, last := map[int64]int64{}, map[int64]int64{}
		for _, o := range ko.reads {
			if !ops[o.idx] {
				continue
			}
			if f, ok := first[o.idx]; !ok || o.offset < f {
				first[o.idx] = o.offset
			}
			if l, ok := last[o.idx]; !ok || o.offset > l {
				last[o.idx] = o.offset
			}
		}
		for idx := range first {
			fc.offsets[first[idx]] = true
			fc.offsets[last[idx]] = true
		}
	}
	return fc
}

// span returns when the operation idx names (its invocation or its
// completion) was invoked and completed; an operation that never
// completed lasts until the history's end.
func (h *loadedHistory) span(idx int64) (inv, done int64, ok bool) {
	p := h.pos(idx)
	if p < 0 {
		return 0, 0, false
	}
	e := &h.events[p]
	if e.typ == evInvoke {
		if q := h.pos(e.pair); e.pair >= 0 && q >= 0 {
			return e.t, h.events[q].t, true
		}
		return e.t, h.end, true
	}
	if q := h.pos(e.pair); e.pair >= 0 && q >= 0 {
		return h.events[q].t, e.t, true
	}
	return e.t, e.t, true
}

func overlaps(w NemesisWindow, lo, hi int64) bool {
	return int64(w.Start) <= hi && int64(w.End) >= lo
}

// faultsBetween lists the windows in effect at some point in [lo, hi];
// during, if not nil, names the operations each overlaps.
func faultsBetween(wins []NemesisWindow, lo, hi int64, during func(NemesisWindow) []int64) []storyFault {
	var out []storyFault
	for _, w := range wins {
		if !overlaps(w, lo, hi) {
			continue
		}
		f := storyFault{Label: w.Label, Color: w.Color, From: fmtSeconds(int64(w.Start)), To: fmtSeconds(int64(w.End)), Instant: w.Instant, Open: w.Open}
		if during != nil {
			f.During = during(w)
		}
		out = append(out, f)
	}
	return out
}

// storyStepOf tells operation idx in one sentence.
func storyStepOf(h *loadedHistory, idx int64, fc focus) storyStep {
	s := storyStep{Index: idx}
	p := h.pos(idx)
	if p < 0 {
		return s
	}
	s.Found = true
	e := &h.events[p]
	inv, done, _ := h.span(idx)
	comp := e
	if e.typ == evInvoke {
		if q := h.pos(e.pair); e.pair >= 0 && q >= 0 {
			comp = &h.events[q]
		}
	}
	s.F, s.Process = h.fname(e.f), "nemesis"
	if e.proc >= 0 {
		s.Process = fmt.Sprintf("process %d", e.proc)
	}
	s.Complete = comp.typ != evInvoke
	s.Type = "never completed"
	if s.Complete {
		s.Type = typeNames[comp.typ]
	}
	s.Node = h.nodeName(comp)
	s.Invoked, s.Done = fmtSeconds(inv), fmtSeconds(done)
	s.Latency = fmtMs(float64(done-inv) / 1e6)
	s.Error = h.errText(comp)
	var mops []history.Mop
	if full := h.completion(idx); full != nil {
		mops = mopsOf(full)
		if _, ok := full.Nodes[fc.key]; ok {
			// A poll served by several nodes: name the ones that served
			// the case's key.
			s.Node = keyNode(full, fc.key)
		}
	}
	if len(mops) > 0 {
		s.Value = foldMops(mops, fc)
	} else {
		s.Value = template.HTML(template.HTMLEscapeString(h.value(comp)))
	}
	s.Sentence = sentence(s, mops, fc)
	return s
}

// sentence says what an operation did, from its micro-operations when it
// has them: "process 4 sent 24 to t0/1, acknowledged at offset 20, by n2".
func sentence(s storyStep, mops []history.Mop, fc focus) template.HTML {
	var parts []string
	for _, m := range mops {
		if d := describeMop(m, s, fc); d != "" {
			parts = append(parts, d)
		}
		if len(parts) == 3 && len(mops) > 3 {
			parts = append(parts, fmt.Sprintf("and %d more micro-operations", len(mops)-3))
			break
		}
	}
	what := strings.Join(parts, "; ")
	if what == "" {
		what = template.HTMLEscapeString(s.F)
	}
	var b strings.Builder
	b.WriteString(template.HTMLEscapeString(s.Process))
	b.WriteByte(' ')
	b.WriteString(what)
	switch s.Type {
	case "ok":
	case "fail":
		b.WriteString(": <b>failed</b> (it did not happen)")
	case "info":
		b.WriteString(": <b>outcome unknown</b> (it may have happened, at any time up to the end)")
	default:
		b.WriteString(": <b>never completed</b>")
	}
	if s.Node != "" {
		fmt.Fprintf(&b, ", answered by <b>%s</b>", template.HTMLEscapeString(s.Node))
	}
	return template.HTML(b.String())
}

func describeMop(m history.Mop, s storyStep, fc focus) string {
	key := template.HTMLEscapeString(m.Key)
	switch m.F {
	case history.FSend:
		v := markValue(m.Value, fc, m.Key)
		switch {
		case s.Type == "ok" && m.Offset != nil:
			return fmt.Sprintf("sent %s to %s, acknowledged at offset %s", v, key, markOffset(*m.Offset, fc, m.Key))
		case s.Type == "ok":
			return fmt.Sprintf("sent %s to %s, acknowledged without an offset", v, key)
		default:
			return fmt.Sprintf("sent %s to %s", v, key)
		}
	case history.FPoll:
		if !m.Done {
			return "polled"
		}
		keys := sortedKeys(m.Polls)
		if fc.key != "" {
			if _, ok := m.Polls[fc.key]; ok {
				keys = []string{fc.key}
			} else {
				return fmt.Sprintf("polled and got nothing from %s", template.HTMLEscapeString(fc.key))
			}
		}
		var ds []string
		for i, k := range keys {
			if i == 3 {
				ds = append(ds, fmt.Sprintf("and %d more keys", len(keys)-i))
				break
			}
			ds = append(ds, "polled "+describeRecords(k, m.Polls[k], fc))
		}
		if len(ds) == 0 {
			return "polled and got nothing"
		}
		return strings.Join(ds, "; ")
	case history.FRead:
		if !m.Done {
			return fmt.Sprintf("read %s from offset %d", key, m.From)
		}
		return fmt.Sprintf("read %s from offset %d (high watermark %d)", describeRecords(m.Key, m.Records, fc), m.From, m.HW)
	}
	return template.HTMLEscapeString(m.F)
}

// describeRecords says what a poll or read returned of key: how many
// records, which offsets, and where the values the case names were.
func describeRecords(key string, rs []history.Record, fc focus) string {
	k := template.HTMLEscapeString(key)
	if len(rs) == 0 {
		return "nothing of " + k
	}
	d := fmt.Sprintf("%d record", len(rs))
	if len(rs) > 1 {
		d += "s"
	}
	d = fmt.Sprintf("%s of %s at offsets %d–%d", d, k, rs[0].Offset, rs[len(rs)-1].Offset)
	if len(rs) == 1 {
		d = fmt.Sprintf("1 record of %s at offset %d", k, rs[0].Offset)
	}
	var named []string
	for _, r := range rs {
		if key == fc.key && fc.values[r.Value] {
			named = append(named, fmt.Sprintf("%s at offset %s", markValue(r.Value, fc, key), markOffset(r.Offset, fc, key)))
		}
	}
	if len(named) > 4 {
		named = append(named[:4], fmt.Sprintf("%d more", len(named)-4))
	}
	if len(named) > 0 {
		d += ", among them " + strings.Join(named, ", ")
	}
	return d
}

// excerptOf builds the log excerpt of fc.key around fc's offsets.
func excerptOf(h *loadedHistory, fc focus) *logExcerpt {
	ko := h.keyObs[fc.key]
	lx := &logExcerpt{Key: fc.key}
	if ko == nil {
		lx.Note = "This key's log is not in the report (more keys are named by anomalies than get an offset view)."
		return lx
	}
	if len(ko.acks)+len(ko.reads) == 0 {
		lx.Note = "No operation in the history acknowledged or read this key."
		return lx
	}
	named := make([]int64, 0, len(fc.offsets))
	for o := range fc.offsets {
		named = append(named, o)
	}
	sort.Slice(named, func(i, j int) bool { return named[i] < named[j] })
	if len(named) > maxNamedOffs {
		lx.Note = fmt.Sprintf("The case names %d offsets; the first %d are shown.", len(named), maxNamedOffs)
		named = named[:maxNamedOffs]
	}
	lo, hi := int64(-1), int64(-1)
	for _, obs := range [][]keyObs{ko.acks, ko.reads} {
		for _, o := range obs {
			if lo < 0 || o.offset < lo {
				lo = o.offset
			}
			hi = max(hi, o.offset)
		}
	}
	want := map[int64]bool{}
	for _, o := range named {
		for d := int64(-excerptContext); d <= excerptContext; d++ {
			if o+d >= lo && o+d <= hi || d == 0 {
				want[o+d] = true
			}
		}
	}
	offs := make([]int64, 0, len(want))
	for o := range want {
		offs = append(offs, o)
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	if len(offs) > maxExcerptRows {
		offs = offs[:maxExcerptRows]
	}
	type cell struct {
		trails map[int64]*valueTrail
		order  []int64
	}
	cells := map[int64]*cell{}
	for _, o := range offs {
		cells[o] = &cell{trails: map[int64]*valueTrail{}}
	}
	trail := func(o keyObs) *valueTrail {
		c := cells[o.offset]
		if c == nil {
			return nil
		}
		t := c.trails[o.value]
		if t == nil {
			t = &valueTrail{Value: o.value, Named: fc.values[o.value]}
			c.trails[o.value] = t
			c.order = append(c.order, o.value)
		}
		return t
	}
	ref := func(o keyObs) obsRef {
		r := obsRef{Op: o.idx, Time: fmtSeconds(o.t)}
		if p := h.pos(o.idx); p >= 0 {
			r.Node = h.nodeName(&h.events[p])
		}
		return r
	}
	seen := map[int64]bool{}
	for _, o := range ko.acks {
		seen[o.value] = true
		if t := trail(o); t != nil {
			t.Acked = append(t.Acked, ref(o))
		}
	}
	for _, o := range ko.reads {
		seen[o.value] = true
		if t := trail(o); t != nil {
			if len(t.Read) < maxReadersShow {
				t.Read = append(t.Read, ref(o))
			} else {
				t.MoreReads++
			}
		}
	}
	prev := int64(-1)
	for i, o := range offs {
		if i > 0 && o > prev+1 {
			lx.Rows = append(lx.Rows, logRow{Skip: o - prev - 1})
		}
		prev = o
		c := cells[o]
		row := logRow{Offset: o, Named: fc.offsets[o], Conflict: len(c.order) > 1}
		sort.Slice(c.order, func(i, j int) bool { return c.order[i] < c.order[j] })
		for _, v := range c.order {
			row.Values = append(row.Values, *c.trails[v])
		}
		row.Hole = len(row.Values) == 0 && o > lo && o < hi
		lx.Rows = append(lx.Rows, row)
	}
	for v := range fc.values {
		if !seen[v] {
			lx.Unplaced = append(lx.Unplaced, v)
		}
	}
	sort.Slice(lx.Unplaced, func(i, j int) bool { return lx.Unplaced[i] < lx.Unplaced[j] })
	return lx
}
