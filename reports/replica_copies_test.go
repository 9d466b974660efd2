package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/replicas"
)

// TestStoryReplicaCopies checks the story's column of what every node's
// copy holds after the final heal: the value most copies hold, a differing
// value and a hole marked, an offset above a copy's high watermark and a
// node that could not be read said in words; and no column when the run
// read no copies.
func TestStoryReplicaCopies(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "queue-story", "20261127T100000")
	lost, reader := storyRun(t, dir)
	page := renderPage(t, dir)
	if strings.Contains(page, "on each node after the final heal") {
		t.Fatal("a run without replicas.jsonl has a copies column")
	}
	writeStoryCopies(t, dir, lost)
	page = renderPage(t, dir)
	story := between(page, `<div class="story" id="story-lost-write">`, `<details class="examples">`)
	if !strings.Contains(story, "<th>on each node after the final heal</th>") {
		t.Fatalf("story has no copies column:\n%s", story)
	}
	cell := func(offset int64) string {
		// The copies cell follows the offset's first value row.
		row := between(story, fmt.Sprintf(`<td rowspan="1"><b>%d</b></td>`, offset), "</tr>")
		if row == "" {
			row = between(story, fmt.Sprintf(`<td rowspan="1">%d</td>`, offset), "</tr>")
		}
		return between(row, `class="copies`, "</td>")
	}
	tests := []struct {
		offset int64
		want   []string
	}{
		{lost.Offset, []string{"disagree", fmt.Sprintf(`<span class="">n1 %d</span>`, lost.Value), `<span class="bad">n2 777</span>`, fmt.Sprintf(`<span class="">n3 %d</span>`, lost.Value), `<span class=" muted">n4 unread</span>`}},
		{lost.Offset + 1, []string{"disagree", `<span class="bad muted">n2 none</span>`}},
		{reader.Offset, []string{`<span class=" muted">n3 above hw</span>`, fmt.Sprintf(`<span class="">n2 %d</span>`, 1000+reader.Offset)}},
	}
	for _, tc := range tests {
		got := cell(tc.offset)
		if got == "" {
			t.Errorf("offset %d: no copies cell", tc.offset)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("offset %d: copies cell lacks %q: %s", tc.offset, w, got)
			}
		}
	}
	if c := cell(lost.Offset - 2); strings.Contains(c, "disagree") || strings.Contains(c, "bad") {
		t.Errorf("offset %d, where the copies agree, is marked: %s", lost.Offset-2, c)
	}
	// A copies file that does not parse is said, not hidden.
	if err := os.WriteFile(filepath.Join(dir, replicas.File), []byte("{not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	page = renderPage(t, dir)
	if !strings.Contains(page, "The nodes&#39; copies could not be read from replicas.jsonl") {
		t.Error("an unreadable replicas.jsonl is not reported in the story")
	}
}

// writeStoryCopies writes a replicas.jsonl for storyRun's key of the lost
// write: n1 holds the acknowledged values; n2 another value at the lost
// write's offset and nothing at the next (a hole below its high watermark
// 34); n3 stops at 32; n4 could not be read.
func writeStoryCopies(t *testing.T, dir string, lost synthSend) {
	t.Helper()
	var n1, n2, n3 []history.Record
	for o := int64(0); o <= 40; o++ {
		v := 1000 + o
		if o == lost.Offset {
			v = lost.Value
		}
		n1 = append(n1, history.Record{Offset: o, Value: v})
		switch {
		case o == lost.Offset:
			n2 = append(n2, history.Record{Offset: o, Value: 777})
		case o == lost.Offset+1 || o > 33:
		default:
			n2 = append(n2, history.Record{Offset: o, Value: v})
		}
		if o < 32 {
			n3 = append(n3, history.Record{Offset: o, Value: v})
		}
	}
	copies := []replicas.Copy{
		{Node: "n1", Key: lost.Key, Records: n1, HW: 41},
		{Node: "n2", Key: lost.Key, Records: n2, HW: 34},
		{Node: "n3", Key: lost.Key, Records: n3, HW: 32},
		{Node: "n4", Error: "connection refused"},
		{Node: "n1", Key: "t0/0", Records: []history.Record{{Offset: 0, Value: 1}}, HW: 1},
	}
	if err := replicas.Write(dir, copies); err != nil {
		t.Fatal(err)
	}
}
