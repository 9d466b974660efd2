package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// link is a file next to the report, as the page links it.
type link struct {
	Href, Label, Note string
}

// runLinks lists the files next to the report worth opening: Porcupine's
// visualizations, the raw history and results, the harness log, and every
// node's logs (nK/*.log).
func runLinks(runDir string) (links, logs []link) {
	add := func(name, label, note string) {
		if _, err := os.Stat(filepath.Join(runDir, name)); err == nil {
			links = append(links, link{Href: name, Label: label, Note: note})
		}
	}
	add("linearizability.html", "linearizability.html", "Porcupine's visualization, with nemesis windows")
	if vis, _ := filepath.Glob(filepath.Join(runDir, "*.html")); len(vis) > 0 {
		for _, v := range vis {
			b := filepath.Base(v)
			if b != "index.html" && b != "linearizability.html" {
				links = append(links, link{Href: b, Label: b, Note: "visualization"})
			}
		}
	}
	add("history.jsonl", "history.jsonl", "every operation, one JSON object per line")
	add("results.json", "results.json", "the checkers' verdicts and every anomaly example")
	add("test.json", "test.json", "the full configuration")
	add("chaos.log", "chaos.log", "the harness's log")
	nodeLogs, _ := filepath.Glob(filepath.Join(runDir, "n*", "*.log"))
	sort.Slice(nodeLogs, func(i, j int) bool { return naturalLess(nodeLogs[i], nodeLogs[j]) })
	for _, l := range nodeLogs {
		rel, err := filepath.Rel(runDir, l)
		if err != nil {
			continue
		}
		rel = filepath.ToSlash(rel)
		note := ""
		if st, err := os.Stat(l); err == nil {
			note = humanBytes(st.Size())
		}
		logs = append(logs, link{Href: rel, Label: rel, Note: note})
	}
	return links, logs
}

// naturalLess orders n2 before n10.
func naturalLess(a, b string) bool {
	if len(a) != len(b) {
		da, db := filepath.Dir(a), filepath.Dir(b)
		if len(da) != len(db) {
			return len(da) < len(db)
		}
	}
	return a < b
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
