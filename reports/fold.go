package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// Values are folded, never cut: a poll can return thousands of records, and
// a value cut after 240 bytes ends mid-array, so the records that matter
// (and the shape of the rest) are lost. Folding keeps the first elements
// of every long array and its last one, and says how many it left out
// ("… 120 more"), so what is shown is always the start and end of the
// value with a count of what lies between.

// appendFolded appends raw (one JSON value) folded to about limit bytes:
// arrays keep fewer and fewer leading elements until the text fits. A
// value that does not parse is cut like an error text.
func appendFolded(text, raw []byte, limit int) []byte {
	v, ok := decodeNumbers(raw)
	if !ok {
		return appendCapped(text, raw)
	}
	var b []byte
	for _, keep := range []int{8, 4, 2, 1} {
		b = foldJSON(b[:0], v, keep)
		if len(b) <= limit {
			break
		}
	}
	if len(b) > 4*limit {
		// An object of thousands of keys or one huge string: nothing
		// structural is left to fold, so cut at a character boundary.
		cut := 4 * limit
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		b = append(b[:cut], "…"...)
	}
	return append(text, b...)
}

func decodeNumbers(raw []byte) (any, bool) {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return nil, false
	}
	return v, true
}

// foldJSON writes v as JSON in which every array longer than keep+2
// elements shows its first keep elements, "… N more" and its last one, and
// every object of more than keep+2 keys its first keep keys (sorted) and
// "… N more keys".
func foldJSON(b []byte, v any, keep int) []byte {
	switch x := v.(type) {
	case []any:
		b = append(b, '[')
		for i, e := range x {
			// Fold only when it leaves out two or more: "… 1 more" would
			// take the room of the element itself.
			if len(x) > keep+2 && i == keep {
				b = fmt.Appendf(b, "… %d more,", len(x)-keep-1)
				b = foldJSON(b, x[len(x)-1], keep)
				break
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = foldJSON(b, e, keep)
		}
		return append(b, ']')
	case map[string]any:
		b = append(b, '{')
		ks := sortedKeys(x)
		for i, k := range ks {
			if len(ks) > keep+2 && i == keep {
				b = fmt.Appendf(b, ",… %d more keys", len(ks)-keep)
				break
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, k)
			b = append(b, ':')
			b = foldJSON(b, x[k], keep)
		}
		return append(b, '}')
	case string:
		q, _ := json.Marshal(x)
		return append(b, q...)
	case json.Number:
		return append(b, x...)
	case bool:
		return strconv.AppendBool(b, x)
	case nil:
		return append(b, "null"...)
	default:
		return fmt.Append(b, x)
	}
}

// focus is what an anomaly case names: its key, offsets and values. Folded
// values keep the records around them and mark them.
type focus struct {
	key     string
	offsets map[int64]bool
	values  map[int64]bool
}

// names reports whether the case names r's offset or value.
func (fc focus) names(r history.Record) bool {
	return fc.values[r.Value] || fc.offsets[r.Offset]
}

// foldContext is how many records around a focused one a folded poll keeps.
const foldContext = 2

// maxMopsShown bounds the micro-operations of one operation shown in full.
const maxMopsShown = 8

// foldMops renders micro-operations as the history writes them, folded
// around fc: the records of fc.key near its offsets and values are kept
// (the values fc names marked), the other records of that key and every
// record of other keys are counted, not listed.
func foldMops(mops []history.Mop, fc focus) template.HTML {
	var b strings.Builder
	b.WriteByte('[')
	shown := 0
	for i, m := range mops {
		relevant := m.Key == fc.key || m.F == history.FPoll && m.Polls[fc.key] != nil || fc.values[m.Value] && m.F == history.FSend
		if shown >= maxMopsShown && !relevant {
			continue
		}
		if i > 0 {
			b.WriteByte(',')
		}
		shown++
		writeMop(&b, m, fc)
	}
	if n := len(mops) - shown; n > 0 {
		fmt.Fprintf(&b, `,<span class="fold">… %d more</span>`, n)
	}
	b.WriteByte(']')
	return template.HTML(b.String())
}

func writeMop(b *strings.Builder, m history.Mop, fc focus) {
	key := template.HTMLEscapeString(strconv.Quote(m.Key))
	switch m.F {
	case history.FSend:
		if !m.Done {
			fmt.Fprintf(b, `["send",%s,%s]`, key, markValue(m.Value, fc, m.Key))
			return
		}
		off := "null"
		if m.Offset != nil {
			off = markOffset(*m.Offset, fc, m.Key)
		}
		fmt.Fprintf(b, `["send",%s,[%s,%s]]`, key, off, markValue(m.Value, fc, m.Key))
	case history.FPoll:
		if !m.Done {
			b.WriteString(`["poll"]`)
			return
		}
		b.WriteString(`["poll",{`)
		for i, k := range sortedKeys(m.Polls) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(template.HTMLEscapeString(strconv.Quote(k)))
			b.WriteByte(':')
			writeRecords(b, k, m.Polls[k], fc)
		}
		b.WriteString(`}]`)
	case history.FRead:
		if !m.Done {
			fmt.Fprintf(b, `["read",%s,%d]`, key, m.From)
			return
		}
		fmt.Fprintf(b, `["read",%s,[%d,`, key, m.From)
		writeRecords(b, m.Key, m.Records, fc)
		fmt.Fprintf(b, `,%d]]`, m.HW)
	default:
		fmt.Fprintf(b, `[%s]`, template.HTMLEscapeString(strconv.Quote(m.F)))
	}
}

