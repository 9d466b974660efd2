package replicas

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/verdict"
)

// cp builds a copy of key k on node with values at offsets 0, 1, ...
// (a value of -1 leaves a hole) and high watermark hw (-1: len(vals)).
func cp(node, k string, hw int64, vals ...int64) Copy {
	c := Copy{Node: node, Key: k, HW: hw, FirstHW: hw, Records: []history.Record{}}
	for o, v := range vals {
		if v >= 0 {
			c.Records = append(c.Records, history.Record{Offset: int64(o), Value: v})
		}
	}
	if hw < 0 {
		c.HW, c.FirstHW = int64(len(vals)), int64(len(vals))
	}
	return c
}

func TestCheck(t *testing.T) {
	acks := map[string][]Ack{"t/0": {{Offset: 0, Value: 10, Op: 3}, {Offset: 2, Value: 12, Op: 9}}}
	tests := []struct {
		name   string
		copies []Copy
		acked  map[string][]Ack
		want   verdict.Validity
		// anomalies maps each anomaly to the nodes its cases name.
		anomalies map[string][]string
		offsets   map[string]int64 // first offset of the anomaly's first case
	}{
		{name: "all agree", want: verdict.True, acked: acks, copies: []Copy{
			cp("n1", "t/0", -1, 10, 11, 12), cp("n2", "t/0", -1, 10, 11, 12), cp("n3", "t/0", -1, 10, 11, 12)}},
		{name: "one copy skipped entries", want: verdict.False, acked: acks, copies: []Copy{
			cp("n1", "t/0", -1, 10, 11, 12, 13), cp("n2", "t/0", -1, 10, 11, 12, 13), cp("n3", "t/0", -1, 10, 13)},
			anomalies: map[string][]string{AnomalyDivergence: {"n3"}, AnomalyLostWrite: {"n3"}},
			offsets:   map[string]int64{AnomalyDivergence: 1, AnomalyLostWrite: 2}},
		{name: "no majority names every copy", want: verdict.False, copies: []Copy{
			cp("n1", "t/0", -1, 10, 11), cp("n2", "t/0", -1, 10, 12)},
			anomalies: map[string][]string{AnomalyDivergence: {"n1", "n2"}}},
		{name: "hole below the high watermark", want: verdict.False, copies: []Copy{
			cp("n1", "t/0", -1, 10, 11, 12), cp("n2", "t/0", -1, 10, -1, 12)},
			anomalies: map[string][]string{AnomalyHole: {"n2"}}, offsets: map[string]int64{AnomalyHole: 1}},
		{name: "shorter copy read first is compared below its high watermark", want: verdict.True, copies: []Copy{
			{Node: "n1", Key: "t/0", HW: 2, FirstHW: 2, InvokedAt: 1, AnsweredAt: 2, Records: []history.Record{{Offset: 0, Value: 10}, {Offset: 1, Value: 11}}},
			{Node: "n2", Key: "t/0", HW: 3, FirstHW: 3, InvokedAt: 3, AnsweredAt: 4, Records: []history.Record{{Offset: 0, Value: 10}, {Offset: 1, Value: 11}, {Offset: 2, Value: 12}}}}},
		{name: "shorter copy read after a longer one is stale", want: verdict.False, copies: []Copy{
			{Node: "n1", Key: "t/0", HW: 3, FirstHW: 3, InvokedAt: 1, AnsweredAt: 2, Records: []history.Record{{Offset: 0, Value: 10}, {Offset: 1, Value: 11}, {Offset: 2, Value: 12}}},
			{Node: "n2", Key: "t/0", HW: 2, FirstHW: 2, InvokedAt: 3, AnsweredAt: 4, Records: []history.Record{{Offset: 0, Value: 10}, {Offset: 1, Value: 11}}}},
			anomalies: map[string][]string{AnomalyStale: {"n2"}}},
		{name: "acknowledged value above a copy's high watermark", want: verdict.False, acked: acks, copies: []Copy{
			cp("n1", "t/0", -1, 10, 11, 12), cp("n2", "t/0", 2, 10, 11)},
			anomalies: map[string][]string{AnomalyLostWrite: {"n2"}}, offsets: map[string]int64{AnomalyLostWrite: 2}},
		{name: "node down is unknown, not a pass", want: verdict.Unknown, acked: acks, copies: []Copy{
			cp("n1", "t/0", -1, 10, 11, 12), cp("n2", "t/0", -1, 10, 11, 12), {Node: "n3", Error: "not running"}}},
		{name: "one key unreadable is unknown", want: verdict.Unknown, acked: acks, copies: []Copy{
			cp("n1", "t/0", -1, 10, 11, 12), {Node: "n2", Key: "t/0", Error: "timed out"}}},
		{name: "cut-short copy is unknown above where it stopped", want: verdict.Unknown, acked: acks, copies: []Copy{
			cp("n1", "t/0", -1, 10, 11, 12), func() Copy { c := cp("n2", "t/0", 1, 10); c.Truncated = true; return c }()}},
		{name: "divergence beats an unreadable copy", want: verdict.False, copies: []Copy{
			cp("n1", "t/0", -1, 10, 11), cp("n2", "t/0", -1, 10, 11), cp("n3", "t/0", -1, 10, 99), {Node: "n3", Key: "t/1", Error: "timed out"}},
			anomalies: map[string][]string{AnomalyDivergence: {"n3"}}},
		{name: "acknowledged key nobody could read", want: verdict.Unknown, acked: map[string][]Ack{"t/9": {{Offset: 0, Value: 1}}}, copies: []Copy{
			cp("n1", "t/0", -1, 10)}},
		{name: "nothing read", want: verdict.Unknown, acked: acks},
		{name: "a partition no node hosts", want: verdict.True, copies: []Copy{
			{Node: "n1", Key: "t/5", Absent: true}, {Node: "n2", Key: "t/5", Absent: true}, cp("n1", "t/0", -1, 10), cp("n2", "t/0", -1, 10)}},
		{name: "a node missing a partition others hold", want: verdict.False, acked: acks, copies: []Copy{
			cp("n1", "t/0", -1, 10, 11, 12), cp("n2", "t/0", -1, 10, 11, 12), {Node: "n3", Key: "t/0", Absent: true}},
			anomalies: map[string][]string{AnomalyMissing: {"n3"}, AnomalyLostWrite: {"n3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Check(tt.copies, tt.acked, 0)
			if res.Valid != tt.want {
				t.Fatalf("valid %v, want %v (error %q, errors %v)", res.Valid, tt.want, res.Error, res.Errors)
			}
			got := map[string][]string{}
			for name, a := range res.Errors {
				for _, c := range a.Examples {
					got[name] = append(got[name], c.Node)
					if c.Key == "" || c.Explanation == "" || c.Ops == nil {
						t.Errorf("%s case lacks key, explanation or ops: %+v", name, c)
					}
				}
				sort.Strings(got[name])
				if want, ok := tt.offsets[name]; ok && (len(a.Examples[0].Offsets) == 0 || a.Examples[0].Offsets[0] != want) {
					t.Errorf("%s first offset %v, want %d", name, a.Examples[0].Offsets, want)
				}
			}
			if len(got) != 0 || len(tt.anomalies) != 0 {
				if !reflect.DeepEqual(got, tt.anomalies) {
					t.Fatalf("anomalies %v, want %v", got, tt.anomalies)
				}
			}
		})
	}
}

func TestFileRoundTripAndAcked(t *testing.T) {
	dir := t.TempDir()
	copies := []Copy{cp("n1", "t/0", -1, 10, 11), {Node: "n2", Error: "not running"}}
	if err := Write(dir, copies); err != nil {
		t.Fatal(err)
	}
	back, err := Read(filepath.Join(dir, File))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, copies) {
		t.Fatalf("round trip: %+v, want %+v", back, copies)
	}
	hist := `{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send","t/0",10]]}
{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send","t/0",[0,10]]]}
{"index":2,"time":3,"process":0,"type":"invoke","f":"send","value":[["send","t/0",11]]}
{"index":3,"time":4,"process":0,"type":"info","f":"send","value":[["send","t/0",11]],"error":"timeout"}
`
	hp := filepath.Join(dir, "history.jsonl")
	if err := os.WriteFile(hp, []byte(hist), 0o644); err != nil {
		t.Fatal(err)
	}
	acked, err := Acked(t.Context(), hp)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]Ack{"t/0": {{Offset: 0, Value: 10, Op: 1}}}; !reflect.DeepEqual(acked, want) {
		t.Fatalf("acked %v, want %v", acked, want)
	}
	res, err := CheckDir(t.Context(), hp, 0)
	if err != nil || res == nil || res.Valid != verdict.Unknown {
		t.Fatalf("CheckDir: %v %+v (n2 is down: unknown)", err, res)
	}
	if res, err := CheckDir(t.Context(), filepath.Join(t.TempDir(), "history.jsonl"), 0); res != nil || err != nil {
		t.Fatalf("CheckDir without a replicas file: %v %v", res, err)
	}
}
