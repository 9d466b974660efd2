package reports

import (
	"encoding/json"
	"fmt"
	"html/template"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Fields of results.json and test.json that the report has no view of its
// own for (a checker's statistics, a section added after this report was
// written, options of the configuration) are rendered for reading, never
// as JSON: names lose their underscores and gain the unit their suffix
// states (latency_ms is "latency (ms)"), scalars become definition lists,
// an object of objects a table, a list of objects a table, long lists are
// folded with a count. The raw file stays one click away (results.json is
// linked under Files) for machines.

// fieldHTML renders field name with value v.
func fieldHTML(name string, v any) template.HTML {
	var b strings.Builder
	writeValue(&b, name, v, 0)
	return template.HTML(b.String())
}

// fieldName renders a field's name for a heading: underscores become
// spaces and a unit suffix moves into parentheses.
func fieldName(name string) string {
	base, u := unitOf(name)
	base = strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(base, "_", " "), "-", " "))
	if base == "" {
		base = name
	}
	if u.label != "" {
		return base + " (" + u.label + ")"
	}
	return base
}

// unit is what a name's suffix says about its numbers.
type unit struct {
	label string
	scale float64 // multiply the stored number by it for the label's unit
	bytes bool
}

// unitSuffixes map name suffixes to units, longest first.
var unitSuffixes = []struct {
	suffix string
	u      unit
}{
	{"_seconds", unit{label: "s", scale: 1}},
	{"_bytes", unit{label: "bytes", scale: 1, bytes: true}},
	{"_pct", unit{label: "%", scale: 1}},
	{"_percent", unit{label: "%", scale: 1}},
	{"_ms", unit{label: "ms", scale: 1}},
	{"_ns", unit{label: "s", scale: 1e-9}},
	{"_us", unit{label: "ms", scale: 1e-3}},
	{"_s", unit{label: "s", scale: 1}},
}

// unitOf splits a unit suffix off name; whole names that are a unit
// ("seconds", "bytes") are units too.
func unitOf(name string) (string, unit) {
	switch name {
	case "seconds":
		return name, unit{label: "s", scale: 1}
	case "bytes":
		return name, unit{label: "bytes", scale: 1, bytes: true}
	}
	for _, s := range unitSuffixes {
		if b, ok := strings.CutSuffix(name, s.suffix); ok && b != "" {
			return b, s.u
		}
	}
	return name, unit{}
}

// Bounds that keep generic sections short.
const (
	maxInlineScalars = 40
	maxInlinePairs   = 6
	maxDefinitions   = 60
	maxTableRows     = 100
	foldRowsAbove    = 20
	maxFieldDepth    = 4
)

// writeValue renders v under field name key at nesting depth.
func writeValue(b *strings.Builder, key string, v any, depth int) {
	if key == "ops" && writeOpLinks(b, v) {
		return
	}
	_, u := unitOf(key)
	switch x := v.(type) {
	case nil:
		b.WriteString(`<span class="muted">none</span>`)
	case []any:
		writeList(b, key, x, depth)
	case map[string]any:
		writeObject(b, x, u, depth)
	case string:
		if localFile.MatchString(x) {
			// A checker may name a file it wrote next to results.json.
			fmt.Fprintf(b, `<a href="%s">%s</a>`, template.HTMLEscapeString(x), template.HTMLEscapeString(x))
			return
		}
		b.WriteString(template.HTMLEscapeString(x))
	default:
		b.WriteString(template.HTMLEscapeString(scalarWithUnit(x, u, true)))
	}
}

// writeOpLinks renders history indices as links into the history view.
// Every checker names history indices "ops".
func writeOpLinks(b *strings.Builder, v any) bool {
	var ns []int64
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			return false
		}
		ns = []int64{n}
	case []any:
		for _, e := range x {
			num, ok := e.(json.Number)
			if !ok {
				return false
			}
			n, err := num.Int64()
			if err != nil {
				return false
			}
			ns = append(ns, n)
		}
	default:
		return false
	}
	if len(ns) == 0 {
		b.WriteString(`<span class="muted">none</span>`)
	}
	for i, n := range ns {
		if i == maxInlineScalars {
			fmt.Fprintf(b, ` <span class="fold">… %d more</span>`, len(ns)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, `<a href="#op-%d">#%d</a>`, n, n)
	}
	return true
}

