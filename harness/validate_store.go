package harness

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/chronik-chaos/chronik/reports"
)

// ProbabilisticNote marks, in a validation.json row's note, a bug whose
// exposure depends on a fault landing in a narrow window.
const ProbabilisticNote = "probabilistic: needs a restart inside a narrow window, a run may miss it"

// writeValidation writes storeDir/validation.json and re-renders the
// store index, which shows it. With merge (a --rows subset), the rows of
// an existing validation.json that this run did not measure are kept, so
// re-running one row updates the table instead of replacing it.
func writeValidation(ctx context.Context, storeDir string, rep *ValidateReport, merge bool) error {
	path := filepath.Join(storeDir, reports.ValidationFile)
	v := &reports.Validation{Generated: rep.Generated}
	var kept []reports.ValidationRow
	if old, err := reports.ReadValidation(path); merge && err == nil {
		measured := map[string]bool{}
		for _, row := range rep.Rows {
			measured[validationKey(row.Row.Bug, row.Row.Control, nemesesText(row.Row))] = true
		}
		for _, r := range old.Rows {
			if !measured[validationKey(r.Bug, r.Control, strings.Join(r.Nemeses, ", "))] {
				kept = append(kept, r)
			}
		}
	}
	for _, row := range rep.Rows {
		s := summarize(row)
		vr := reports.ValidationRow{
			Bug: row.Row.Bug, Nemeses: []string{nemesesText(row.Row)}, Runs: s.Runs, Caught: s.Caught,
			Anomalies: s.Anomalies, Control: row.Row.Control,
		}
		if s.Median >= 0 {
			vr.MedianTimeToFirstAnomaly = reports.Duration(s.Median)
		}
		var notes []string
		notes = append(notes, "workload "+row.Row.Workload)
		if row.Row.Expect != "" {
			notes = append(notes, "expected: "+row.Row.Expect)
		}
		if row.Row.Probabilistic {
			notes = append(notes, ProbabilisticNote)
		}
		if s.Errors > 0 {
			notes = append(notes, fmt.Sprintf("%d run(s) with infrastructure errors", s.Errors))
		}
		vr.Note = strings.Join(notes, "; ")
		for _, run := range row.Runs {
			if run.RunDir == "" {
				continue
			}
			if rel, err := filepath.Rel(storeDir, run.RunDir); err == nil {
				vr.Reports = append(vr.Reports, filepath.ToSlash(rel))
			}
		}
		v.Rows = append(v.Rows, vr)
	}
	v.Rows = mergeRows(kept, v.Rows)
	if err := reports.WriteValidation(path, v); err != nil {
		return fmt.Errorf("write validation: %w", err)
	}
	if err := reports.RenderIndex(ctx, storeDir); err != nil {
		return fmt.Errorf("render store index: %w", err)
	}
	return nil
}

// validationKey identifies a table row across validations: a bug row by
// its bug (one row per bug), a control row by its faults.
func validationKey(bug string, control bool, nemeses string) string {
	if control {
		return "control\x00" + nemeses
	}
	return "bug\x00" + bug
}

// mergeRows puts kept bug rows and new bug rows first, then control rows,
// each group in the order given (kept before new).
func mergeRows(kept, fresh []reports.ValidationRow) []reports.ValidationRow {
	var bugs, controls []reports.ValidationRow
	for _, r := range append(slices.Clone(kept), fresh...) {
		if r.Control {
			controls = append(controls, r)
		} else {
			bugs = append(bugs, r)
		}
	}
	return append(bugs, controls...)
}
