package reports

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAppendJSString(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{name: "plain", in: `[["send","t0/1",17]]`},
		{name: "script end", in: `"</script><script>alert(1)</script>"`},
		{name: "quotes and backslash", in: `a"b\c`},
		{name: "control", in: "a\nb\tc\x01"},
		{name: "unicode", in: "värde … ✓"},
		{name: "line separators", in: "a\u2028b\u2029c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := string(appendJSString(nil, []byte(tc.in)))
			if strings.ContainsAny(out, "<>&\u2028\u2029") {
				t.Errorf("unsafe characters left in %s", out)
			}
			var back string
			if err := json.Unmarshal([]byte(out), &back); err != nil {
				t.Fatalf("not a JSON string: %s: %v", out, err)
			}
			if back != tc.in {
				t.Errorf("round trip %q, want %q", back, tc.in)
			}
		})
	}
	// Invalid UTF-8 becomes U+FFFD rather than breaking the page.
	out := string(appendJSString(nil, []byte{'a', 0xff, 'b'}))
	var back string
	if err := json.Unmarshal([]byte(out), &back); err != nil || back != "a\ufffdb" {
		t.Errorf("invalid UTF-8: got %q (%v)", back, err)
	}
}