// scalarWithUnit renders a scalar; withLabel appends the unit (tables put
// it in their header instead).
func scalarWithUnit(v any, u unit, withLabel bool) string {
	switch x := v.(type) {
	case nil:
		return "none"
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case json.Number:
		if u.label == "" {
			return fmtNumber(x)
		}
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		if u.bytes {
			return humanBytes(int64(f))
		}
		s := fmtNum(f * u.scale)
		if withLabel {
			s += " " + u.label
		}
		return s
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}

func writeList(b *strings.Builder, key string, xs []any, depth int) {
	_, u := unitOf(key)
	if len(xs) == 0 {
		b.WriteString(`<span class="muted">none</span>`)
		return
	}
	if isScalarList(xs) {
		for i, e := range xs {
			if i == maxInlineScalars {
				fmt.Fprintf(b, ` <span class="fold">… %d more (in results.json)</span>`, len(xs)-i)
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(template.HTMLEscapeString(scalarWithUnit(e, u, true)))
		}
		return
	}
	if cols, ok := tableColumns(xs); ok {
		if len(xs) > foldRowsAbove {
			fmt.Fprintf(b, `<details><summary>%d rows</summary>`, len(xs))
			writeRows(b, xs, cols)
			b.WriteString(`</details>`)
			return
		}
		writeRows(b, xs, cols)
		return
	}
	if depth >= maxFieldDepth {
		fmt.Fprintf(b, `<span class="muted">%d entries (in results.json)</span>`, len(xs))
		return
	}
	b.WriteString(`<ol class="fields">`)
	for i, e := range xs {
		if i == foldRowsAbove {
			fmt.Fprintf(b, `<li class="fold">… %d more (in results.json)</li>`, len(xs)-i)
			break
		}
		b.WriteString(`<li>`)
		writeValue(b, key, e, depth+1)
		b.WriteString(`</li>`)
	}
	b.WriteString(`</ol>`)
}

// writeObject renders an object; parent is the unit of the field holding
// it, which applies to inner fields that state none ({"lag_ms": {"n1":
// 1.5}} is 1.5 ms on n1).
func writeObject(b *strings.Builder, m map[string]any, parent unit, depth int) {
	if len(m) == 0 {
		b.WriteString(`<span class="muted">none</span>`)
		return
	}
	keys := sortedKeys(m)
	if isScalarMap(m) {
		switch {
		case len(m) <= maxInlinePairs && depth > 0:
			// {"start_s": 1.2, "end_s": 3.4} reads best on one line.
			for i, k := range keys {
				if i > 0 {
					b.WriteString(` <span class="muted">·</span> `)
				}
				base, u := unitOf(k)
				if u.label == "" {
					u = parent
				}
				fmt.Fprintf(b, `<span class="muted">%s</span> %s`, template.HTMLEscapeString(fieldName(base)), template.HTMLEscapeString(scalarWithUnit(m[k], u, true)))
			}
			return
		case allNumbers(m) && len(m) > maxInlinePairs:
			// Counts by name (error messages, events): most first.
			writeCounts(b, m, parent)
			return
		}
	}
	if cols, ok := objectTable(m); ok {
		writeObjectTable(b, m, keys, cols)
		return
	}
	if depth >= maxFieldDepth {
		fmt.Fprintf(b, `<span class="muted">%d fields (in results.json)</span>`, len(m))
		return
	}
	b.WriteString(`<dl class="fields">`)
	for i, k := range keys {
		if i == maxDefinitions {
			fmt.Fprintf(b, `<dt class="fold">… %d more fields (in results.json)</dt><dd></dd>`, len(keys)-i)
			break
		}
		fmt.Fprintf(b, `<dt>%s</dt><dd>`, template.HTMLEscapeString(fieldName(k)))
		if _, own := unitOf(k); own.label == "" && parent.label != "" && isScalar(m[k]) {
			b.WriteString(template.HTMLEscapeString(scalarWithUnit(m[k], parent, true)))
		} else {
			writeValue(b, k, m[k], depth+1)
		}
		b.WriteString(`</dd>`)
	}
	b.WriteString(`</dl>`)
}

func allNumbers(m map[string]any) bool {
	for _, v := range m {
		if _, ok := v.(json.Number); !ok {
			return false
		}
	}
	return true
}

// writeCounts renders {name: number} as a two-column table, largest first.
func writeCounts(b *strings.Builder, m map[string]any, u unit) {
	type kv struct {
		k string
		v float64
		s string
	}
	var rows []kv
	for k, v := range m {
		n := v.(json.Number)
		f, _ := n.Float64()
		rows = append(rows, kv{k, f, scalarWithUnit(n, u, true)})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].v != rows[j].v {
			return rows[i].v > rows[j].v
		}
		return rows[i].k < rows[j].k
	})
	b.WriteString(`<table class="grid small counts"><tbody>`)
	for i, r := range rows {
		if i == maxTableRows {
			fmt.Fprintf(b, `<tr><td class="fold" colspan="2">… %d more (in results.json)</td></tr>`, len(rows)-i)
			break
		}
		fmt.Fprintf(b, `<tr><td>%s</td><td class="num">%s</td></tr>`, template.HTMLEscapeString(r.k), template.HTMLEscapeString(r.s))
	}
	b.WriteString(`</tbody></table>`)
}

