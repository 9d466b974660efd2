package harness

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestProgressNemesisLine(t *testing.T) {
	cases := []struct {
		name, typ, value string
		want             string // substring; empty means no line at all
	}{
		{name: "invoke is not printed", typ: "invoke", value: `{"nodes":["n1"]}`},
		{name: "arrows unescaped", typ: "info", value: `{"blocked":["n1-\u003en2"]}`, want: `nemesis partition  {"blocked":["n1->n2"]}`},
		{name: "long values cut", typ: "info", value: `{"x":"` + strings.Repeat("a", 300) + `"}`, want: "..."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			p := &progress{w: &out, base: time.Now()}
			p.nemesis(tc.typ, "partition", json.RawMessage(tc.value))
			if tc.want == "" {
				if out.Len() != 0 {
					t.Errorf("printed %q", out.String())
				}
				return
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("printed %q, want it to contain %q", out.String(), tc.want)
			}
		})
	}
}
