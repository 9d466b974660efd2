package reports

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chronik-chaos/chronik/checkers/history"
)

func recordsJSON(key string, from, n int) string {
	var rs []string
	for o := from; o < from+n; o++ {
		rs = append(rs, fmt.Sprintf("[%d,%d]", o, o+1))
	}
	return fmt.Sprintf(`[["poll",{%q:[%s]}]]`, key, strings.Join(rs, ","))
}

// A long value is folded by structure: its first records and its last one
// stay whole, with a count of what lies between, and brackets balance.
func TestAppendFolded(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    []string
		wantNot []string
	}{
		{name: "short stays as written", raw: `[["send","t0/1",[3,4]]]`, want: []string{`[["send","t0/1",[3,4]]]`}},
		{name: "long poll", raw: recordsJSON("t0/1", 100, 400), want: []string{`"t0/1":[[100,101],`, "more,[499,500]]"}, wantNot: []string{"[250,251]"}},
		{name: "many keys", raw: `{"nodes":[` + strings.Repeat(`"n1",`, 200) + `"n9"]}`, want: []string{`"n9"]}`, "more"}},
		{name: "not JSON is cut", raw: strings.Repeat("x", 500), want: []string{"…"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendFolded(nil, []byte(tc.raw), maxValueChars))
			if len(tc.raw) <= maxValueChars {
				got = string(appendValue(nil, []byte(tc.raw)))
			}
			if len(got) > 4*maxValueChars+4 {
				t.Errorf("folded to %d bytes", len(got))
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("folded %q lacks %q", got, w)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("folded %q still has %q", got, w)
				}
			}
			if strings.HasPrefix(tc.raw, "[") || strings.HasPrefix(tc.raw, "{") {
				if strings.Count(got, "[") != strings.Count(got, "]") || strings.Count(got, "{") != strings.Count(got, "}") {
					t.Errorf("folded %q has unbalanced brackets: cut mid-array", got)
				}
			}
		})
	}
}

// foldMops keeps the records around what a case names, marks its values,
// and counts the rest.
func TestFoldMops(t *testing.T) {
	var rs []history.Record
	for o := int64(0); o < 100; o++ {
		rs = append(rs, history.Record{Offset: o, Value: o + 1000})
	}
	poll := history.Mop{F: history.FPoll, Done: true, Polls: map[string][]history.Record{"t0/1": rs, "t0/2": rs[:50]}}
	fc := focus{key: "t0/1", offsets: map[int64]bool{40: true}, values: map[int64]bool{1070: true}}
	got := string(foldMops([]history.Mop{poll}, fc))
	for _, w := range []string{
		"[0,1000]", "[38,1038]", `[<b class="focus">40</b>,1040]`, "[42,1042]", "[68,1068]", "[69,1069]", "<mark>1070</mark>", "[72,1072]", "[99,1099]",
		`<span class="fold">… 37 more</span>`, // 1..37
		`&#34;t0/2&#34;:[[0,1000],<span class="fold">… 48 more</span>,[49,1049]]`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("folded poll lacks %q:\n%s", w, got)
		}
	}
	for _, no := range []string{"[20,1020]", "[50,1050]", "[43,1043]"} {
		if strings.Contains(got, no) {
			t.Errorf("folded poll keeps %q, far from what the case names", no)
		}
	}
}

func TestCompactSVG(t *testing.T) {
	in := strings.Join([]string{
		`<svg>`,
		`<path d="M1.26,2.04L3.95,9.96" style="fill:none;stroke:#2EA043" />`,
		`<path d="M10.5,0.05L99.99,-1.449" style="fill:none;stroke:#2EA043" />`,
		`<path d="M1,1Z" style="fill:#D29922" />`,
		`<text x="1.2345">9.87654</text>`,
		`<path d="M5.55,5Z" style="fill:#D29922" />`,
		`</svg>`,
	}, "\n")
	want := strings.Join([]string{
		`<svg>`,
		`<path d="M1.3,2l2.7,8M10.5,0.1l89.5,-1.5" style="fill:none;stroke:#2EA043" />`,
		`<path d="M1,1Z" style="fill:#D29922" />`,
		`<text x="1.2345">9.87654</text>`,
		`<path d="M5.6,5Z" style="fill:#D29922" />`,
		`</svg>`,
	}, "\n")
	// A circle as vgsvg draws it, and path data with a command it does not
	// write, which is only rounded.
	in += "\n" + `<path d="M98.893,126.88A1.6,1.6 0 1 1 95.693,126.88A1.6,1.6 0 1 1 98.893,126.88Z" style="fill:#2EA043" />`
	in += "\n" + `<path d="M1.26,2C3.33,4 5,6 7,8" style="x" />`
	want += "\n" + `<path d="M97.3,126.9h0" style="fill:none;stroke:#2EA043;stroke-width:3.2;stroke-linecap:round" />`
	want += "\n" + `<path d="M1.3,2C3.3,4 5,6 7,8" style="x" />`
	if got := compactSVG(in); got != want {
		t.Errorf("compactSVG:\n got %s\nwant %s", got, want)
	}
}