// objectTable returns the columns of an object whose values are all
// objects of scalars ({"send": {"p50_ms": 1, ...}, "poll": {...}}), so it
// renders as a table with a row per key.
func objectTable(m map[string]any) ([]string, bool) {
	seen := map[string]bool{}
	var cols []string
	for _, v := range m {
		inner, ok := v.(map[string]any)
		if !ok || !isScalarMap(inner) || len(inner) == 0 {
			return nil, false
		}
		for k := range inner {
			if !seen[k] {
				seen[k] = true
				cols = append(cols, k)
			}
		}
	}
	sort.Strings(cols)
	return cols, len(cols) > 0 && len(cols) <= 12
}

func writeObjectTable(b *strings.Builder, m map[string]any, keys, cols []string) {
	b.WriteString(`<table class="grid small num"><thead><tr><th></th>`)
	for _, c := range cols {
		fmt.Fprintf(b, `<th>%s</th>`, template.HTMLEscapeString(fieldName(c)))
	}
	b.WriteString(`</tr></thead><tbody>`)
	for i, k := range keys {
		if i == maxTableRows {
			fmt.Fprintf(b, `<tr><td class="fold" colspan="%d">… %d more rows (in results.json)</td></tr>`, len(cols)+1, len(keys)-i)
			break
		}
		fmt.Fprintf(b, `<tr><th>%s</th>`, template.HTMLEscapeString(k))
		inner := m[k].(map[string]any)
		for _, c := range cols {
			b.WriteString(`<td>`)
			if v, ok := inner[c]; ok {
				_, u := unitOf(c)
				b.WriteString(template.HTMLEscapeString(scalarWithUnit(v, u, false)))
			}
			b.WriteString(`</td>`)
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</tbody></table>`)
}

// writeRows renders a list of flat objects as a table.
func writeRows(b *strings.Builder, xs []any, cols []string) {
	b.WriteString(`<table class="grid small"><thead><tr>`)
	for _, c := range cols {
		fmt.Fprintf(b, `<th>%s</th>`, template.HTMLEscapeString(fieldName(c)))
	}
	b.WriteString(`</tr></thead><tbody>`)
	for i, e := range xs {
		if i == maxTableRows {
			fmt.Fprintf(b, `<tr><td class="fold" colspan="%d">… %d more rows (in results.json)</td></tr>`, len(cols), len(xs)-i)
			break
		}
		m := e.(map[string]any)
		b.WriteString(`<tr>`)
		for _, c := range cols {
			b.WriteString(`<td>`)
			if v, ok := m[c]; ok {
				if c == "ops" && writeOpLinks(b, v) {
					b.WriteString(`</td>`)
					continue
				}
				_, u := unitOf(c)
				if l, ok := v.([]any); ok {
					parts := make([]string, len(l))
					for i, x := range l {
						parts[i] = template.HTMLEscapeString(scalarWithUnit(x, u, false))
					}
					b.WriteString(strings.Join(parts, ", "))
				} else {
					b.WriteString(template.HTMLEscapeString(scalarWithUnit(v, u, false)))
				}
			}
			b.WriteString(`</td>`)
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</tbody></table>`)
}

var localFile = regexp.MustCompile(`^[A-Za-z0-9._-]+\.(html|json|jsonl|log|txt|svg)$`)

func isScalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

func isScalarList(xs []any) bool {
	for _, e := range xs {
		if !isScalar(e) {
			return false
		}
	}
	return true
}

func isScalarMap(m map[string]any) bool {
	for _, e := range m {
		if !isScalar(e) {
			return false
		}
	}
	return true
}

// fmtNumber shortens floats such as 3.4394270000000002 to 3.43943.
func fmtNumber(n json.Number) string {
	if _, err := n.Int64(); err == nil {
		return n.String()
	}
	f, err := n.Float64()
	if err != nil {
		return n.String()
	}
	return strconv.FormatFloat(f, 'g', 6, 64)
}

// tableColumns returns the union of the keys of a list of objects whose
// values are scalars or lists of scalars, so the list renders as a table.
func tableColumns(xs []any) ([]string, bool) {
	seen := map[string]bool{}
	var cols []string
	for _, e := range xs {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		for k, v := range m {
			if l, ok := v.([]any); ok && !isScalarList(l) || !ok && !isScalar(v) {
				return nil, false
			}
			if !seen[k] {
				seen[k] = true
				cols = append(cols, k)
			}
		}
	}
	sort.Strings(cols)
	return cols, len(cols) > 0
}
