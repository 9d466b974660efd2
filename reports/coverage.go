package reports

import (
	"encoding/json"
	"fmt"
)

// coverageSection is the name of the harness's coverage section of
// results.json (harness.CoverageName): what the run exercised. The report
// shows it as a section of its own rather than among the checkers'
// details.
const coverageSection = "coverage"

// coverageView is the Coverage section of the report.
type coverageView struct {
	Rows     []coverageRow
	Warnings []string
	// Fields are the section's other fields (per-group elections, fault
	// windows per family, thresholds, scrape counts), shown generically.
	Fields []Field
}

// coverageRow is one line of the coverage table (harness.CoverageRow).
type coverageRow struct {
	Path   string
	Count  string // "n/a" when the source could not be read
	Zero   bool
	Source string
	Detail string
}

// coverageOf reads the coverage section of res, nil when there is none.
func coverageOf(res *Results) *coverageView {
	if res == nil {
		return nil
	}
	for _, c := range res.Checkers {
		if c.Name != coverageSection {
			continue
		}
		v := &coverageView{}
		for _, f := range c.Fields {
			switch f.Name {
			case "rows":
				v.Rows = coverageRows(f.Value)
			case "warnings":
				if ws, ok := f.Value.([]any); ok {
					for _, w := range ws {
						v.Warnings = append(v.Warnings, fmt.Sprint(w))
					}
				}
			default:
				v.Fields = append(v.Fields, f)
			}
		}
		return v
	}
	return nil
}

func coverageRows(v any) []coverageRow {
	rows, _ := v.([]any)
	out := make([]coverageRow, 0, len(rows))
	for _, r := range rows {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		row := coverageRow{Path: fmt.Sprint(m["path"]), Source: str(m["source"]), Detail: str(m["detail"]), Count: "n/a"}
		if n, ok := m["count"].(json.Number); ok {
			row.Count = n.String()
			row.Zero = n.String() == "0"
		}
		out = append(out, row)
	}
	return out
}

func str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}
