package reports

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// renderPage renders dir and returns its index.html.
func renderPage(t *testing.T, dir string) string {
	t.Helper()
	if err := RenderRun(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// storyRun writes a run whose history records the answering node and
// whose results name a lost write (acknowledged at offset 30 of t0/2, a
// later offset read) plus an anomaly name no table of the report knows.
func storyRun(t *testing.T, dir string) (lost synthSend, reader synthSend) {
	t.Helper()
	writeSyntheticRun(t, dir, synthOptions{
		Ops: 600, Seed: 2, Nemesis: []string{"kill", "partition"}, NemesisEvery: 70, Name: "queue-story", RecordNodes: true,
		Results: func(r *synthRun) any {
			for _, s := range r.AckedSends {
				switch {
				case s.Key == "t0/2" && s.Offset == 30:
					lost = s
				case s.Key == "t0/2" && s.Offset == 33:
					reader = s
				}
			}
			return map[string]any{"valid": false, "checkers": map[string]any{
				"kafka": map[string]any{"valid": false, "errors": map[string]any{
					"lost-write": map[string]any{"count": 1, "fatal_count": 1, "examples": []any{map[string]any{
						"key": lost.Key, "values": []int64{lost.Value, reader.Value}, "offsets": []int64{lost.Offset, reader.Offset},
						"ops": []int64{lost.Index, reader.Index}, "fatal": true,
						"explanation": fmt.Sprintf("op %d sent %d to t0/2 at offset 30; no ok read ever saw it", lost.Index, lost.Value),
					}}},
				}},
				"replicas": map[string]any{"valid": false, "keys": 4, "compared_bytes": 81920, "lag_ms": map[string]any{"n1": 1.5, "n2": 3.25},
					"errors": map[string]any{"future-anomaly": map[string]any{"count": 1, "fatal_count": 1, "examples": []any{map[string]any{
						"key": "t0/1", "ops": []int64{}, "values": []int64{52, 77}, "offsets": []int64{19}, "node": "n3", "fatal": true,
						"explanation": "n3 holds 52 at offset 19 of t0/1 where n1, n2 hold 77",
					}}}}},
				"stats": map[string]any{"valid": true, "ok": 500, "duration_s": 10.5,
					"latency": map[string]any{"send": map[string]any{"count": 3, "p50_ms": 1.25, "max_ms": 9}},
					"throughput": func() []any {
						var xs []any
						for i := range 30 {
							xs = append(xs, map[string]any{"t": i, "ok": 40})
						}
						return xs
					}()},
			}}
		},
	})
	return lost, reader
}

// TestStory checks what a story tells: the broken guarantee, the
// operations with the node that answered each, the key's log around the
// named offsets with who acknowledged and read each value, the faults in
// effect, and the fallback for an anomaly name without words of its own.
func TestStory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "queue-story", "20261127T100000")
	lost, reader := storyRun(t, dir)
	page := renderPage(t, dir)
	story := between(page, `<div class="story" id="story-lost-write">`, `<details class="examples">`)
	if story == "" {
		t.Fatal("no story for lost-write")
	}
	for _, w := range []string{
		"Broken guarantee:</b> " + anomalyGuarantees["lost-write"],
		fmt.Sprintf(`href="#op-%d"`, lost.Index),
		fmt.Sprintf("sent <mark>%d</mark> to t0/2, acknowledged at offset <b class=\"focus\">30</b>", lost.Value),
		", answered by <b>n",
		"The log of <a href=\"#key-t0-2\">t0/2</a>",
		`<td rowspan="1"><b>30</b></td>`,
		`<td rowspan="1"><b>33</b></td>`,
		"example 1 of 1, the earliest",
	} {
		if !strings.Contains(story, w) {
			t.Errorf("lost-write story lacks %q", w)
		}
	}
	// Every offset around 30 and 33 is shown: 28 to 35.
	for o := 28; o <= 35; o++ {
		if !regexp.MustCompile(fmt.Sprintf(`<td rowspan="\d+">(<b>)?%d(</b>)?</td>`, o)).MatchString(story) {
			t.Errorf("log excerpt lacks offset %d", o)
		}
	}
	if !strings.Contains(story, "Faults in effect between") && !strings.Contains(story, "No fault window overlaps") {
		t.Error("story says nothing about faults")
	}
	// The anomaly name without a table entry is told from its case.
	other := between(page, `<div class="story" id="story-future-anomaly">`, `<details class="examples">`)
	for _, w := range []string{"The checker reports future-anomaly: n3 holds 52 at offset 19 of t0/1 where n1, n2 hold 77.", "On node <b>n3</b>"} {
		if !strings.Contains(other, w) {
			t.Errorf("future-anomaly story lacks %q", w)
		}
	}
	// The first anomaly is marked in the header and on every plot.
	if !strings.Contains(page, `id="first-anomaly"`) {
		t.Error("no first-anomaly line in the header")
	}
	for _, id := range []string{"latency-plot", "throughput-plot"} {
		fig := between(page, `id="`+id+`"`, "</figure>")
		if !strings.Contains(fig, "first anomaly: lost-write") {
			t.Errorf("%s lacks the first anomaly marker", id)
		}
	}
	if n := strings.Count(page, "first anomaly: lost-write</text>"); n < 3 {
		t.Errorf("first anomaly marked on %d plots, want the latency, throughput and key plots", n)
	}
	// The history view knows the nodes.
	if !strings.Contains(page, `nodes: ["n`) || !strings.Contains(page, "<th>node</th>") {
		t.Error("history view has no node column")
	}
	// A section the report has no view of reads as fields with units, not
	// as JSON.
	for _, w := range []string{"compared (bytes)", "80.0 KiB", "lag (ms)", "1.50 ms", "<th>p50 (ms)</th>", "30 rows"} {
		if !strings.Contains(page, w) {
			t.Errorf("generic sections lack %q", w)
		}
	}
	_ = reader
}

