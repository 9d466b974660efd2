package linear

import (
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/chronik-chaos/chronik/checkers/windows"
)

// annotations turns fault windows into Porcupine annotations on a
// "nemesis" row, so faults line up with the operations they disturbed.
func annotations(ws []windows.Window) []porcupine.Annotation {
	out := make([]porcupine.Annotation, 0, len(ws))
	for _, w := range ws {
		desc := w.F
		if w.StopF != "" {
			desc = w.F + " .. " + w.StopF
		}
		details := fmt.Sprintf("ops %d..%d %s", w.StartIndex, w.StopIndex, w.Value)
		bg := "#fde2c4"
		if w.Instant {
			bg = "#e2e2f8"
		}
		out = append(out, porcupine.Annotation{
			Tag:             "nemesis",
			Start:           int64(w.Start),
			End:             int64(w.End),
			Description:     desc,
			Details:         details,
			BackgroundColor: bg,
		})
	}
	return out
}

// overlapping keeps the windows that overlap the time span of the failing
// stretch of operations (ignoring the infinite return times of resolved
// indefinite sends): windows far outside it would only squeeze the
// drawing.
func overlapping(ws []windows.Window, ops []porcupine.Operation) []windows.Window {
	if len(ops) == 0 {
		return ws
	}
	lo, hi := ops[0].Call, ops[0].Call
	for _, op := range ops {
		lo = min(lo, op.Call)
		hi = max(hi, op.Call)
		if !op.Input.(*input).info {
			hi = max(hi, op.Return)
		}
	}
	var out []windows.Window
	for _, w := range ws {
		if int64(w.End) >= lo && int64(w.Start) <= hi {
			out = append(out, w)
		}
	}
	return out
}

// fileFor names the visualization of one partition.
func fileFor(key string) string {
	r := strings.NewReplacer("/", "-", "\\", "-", " ", "_", "..", "_")
	return "linearizability-" + r.Replace(key) + ".html"
}

// writeVisualization writes Porcupine's visualization of each failed
// partition. With one failed partition it is linearizability.html itself;
// with several, each goes to linearizability-<topic>-<partition>.html and
// linearizability.html links them all.
func writeVisualization(dir string, failed []partResult, ws []windows.Window) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create visualization dir: %w", err)
	}
	if len(failed) == 1 {
		p := failed[0]
		p.info.AddAnnotations(annotations(overlapping(ws, p.ops)))
		if err := porcupine.VisualizePath(p.model, p.info, filepath.Join(dir, VisualizationFile)); err != nil {
			return fmt.Errorf("visualize partition %s: %w", p.key, err)
		}
		return nil
	}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Linearizability</title></head><body>\n")
	fmt.Fprintf(&b, "<h1>%d partitions are not linearizable</h1>\n<ul>\n", len(failed))
	for _, p := range failed {
		name := fileFor(p.key)
		p.info.AddAnnotations(annotations(overlapping(ws, p.ops)))
		if err := porcupine.VisualizePath(p.model, p.info, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("visualize partition %s: %w", p.key, err)
		}
		fmt.Fprintf(&b, "<li><a href=\"%s\">%s</a> (%d operations)</li>\n", html.EscapeString(name), html.EscapeString(p.key), len(p.ops))
	}
	b.WriteString("</ul>\n</body></html>\n")
	if err := os.WriteFile(filepath.Join(dir, VisualizationFile), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write visualization index: %w", err)
	}
	return nil
}
