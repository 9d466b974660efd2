package offsets

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// h builds a history from compact lines: "p invoke commit g {...}",
// "p ok offsets g {...}", "p invoke subscribe g k1,k2", "p ok poll k:o,o".
func h(t *testing.T, lines ...string) []history.Entry {
	t.Helper()
	var b strings.Builder
	for i, l := range lines {
		f := strings.Fields(l)
		var p int
		fmt.Sscan(f[0], &p)
		typ, fn := f[1], f[2]
		val, group := "null", ""
		switch fn {
		case history.FCommit, history.FOffsets:
			group = fmt.Sprintf(`,"group":%q`, f[3])
			if len(f) > 4 {
				val = f[4]
			}
		case history.FSubscribe:
			group = fmt.Sprintf(`,"group":%q`, f[3])
			val = `["` + strings.ReplaceAll(f[4], ",", `","`) + `"]`
		case history.FAssign:
			val = `["t/0"]`
		case history.FPoll:
			if typ == "invoke" {
				val = `[["poll"]]`
				break
			}
			kv := strings.SplitN(f[3], ":", 2)
			var recs []string
			for _, o := range strings.Split(kv[1], ",") {
				recs = append(recs, fmt.Sprintf("[%s,%s]", o, o))
			}
			val = fmt.Sprintf(`[["poll",{%q:[%s]}]]`, kv[0], strings.Join(recs, ","))
		}
		fmt.Fprintf(&b, `{"index":%d,"time":%d,"process":%d,"type":%q,"f":%q,"value":%s%s}`+"\n", i, (i+1)*1000, p, typ, fn, val, group)
	}
	r := history.NewReader(strings.NewReader(b.String()))
	var out []history.Entry
	for {
		e, err := r.Next()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("history: %v\n%s", err, b.String())
			}
			return out
		}
		out = append(out, e)
	}
}

func TestChecker(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  string // anomaly name, "" for valid
	}{
		{"commit then read", []string{
			`0 invoke commit g {"t/0":5}`, `0 ok commit g {"t/0":5}`,
			`1 invoke offsets g`, `1 ok offsets g {"t/0":5}`,
		}, ""},
		{"read before any commit is none", []string{
			`1 invoke offsets g`, `1 ok offsets g {}`,
			`0 invoke commit g {"t/0":5}`, `0 ok commit g {"t/0":5}`,
		}, ""},
		{"acknowledged commit lost", []string{
			`0 invoke commit g {"t/0":5}`, `0 ok commit g {"t/0":5}`,
			`1 invoke offsets g`, `1 ok offsets g {}`,
		}, AnomalyLostCommit},
		{"older commit read back after a newer one", []string{
			`0 invoke commit g {"t/0":5}`, `0 ok commit g {"t/0":5}`,
			`0 invoke commit g {"t/0":9}`, `0 ok commit g {"t/0":9}`,
			`1 invoke offsets g`, `1 ok offsets g {"t/0":5}`,
		}, AnomalyLostCommit},
		{"commit of unknown outcome may be lost", []string{
			`0 invoke commit g {"t/0":5}`, `0 info commit g`,
			`1 invoke offsets g`, `1 ok offsets g {}`,
			`2 invoke offsets g`, `2 ok offsets g {"t/0":5}`,
		}, ""},
		{"commit of unknown outcome cannot be undone", []string{
			`0 invoke commit g {"t/0":5}`, `0 info commit g`,
			`1 invoke offsets g`, `1 ok offsets g {"t/0":5}`,
			`2 invoke offsets g`, `2 ok offsets g {}`,
		}, AnomalyLostCommit},
		{"failed commit never happened", []string{
			`0 invoke commit g {"t/0":5}`, `0 fail commit g`,
			`1 invoke offsets g`, `1 ok offsets g {"t/0":5}`,
		}, AnomalyLostCommit},
		{"a partition the coordinator refused was not committed", []string{
			`0 invoke commit g {"t/0":5,"t/1":5}`, `0 ok commit g {"t/1":5}`,
			`1 invoke offsets g`, `1 ok offsets g {"t/1":5}`,
		}, ""},
		{"other groups are other registers", []string{
			`0 invoke commit g {"t/0":5}`, `0 ok commit g {"t/0":5}`,
			`1 invoke offsets h`, `1 ok offsets h {}`,
		}, ""},
		{"join starts at the commit", []string{
			`7 invoke poll`, `7 ok poll t/0:0,1,2,3`,
			`0 invoke commit g {"t/0":2}`, `0 ok commit g {"t/0":2}`,
			`3 invoke subscribe g t/0,t/1`, `3 ok subscribe g t/0,t/1`,
			`3 invoke poll`, `3 ok poll t/0:2,3`,
		}, ""},
		{"join without commit starts at the log start", []string{
			`3 invoke subscribe g t/0`, `3 ok subscribe g t/0`,
			`3 invoke poll`, `3 ok poll t/0:0,1`,
		}, ""},
		{"join re-reads committed records", []string{
			`0 invoke commit g {"t/0":2}`, `0 ok commit g {"t/0":2}`,
			`3 invoke subscribe g t/0`, `3 ok subscribe g t/0`,
			`3 invoke poll`, `3 ok poll t/0:0,1,2`,
		}, AnomalyJoinReread},
		{"join skips uncommitted records", []string{
			`7 invoke poll`, `7 ok poll t/0:0,1,2,3`,
			`0 invoke commit g {"t/0":1}`, `0 ok commit g {"t/0":1}`,
			`3 invoke subscribe g t/0`, `3 ok subscribe g t/0`,
			`3 invoke poll`, `3 ok poll t/0:3`,
		}, AnomalyJoinSkip},
		{"join may see a commit in flight", []string{
			`0 invoke commit g {"t/0":1}`, `0 ok commit g {"t/0":1}`,
			`5 invoke commit g {"t/0":3}`,
			`3 invoke subscribe g t/0`, `3 ok subscribe g t/0`,
			`3 invoke poll`, `3 ok poll t/0:3`,
			`5 info commit g`,
		}, ""},
		{"a process with positions of its own is not a join", []string{
			`0 invoke commit g {"t/0":2}`, `0 ok commit g {"t/0":2}`,
			`3 invoke assign`, `3 ok assign`,
			`3 invoke subscribe g t/0`, `3 ok subscribe g t/0`,
			`3 invoke poll`, `3 ok poll t/0:0`,
		}, ""},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Options{})
			entries := h(t, tt.lines...)
			for i := range entries {
				c.Observe(&entries[i])
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res := c.Result(ctx)
			var got []string
			for name := range res.Errors {
				got = append(got, name)
			}
			switch {
			case tt.want == "" && len(got) > 0:
				t.Fatalf("false alarm %v: %+v", got, res.Errors[got[0]].Examples)
			case tt.want != "" && (len(got) != 1 || got[0] != tt.want):
				t.Fatalf("got anomalies %v, want %s", got, tt.want)
			case tt.want != "":
				ex := res.Errors[tt.want].Examples[0]
				if ex.Key != "t/0" || len(ex.Ops) == 0 || !strings.Contains(ex.Explanation, "group g") {
					t.Errorf("example lacks key, ops or group: %+v", ex)
				}
			}
		})
	}
}
