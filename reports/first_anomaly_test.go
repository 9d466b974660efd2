package reports

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestFirstAnomalyMoment checks when the header says the first anomaly
// happened: at the completion of the last operation of its evidence, at
// a case's own time, and, for an unseen write, at the history's end (an
// early send that no read saw by the end is proved by the whole history,
// not by the send; so is a replica finding, read after the final heal),
// so that neither pushes a later lost write off the first place.
func TestFirstAnomalyMoment(t *testing.T) {
	type pick struct{ early, late synthSend }
	caseOf := func(s synthSend, extra map[string]any) map[string]any {
		c := map[string]any{"key": s.Key, "values": []int64{s.Value}, "offsets": []int64{s.Offset}, "ops": []int64{s.Index}, "fatal": true, "explanation": "x"}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	anomaly := func(cases ...any) map[string]any {
		return map[string]any{"count": len(cases), "fatal_count": len(cases), "examples": cases}
	}
	tests := []struct {
		name   string
		errors func(p pick) map[string]any
		// want is the header's first anomaly name; at, when set, is text
		// its line must hold.
		want string
		at   string
	}{
		{
			name: "unseen early, lost write later",
			errors: func(p pick) map[string]any {
				return map[string]any{"unseen": anomaly(caseOf(p.early, nil)), "lost-write": anomaly(caseOf(p.late, nil))}
			},
			want: "lost-write",
		},
		{
			name: "a replica finding is read after the heal",
			errors: func(p pick) map[string]any {
				return map[string]any{"replica-lost-write": anomaly(caseOf(p.early, map[string]any{"node": "n1"})), "duplicate": anomaly(caseOf(p.late, nil))}
			},
			want: "duplicate",
			at:   "the last operation of its evidence",
		},
		{
			name:   "unseen alone is at the end",
			errors: func(p pick) map[string]any { return map[string]any{"unseen": anomaly(caseOf(p.early, nil))} },
			want:   "unseen",
			at:     "the end of the history",
		},
		{
			name: "a case's own time comes first",
			errors: func(p pick) map[string]any {
				return map[string]any{"lost-write": anomaly(caseOf(p.early, nil)), "election-safety": anomaly(map[string]any{"ops": []int64{}, "time": 1000, "node": "n2", "fatal": true, "explanation": "two leaders"})}
			},
			want: "election-safety",
			at:   "<b>0.000 s</b>",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "queue", "20261127T100000")
			var p pick
			writeSyntheticRun(t, dir, synthOptions{Ops: 400, Seed: 5, Nemesis: []string{"kill"}, Results: func(r *synthRun) any {
				p = pick{early: r.AckedSends[2], late: r.AckedSends[len(r.AckedSends)/2]}
				return map[string]any{"valid": false, "checkers": map[string]any{"kafka": map[string]any{"valid": false, "errors": tc.errors(p)}}}
			}})
			page := renderPage(t, dir)
			head := between(page, `id="first-anomaly"`, "</p>")
			if !strings.Contains(head, fmt.Sprintf(`<b>%s</b>`, tc.want)) {
				t.Fatalf("first anomaly is not %s: %s", tc.want, head)
			}
			if !strings.Contains(head, tc.at) {
				t.Errorf("first anomaly line lacks %q: %s", tc.at, head)
			}
			if tc.want == "unseen" {
				if strings.Contains(head, "the last operation of its evidence") {
					t.Errorf("an unseen write is dated by its send: %s", head)
				}
				// Every unseen case is proved at the end: none is "the earliest".
				if story := between(page, `id="story-unseen"`, "</h4>"); story == "" || strings.Contains(story, "the earliest") {
					t.Errorf("unseen story claims an earliest case: %q", story)
				}
			}
			if !strings.Contains(between(page, `id="latency-plot"`, "</figure>"), "first anomaly: "+tc.want) {
				t.Errorf("latency plot does not mark %s", tc.want)
			}
		})
	}
}