// TestNoRawDumps keeps results.json out of the page as JSON text: every
// field is rendered for reading.
func TestNoRawDumps(t *testing.T) {
	for _, name := range []string{"valid", "invalid", "checked", "unknown"} {
		t.Run(name, func(t *testing.T) {
			page := renderPage(t, copyRun(t, name, t.TempDir(), "queue", "20261127T100000"))
			for _, bad := range []string{`<pre class="json">`, "example as reported", `&#34;explanation&#34;`, `&#34;fatal&#34;`, `&#34;p50_ms&#34;`, `&#34;valid&#34;`} {
				if strings.Contains(page, bad) {
					t.Errorf("report contains %q: a raw dump", bad)
				}
			}
		})
	}
}

// between returns the text of s from the first from up to the next to.
func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	j := strings.Index(s[i:], to)
	if j < 0 {
		return s[i:]
	}
	return s[i : i+j]
}

// TestWriteStoryStore writes TestStory's run into the store
// CHRONIK_STORY_STORE and renders it, for looking at a story by hand:
//
//	CHRONIK_STORY_STORE=/tmp/store go test ./reports -run TestWriteStoryStore
func TestWriteStoryStore(t *testing.T) {
	store := os.Getenv("CHRONIK_STORY_STORE")
	if store == "" {
		t.Skip("set CHRONIK_STORY_STORE=DIR to write a run with stories there")
	}
	dir := filepath.Join(store, "queue-story", "20261127T100000")
	storyRun(t, dir)
	renderPage(t, dir)
	if err := RenderIndex(context.Background(), store); err != nil {
		t.Fatal(err)
	}
}

