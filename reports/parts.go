package reports

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// Parts of the page that are heavy and below the fold (today the key
// views: a plot and offset tables per key) are written, when they would
// make index.html large, to runDir/report-parts/NAME.js as a call
//
//	chronikPart("NAME", "<html>");
//
// and the page holds a placeholder that loads the file with a <script src>
// tag (which, unlike fetch, works from file://) when it comes near the
// screen, when a link points into it, or on the placeholder's button. The
// history pages work the same way (history_pages.go).
const partsDir = "report-parts"

// The key views stay in index.html up to maxInlineKeyViews bytes, or up
// to maxInlineKeyViewsSmall when the whole history is in the page too, so
// that a small run's report remains one file.
const (
	maxInlineKeyViews      = 128 << 10
	maxInlineKeyViewsSmall = 512 << 10
)

// partFile names the file of part name, relative to the run directory.
func partFile(name string) string { return partsDir + "/" + name + ".js" }

// writeParts renders the key views and, when together they pass the
// inline budget, moves each to a part file; otherwise it removes the parts
// a previous render left.
func (pg *runPage) writeParts(runDir string) error {
	dir := filepath.Join(runDir, partsDir)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clear report parts: %w", err)
	}
	pg.PartAnchors = map[string]string{}
	total := 0
	bodies := make([][]byte, len(pg.KeyViews))
	for i := range pg.KeyViews {
		var b bytes.Buffer
		if err := runTemplate.ExecuteTemplate(&b, "keyview", pg.KeyViews[i]); err != nil {
			return fmt.Errorf("render key view %s: %w", pg.KeyViews[i].Key, err)
		}
		bodies[i] = b.Bytes()
		pg.KeyViews[i].Bytes = b.Len()
		total += b.Len()
	}
	if total <= maxInlineKeyViews || !pg.PageFiles && total <= maxInlineKeyViewsSmall {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create report parts: %w", err)
	}
	pg.KeyParts = true
	for i := range pg.KeyViews {
		kv := &pg.KeyViews[i]
		kv.Part = fmt.Sprintf("key-%d", i)
		pg.PartAnchors[kv.Anchor] = kv.Part
		var js []byte
		js = append(js, "chronikPart("...)
		js = appendJSString(js, []byte(kv.Part))
		js = append(js, ',')
		js = appendJSString(js, bodies[i])
		js = append(js, ");\n"...)
		if err := writeFileAtomic(filepath.Join(runDir, partFile(kv.Part)), js); err != nil {
			return err
		}
	}
	return nil
}
