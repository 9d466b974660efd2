package reports

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*
var templateFS embed.FS

var (
	runTemplate   = mustTemplate("run.html.tmpl")
	indexTemplate = mustTemplate("index.html.tmpl")
)

// mustTemplate parses an embedded template; a parse error is a programmer
// error caught by every test, so it panics.
func mustTemplate(name string) *template.Template {
	t := template.New(name).Funcs(funcs)
	t = template.Must(t.ParseFS(templateFS, "templates/"+name, "templates/common.tmpl"))
	return t
}

func embedded(name string) string {
	b, err := templateFS.ReadFile("templates/" + name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var funcs = template.FuncMap{
	"css":         func() template.CSS { return template.CSS(embedded("style.css")) },
	"reportJS":    func() template.JS { return template.JS(embedded("report.js")) },
	"verdictText": verdictText,
	"seconds": func(d time.Duration) string {
		return fmt.Sprintf("%.1f s", d.Seconds())
	},
	"field":     fieldHTML,
	"join":      strings.Join,
	"inc":       func(i int) int { return i + 1 },
	"rfc":       func(t time.Time) string { return t.Format("2006-01-02 15:04:05 UTC") },
	"jsonJS":    func(v any) (template.JS, error) { b, err := json.Marshal(v); return template.JS(b), err },
	"anchorFor": keyAnchor,
	// historyTime renders a case's or log line's time (ns since the test
	// started, nil when it has none) as the history view does.
	"historyTime": func(ns *int64) string {
		if ns == nil {
			return ""
		}
		return fmtSeconds(*ns)
	},
}

func verdictText(v Verdict) string {
	switch v {
	case Valid:
		return "VALID"
	case Invalid:
		return "INVALID"
	default:
		return "UNKNOWN"
	}
}

// fieldHTML renders an arbitrary JSON value from results.json or
// test.json: scalars as text, flat objects as small tables, lists of
// scalars inline, anything deeper as indented JSON.
func fieldHTML(name string, v any) template.HTML {
	var b strings.Builder
	writeKeyed(&b, name, v, 0)
	return template.HTML(b.String())
}

// writeKeyed renders v under field name key: operation indices become
// links into the history view. Every checker names history indices "ops"
// (verdict.Case, the stats checker's fault windows).
func writeKeyed(b *strings.Builder, key string, v any, depth int) {
	if key == "ops" {
		var ns []json.Number
		switch x := v.(type) {
		case json.Number:
			ns = []json.Number{x}
		case []any:
			for _, e := range x {
				n, ok := e.(json.Number)
				if !ok {
					ns = nil
					break
				}
				ns = append(ns, n)
			}
		}
		if len(ns) > 0 {
			for i, n := range ns {
				if _, err := n.Int64(); err != nil {
					break
				}
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(b, `<a href="#op-%s">#%s</a>`, n.String(), n.String())
			}
			return
		}
	}
	writeField(b, v, depth)
}

func writeField(b *strings.Builder, v any, depth int) {
	switch x := v.(type) {
	case nil:
		b.WriteString(`<span class="muted">null</span>`)
	case string:
		// A checker may name a file it wrote next to results.json.
		if localFile.MatchString(x) {
			fmt.Fprintf(b, `<a href="%s">%s</a>`, template.HTMLEscapeString(x), template.HTMLEscapeString(x))
			return
		}
		b.WriteString(template.HTMLEscapeString(x))
	case json.Number:
		b.WriteString(template.HTMLEscapeString(fmtNumber(x)))
	case bool, float64, int, int64:
		b.WriteString(template.HTMLEscapeString(fmt.Sprint(x)))
	case []any:
		if isScalarList(x) && len(x) <= 40 {
			parts := make([]string, len(x))
			for i, e := range x {
				parts[i] = template.HTMLEscapeString(scalarText(e))
			}
			b.WriteString(strings.Join(parts, ", "))
			if len(x) == 0 {
				b.WriteString(`<span class="muted">none</span>`)
			}
			return
		}
		if len(x) > 20 {
			// Long series (throughput buckets, say) are for machines; the
			// plots show them. Keep the page short.
			fmt.Fprintf(b, `<details><summary>%d entries</summary>`, len(x))
			writePre(b, x)
			b.WriteString(`</details>`)
			return
		}
		if cols, ok := tableColumns(x); ok {
			writeTable(b, x, cols)
			return
		}
		writePre(b, x)
	case map[string]any:
		if isScalarMap(x) && len(x) <= 8 && depth > 0 {
			// {"start_s": 1.2, "end_s": 3.4} reads best on one line.
			keys := sortedKeys(x)
			for i, k := range keys {
				if i > 0 {
					b.WriteString(` <span class="muted">·</span> `)
				}
				fmt.Fprintf(b, `<span class="muted">%s</span> %s`, template.HTMLEscapeString(k), template.HTMLEscapeString(scalarText(x[k])))
			}
			return
		}
		if depth >= 3 || len(x) > 60 {
			writePre(b, x)
			return
		}
		b.WriteString(`<table class="kv">`)
		for _, k := range sortedKeys(x) {
			b.WriteString(`<tr><th>`)
			b.WriteString(template.HTMLEscapeString(k))
			b.WriteString(`</th><td>`)
			writeKeyed(b, k, x[k], depth+1)
			b.WriteString(`</td></tr>`)
		}
		b.WriteString(`</table>`)
	default:
		writePre(b, x)
	}
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

func scalarText(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case json.Number:
		return fmtNumber(x)
	default:
		return fmt.Sprint(x)
	}
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

func writeTable(b *strings.Builder, xs []any, cols []string) {
	b.WriteString(`<table class="grid small"><thead><tr>`)
	for _, c := range cols {
		fmt.Fprintf(b, `<th>%s</th>`, template.HTMLEscapeString(c))
	}
	b.WriteString(`</tr></thead><tbody>`)
	for _, e := range xs {
		m := e.(map[string]any)
		b.WriteString(`<tr>`)
		for _, c := range cols {
			b.WriteString(`<td>`)
			if v, ok := m[c]; ok {
				writeKeyed(b, c, v, 3)
			}
			b.WriteString(`</td>`)
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</tbody></table>`)
}

func writePre(b *strings.Builder, v any) {
	j, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		j = []byte(fmt.Sprint(v))
	}
	if len(j) > 4000 {
		j = append(j[:4000], "\n…"...)
	}
	b.WriteString(`<pre class="json">`)
	b.WriteString(template.HTMLEscapeString(string(j)))
	b.WriteString(`</pre>`)
}
