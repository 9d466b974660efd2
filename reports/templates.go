package reports

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"sort"
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
func fieldHTML(v any) template.HTML {
	var b strings.Builder
	writeField(&b, v, 0)
	return template.HTML(b.String())
}

func writeField(b *strings.Builder, v any, depth int) {
	switch x := v.(type) {
	case nil:
		b.WriteString(`<span class="muted">null</span>`)
	case string:
		b.WriteString(template.HTMLEscapeString(x))
	case json.Number, bool, float64, int, int64:
		b.WriteString(template.HTMLEscapeString(fmt.Sprint(x)))
	case []any:
		flat := len(x) <= 40
		for _, e := range x {
			switch e.(type) {
			case map[string]any, []any:
				flat = false
			}
		}
		if flat {
			parts := make([]string, len(x))
			for i, e := range x {
				parts[i] = template.HTMLEscapeString(fmt.Sprint(e))
			}
			b.WriteString(strings.Join(parts, ", "))
			if len(x) == 0 {
				b.WriteString(`<span class="muted">none</span>`)
			}
			return
		}
		writePre(b, x)
	case map[string]any:
		if depth >= 2 || len(x) > 60 {
			writePre(b, x)
			return
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString(`<table class="kv">`)
		for _, k := range keys {
			b.WriteString(`<tr><th>`)
			b.WriteString(template.HTMLEscapeString(k))
			b.WriteString(`</th><td>`)
			writeField(b, x[k], depth+1)
			b.WriteString(`</td></tr>`)
		}
		b.WriteString(`</table>`)
	default:
		writePre(b, x)
	}
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