// writeRecords writes a key's records: all of them when there are few;
// else, on the focused key, the ones near what the case names with
// "… N more" for each stretch left out, and on other keys a count with
// the offsets they span.
func writeRecords(b *strings.Builder, key string, rs []history.Record, fc focus) {
	const few = 6
	if len(rs) <= few {
		b.WriteByte('[')
		for i, r := range rs {
			if i > 0 {
				b.WriteByte(',')
			}
			writeRecord(b, key, r, fc)
		}
		b.WriteByte(']')
		return
	}
	if key != fc.key {
		// The first and last record say where the poll was; the count
		// says how much lies between.
		b.WriteByte('[')
		writeRecord(b, key, rs[0], fc)
		fmt.Fprintf(b, `,<span class="fold">… %d more</span>,`, len(rs)-2)
		writeRecord(b, key, rs[len(rs)-1], fc)
		b.WriteByte(']')
		return
	}
	keep := make([]bool, len(rs))
	keep[0], keep[len(rs)-1] = true, true
	for i, r := range rs {
		if fc.names(r) {
			for j := max(0, i-foldContext); j <= min(len(rs)-1, i+foldContext); j++ {
				keep[j] = true
			}
		}
	}
	b.WriteByte('[')
	skipped := 0
	first := true
	flush := func() {
		if skipped == 0 {
			return
		}
		if !first {
			b.WriteByte(',')
		}
		fmt.Fprintf(b, `<span class="fold">… %d more</span>`, skipped)
		skipped, first = 0, false
	}
	// A stretch of one left-out record is shown rather than folded.
	for i := 1; i+1 < len(rs); i++ {
		if !keep[i] && keep[i-1] && keep[i+1] {
			keep[i] = true
		}
	}
	for i, r := range rs {
		if !keep[i] {
			skipped++
			continue
		}
		flush()
		if !first {
			b.WriteByte(',')
		}
		writeRecord(b, key, r, fc)
		first = false
	}
	flush()
	b.WriteByte(']')
}

func writeRecord(b *strings.Builder, key string, r history.Record, fc focus) {
	fmt.Fprintf(b, "[%s,%s]", markOffset(r.Offset, fc, key), markValue(r.Value, fc, key))
}

func markValue(v int64, fc focus, key string) string {
	s := strconv.FormatInt(v, 10)
	if fc.values[v] && (fc.key == "" || key == fc.key) {
		return "<mark>" + s + "</mark>"
	}
	return s
}

func markOffset(o int64, fc focus, key string) string {
	s := strconv.FormatInt(o, 10)
	if fc.offsets[o] && key == fc.key {
		return `<b class="focus">` + s + "</b>"
	}
	return s
}

// foldedText is a value's JSON text folded for a table cell, HTML-escaped.
func foldedText(raw []byte, limit int) template.HTML {
	if len(raw) <= limit {
		return template.HTML(template.HTMLEscapeString(string(raw)))
	}
	return template.HTML(template.HTMLEscapeString(string(appendFolded(nil, raw, limit))))
}

// mopsOf returns the micro-operations worth showing for completion e: its
// own, or its invocation's when a failed or indefinite completion carries
// none.
func mopsOf(e *history.Entry) []history.Mop {
	if len(e.Mops) > 0 {
		return e.Mops
	}
	return slices.Clip(e.InvokeMops)
}
