package reports

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
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
	"fieldName": fieldName,
	"num":       fmtNum,
	"signed": func(x float64) string {
		if x > 0 {
			return "+" + fmtNum(x)
		}
		return fmtNum(x)
	},
	"partFile": partFile,
	"bytes":    func(n int) string { return humanBytes(int64(n)) },
	"joinInts": func(xs []int64) string {
		parts := make([]string, len(xs))
		for i, x := range xs {
			parts[i] = fmt.Sprint(x)
		}
		return strings.Join(parts, ", ")
	},
	// keyList names the keys of a grouped error, the first few of many.
	"keyList": func(keys []string) string {
		if len(keys) > 6 {
			return fmt.Sprintf("%s and %d more", strings.Join(keys[:5], ", "), len(keys)-5)
		}
		return strings.Join(keys, ", ")
	},
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
