package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"strings"
	"time"
)

// ValidationFile is the name, inside the store directory, of the detection
// power table that `chaos validate` writes and the store index shows.
const ValidationFile = "validation.json"

// Validation is the content of validation.json (format in doc.go).
type Validation struct {
	// Generated is when the table was measured.
	Generated time.Time `json:"generated"`
	// Rows are the seeded bugs followed by the correct broker's rows.
	Rows []ValidationRow `json:"rows"`
}

// ValidationRow is one line of the detection power table: a seeded bug run
// under some nemeses, how often the harness caught it and how fast. A row
// with Control set is the correct broker: there Caught counts false alarms,
// runs whose verdict was not valid.
type ValidationRow struct {
	// Bug is the broker flag that seeds the bug, e.g.
	// "--unsafe-ack-before-commit"; empty for the correct broker.
	Bug string `json:"bug"`
	// Nemeses are the fault families of the runs.
	Nemeses []string `json:"nemeses"`
	// Runs and Caught count runs, and runs whose verdict was invalid (for a
	// control row: runs whose verdict was not valid).
	Runs   int `json:"runs"`
	Caught int `json:"caught"`
	// MedianTimeToFirstAnomaly is the median, over caught runs, of the
	// history time of the first operation of the first anomaly, as a Go
	// duration string ("12.5s"); empty when nothing was caught.
	MedianTimeToFirstAnomaly Duration `json:"median_time_to_first_anomaly,omitempty"`
	// Anomalies are the anomaly names found over all runs of the row.
	Anomalies []string `json:"anomalies,omitempty"`
	// Control marks a row of the correct broker (false-alarm row).
	Control bool `json:"control,omitempty"`
	// Note is free text, e.g. why a row falls short.
	Note string `json:"note,omitempty"`
	// Runs' report directories relative to the store, for links.
	Reports []string `json:"reports,omitempty"`
}

// Duration is a time.Duration that reads and writes as a Go duration
// string, so validation.json stays readable.
type Duration time.Duration

// MarshalJSON writes the duration as "1m2.5s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON accepts a duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s == "" {
			*d = 0
			return nil
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration: want a string like \"12.5s\" or nanoseconds: %w", err)
	}
	*d = Duration(n)
	return nil
}

// ReadValidation reads a validation.json file.
func ReadValidation(path string) (*Validation, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read validation: %w", err)
	}
	v := new(Validation)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return v, nil
}

// WriteValidation writes v to path as indented JSON (the format the store
// index reads).
func WriteValidation(path string, v *Validation) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode validation: %w", err)
	}
	return writeFileAtomic(path, append(b, '\n'))
}

var validationTemplate = template.Must(template.New("validation").Funcs(funcs).Parse(`
<table class="grid num validation" id="validation-table">
<thead><tr><th>bug</th><th>nemeses</th><th>runs</th><th>caught</th><th>median time to first anomaly</th><th>anomalies</th><th>note</th></tr></thead>
<tbody>
{{range .}}<tr class="{{if .Control}}control{{end}} {{.Class}}">
<td>{{if .Control}}<i>correct broker</i>{{else}}<code>{{.Bug}}</code>{{end}}</td>
<td>{{join .Nemeses ", "}}</td><td>{{.Runs}}</td>
<td>{{if .Control}}{{.Caught}} false alarm{{if ne .Caught 1}}s{{end}}{{else}}{{.Caught}} / {{.Runs}}{{end}}</td>
<td>{{.Median}}</td><td>{{join .Anomalies ", "}}</td><td>{{.Note}}{{range $i, $r := .Reports}} <a href="{{$r}}/index.html">run {{inc $i}}</a>{{end}}</td></tr>
{{end}}</tbody></table>`))

type validationRowView struct {
	ValidationRow
	Median string
	Class  string
}

// ValidationTable renders the detection power table as an HTML table:
// one row per seeded bug and nemesis set (runs, caught, median time to the
// first anomaly, anomaly names) and the correct broker's false-alarm rows.
// A bug row not caught in every run, or a control row with a false alarm,
// is marked in red.
func ValidationTable(rows []ValidationRow) template.HTML {
	views := make([]validationRowView, 0, len(rows))
	for _, r := range rows {
		v := validationRowView{ValidationRow: r}
		if r.MedianTimeToFirstAnomaly > 0 {
			v.Median = time.Duration(r.MedianTimeToFirstAnomaly).Round(100 * time.Millisecond).String()
		} else {
			v.Median = "–"
		}
		switch {
		case r.Control && r.Caught > 0, !r.Control && r.Caught < r.Runs:
			v.Class = "bad"
		default:
			v.Class = "good"
		}
		views = append(views, v)
	}
	var b bytes.Buffer
	if err := validationTemplate.Execute(&b, views); err != nil {
		// The template is fixed and the data plain, so this is a bug.
		panic(fmt.Sprintf("validation table: %v", err))
	}
	return template.HTML(strings.TrimSpace(b.String()))
}