// A poll served by several nodes names, in its story, the nodes that
// served the case's key ("nodes"), and a send the node that acknowledged
// it ("node").
func TestStoryNodes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "q", "20261127T100000")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	hist := strings.Join([]string{
		`{"index":0,"time":1000,"process":0,"type":"invoke","f":"send","value":[["send","t0/0",7]]}`,
		`{"index":1,"time":2000,"process":0,"type":"ok","f":"send","value":[["send","t0/0",[0,7]]],"node":"n1"}`,
		`{"index":2,"time":3000,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}`,
		`{"index":3,"time":4000,"process":1,"type":"ok","f":"poll","value":[["poll",{"t0/0":[[0,8]],"t0/1":[]}]],"nodes":{"t0/0":["n2","n3"],"t0/1":["n1"]}}`,
	}, "\n") + "\n"
	results := `{"valid":false,"checkers":{"kafka":{"valid":false,"errors":{"inconsistent-offsets":{"count":1,"fatal_count":1,"examples":[
	  {"key":"t0/0","ops":[1,3],"values":[7,8],"offsets":[0],"explanation":"offset 0 of t0/0 holds 2 different values [7 8]","fatal":true}]}}}}}`
	for name, body := range map[string]string{"history.jsonl": hist, "results.json": results} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	page := renderPage(t, dir)
	story := between(page, `<div class="story" id="story-inconsistent-offsets">`, `<details class="examples">`)
	for _, w := range []string{
		"sent <mark>7</mark> to t0/0, acknowledged at offset <b class=\"focus\">0</b>, answered by <b>n1</b>",
		"polled 1 record of t0/0 at offset 0, among them <mark>8</mark> at offset <b class=\"focus\">0</b>, answered by <b>n2,n3</b>",
		`<a href="#op-1">#1</a> <span class="muted">(n1, 0.000 s)</span>`,
		`<a href="#op-3">#3</a> <span class="muted">(n1,n2,n3, 0.000 s)</span>`,
		"No fault window overlaps",
	} {
		if !strings.Contains(story, w) {
			t.Errorf("story lacks %q:\n%s", w, story)
		}
	}
	if !strings.Contains(page, `nodes: ["n1","n1,n2,n3"]`) {
		t.Errorf("history view lacks the nodes of each completion")
	}
}

// TestStoryDerivedKey: a case that names no key (a G0 cycle) is told with
// the log of the one key its operations touched, and with none when they
// touched several.
func TestStoryDerivedKey(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sameKey bool
	}{{"one key", true}, {"two keys", false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "queue", "20261127T100000")
			writeSyntheticRun(t, dir, synthOptions{Ops: 300, Seed: 3, Results: func(r *synthRun) any {
				a := r.AckedSends[10]
				var b synthSend
				for _, s := range r.AckedSends[11:] {
					if (s.Key == a.Key) == tc.sameKey {
						b = s
						break
					}
				}
				cycle := map[string]any{"ops": []int64{a.Index, b.Index}, "fatal": true, "explanation": "ww cycle"}
				// Another anomaly names both keys, so the report has their logs.
				named := func(s synthSend) map[string]any {
					return map[string]any{"key": s.Key, "ops": []int64{s.Index}, "offsets": []int64{s.Offset}, "fatal": false, "explanation": "x"}
				}
				return map[string]any{"valid": false, "checkers": map[string]any{"kafka": map[string]any{"valid": false, "errors": map[string]any{
					"G0":            map[string]any{"count": 1, "fatal_count": 1, "examples": []any{cycle}},
					"int-send-skip": map[string]any{"count": 2, "fatal_count": 0, "examples": []any{named(a), named(b)}},
				}}}}
			}})
			story := between(renderPage(t, dir), `<div class="story" id="story-G0">`, `<details class="examples">`)
			if story == "" {
				t.Fatal("no G0 story")
			}
			hasLog := strings.Contains(story, "the case names no key; its operations touched only this one")
			if hasLog != tc.sameKey {
				t.Errorf("log excerpt told: %v, want %v:\n%s", hasLog, tc.sameKey, story)
			}
		})
	}
}
