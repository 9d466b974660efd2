package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// readAll returns every entry of a history, or the first error.
func readAll(t *testing.T, s string) ([]Entry, error) {
	t.Helper()
	r := NewReader(strings.NewReader(s))
	var out []Entry
	for i := 0; i < 1_000_000; i++ {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	t.Fatal("reader did not stop")
	return nil, nil
}

const (
	invSend = `{"index":%d,"time":%d,"process":%d,"type":"invoke","f":"send","value":[["send","t0/0",%d]]}`
	okSend  = `{"index":%d,"time":%d,"process":%d,"type":"ok","f":"send","value":[["send","t0/0",[%d,%d]]]}`
)

func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

// TestReaderRejects runs malformed histories through Reader and Scan,
// which must reject each at the same line with the same message.
func TestReaderRejects(t *testing.T) {
	readers := map[string]func(*testing.T, string) ([]Entry, error){
		"Reader": readAll,
		"Scan": func(t *testing.T, s string) ([]Entry, error) {
			es, _, err := scanAll(t, s)
			return es, err
		},
	}
	tests := []struct {
		name, history string
		line          int64
		msg           string
	}{
		{"not json", lines(`{"index":0,`), 1, "not a JSON operation"},
		{"empty line", lines(fmt.Sprintf(invSend, 0, 1, 0, 1), ``), 2, "empty line"},
		{"missing f", lines(`{"index":0,"time":1,"process":0,"type":"invoke","value":null}`), 1, `missing "f"`},
		{"missing time", lines(`{"index":0,"process":0,"type":"invoke","f":"send","value":[["send","k",1]]}`), 1, `missing "time"`},
		{"index mismatch", lines(fmt.Sprintf(invSend, 1, 1, 0, 1)), 1, "index 1, want 0"},
		{"time backwards", lines(fmt.Sprintf(invSend, 0, 5, 0, 1), fmt.Sprintf(invSend, 1, 4, 1, 2)), 2, "goes backwards"},
		{"negative time", lines(fmt.Sprintf(invSend, 0, -5, 0, 1)), 1, "negative time"},
		{"unknown type", lines(`{"index":0,"time":1,"process":0,"type":"done","f":"send","value":[["send","k",1]]}`), 1, "unknown type"},
		{"bad process", lines(`{"index":0,"time":1,"process":"bob","type":"invoke","f":"send","value":[["send","k",1]]}`), 1, "process"},
		{"two in flight", lines(fmt.Sprintf(invSend, 0, 1, 0, 1), fmt.Sprintf(invSend, 1, 2, 0, 2)), 2, "still in flight"},
		{"completion without invoke", lines(fmt.Sprintf(okSend, 0, 1, 0, 0, 1)), 1, "without an open invoke"},
		{"reuse after info", lines(fmt.Sprintf(invSend, 0, 1, 0, 1),
			`{"index":1,"time":2,"process":0,"type":"info","f":"send","value":[["send","t0/0",1]]}`,
			fmt.Sprintf(invSend, 2, 3, 0, 2)), 3, "reused after an info"},
		{"f mismatch", lines(fmt.Sprintf(invSend, 0, 1, 0, 1), `{"index":1,"time":2,"process":0,"type":"ok","f":"poll","value":[["poll",{}]]}`), 2, "invoked \"send\""},
		{"ok in invoke form", lines(fmt.Sprintf(invSend, 0, 1, 0, 1), `{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send","t0/0",1]]}`), 2, "invoke form"},
		{"invoke in completion form", lines(`{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send","t0/0",[0,1]]]}`), 1, "completion form"},
		{"mop of other f", lines(`{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["poll"]]}`), 1, "inside a send"},
		{"bad mop", lines(`{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send","k"]]}`), 1, "send wants 3"},
		{"bad record", lines(fmt.Sprintf(invSend, 0, 1, 0, 1), `{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send","t0/0",[0]]]}`), 2, "offset|null"},
		{"ok without value", lines(fmt.Sprintf(invSend, 0, 1, 0, 1), `{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":null}`), 2, "without micro-operations"},
		{"completion drops the sends", lines(fmt.Sprintf(invSend, 0, 1, 0, 1), `{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[]}`), 2, "has 1"},
		{"completion sends another value", lines(fmt.Sprintf(invSend, 0, 1, 0, 1), fmt.Sprintf(okSend, 1, 2, 0, 0, 2)), 2, "sends 2 but its invoke"},
		{"info sends another value", lines(fmt.Sprintf(invSend, 0, 1, 0, 1), `{"index":1,"time":2,"process":0,"type":"info","f":"send","value":[["send","t0/0",[null,2]]]}`), 2, "sends 2 but its invoke"},
		{"completion to another key", lines(fmt.Sprintf(invSend, 0, 1, 0, 1), `{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send","t0/1",[0,1]]]}`), 2, "key \"t0/1\""},
		{"txn completion reorders", lines(`{"index":0,"time":1,"process":0,"type":"invoke","f":"txn","value":[["send","k",1],["poll"]]}`,
			`{"index":1,"time":2,"process":0,"type":"ok","f":"txn","value":[["poll",{}],["send","k",[0,1]]]}`), 2, "is \"poll\""},
		{"assign not keys", lines(`{"index":0,"time":1,"process":0,"type":"invoke","f":"assign","value":[1,2]}`), 1, "list of keys"},
		{"too long", `{"index":0,"time":1,"process":0,"type":"invoke","f":"x","value":"` + strings.Repeat("a", MaxLineBytes) + "\"}\n", 1, "longer than"},
	}
	for _, tt := range tests {
		for rname, read := range readers {
			t.Run(rname+"/"+tt.name, func(t *testing.T) {
				_, err := read(t, tt.history)
				var fe *FormatError
				if !errors.As(err, &fe) {
					t.Fatalf("err = %v, want a FormatError", err)
				}
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("err does not wrap ErrMalformed")
				}
				if fe.Line != tt.line || !strings.Contains(fe.Msg, tt.msg) {
					t.Errorf("got %q, want line %d containing %q", err, tt.line, tt.msg)
				}
			})
		}
	}
}

// TestReaderAcceptsUnusual reads legal but unusual histories: huge
// process numbers, nemesis values of every JSON shape, unknown extra
// fields, an error on an ok op, empty polls, unknown offsets, mixed txns,
// crash/assign/subscribe/read ops, keys of any shape, tied times and an
// invoke left open at the end.
func TestReaderAcceptsUnusual(t *testing.T) {
	h := lines(
		`{"index":0,"time":5,"process":"nemesis","type":"info","f":"start","value":null}`,
		`{"index":1,"time":5,"process":"nemesis","type":"invoke","f":"partition","value":{"grudge":{"n1":["n2"]}},"extra":[1]}`,
		`{"index":2,"time":5,"process":9007199254740993,"type":"invoke","f":"send","value":[["send","7",1]],"new_field":{"a":1}}`,
		`{"index":3,"time":5,"process":9007199254740993,"type":"ok","f":"send","value":[["send","7",[null,1]]],"error":"retried"}`,
		`{"index":4,"time":6,"process":"nemesis","type":"info","f":"partition","value":["n1",2,null]}`,
		`{"index":5,"time":6,"process":"nemesis","type":"info","f":"heal","value":"ok"}`,
		`{"index":6,"time":7,"process":1,"type":"invoke","f":"subscribe","value":["orders"]}`,
		`{"index":7,"time":7,"process":1,"type":"ok","f":"subscribe","value":["orders"]}`,
		`{"index":8,"time":7,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}`,
		`{"index":9,"time":8,"process":1,"type":"ok","f":"poll","value":[["poll",{}]]}`,
		`{"index":10,"time":8,"process":1,"type":"invoke","f":"txn","value":[["send","orders",2],["poll"],["send","7",3]]}`,
		`{"index":11,"time":9,"process":1,"type":"ok","f":"txn","value":[["send","orders",[0,2]],["poll",{"7":[[0,1]]}],["send","7",[1,3]]]}`,
		`{"index":12,"time":9,"process":2,"type":"invoke","f":"crash","value":null}`,
		`{"index":13,"time":9,"process":2,"type":"info","f":"crash","value":{"why":"test"}}`,
		`{"index":14,"time":9,"process":3,"type":"invoke","f":"read","value":[["read","7",0]]}`,
		`{"index":15,"time":9,"process":3,"type":"ok","f":"read","value":[["read","7",[0,[[0,1],[1,3]],2]]]}`,
		`{"index":16,"time":9,"process":4,"type":"invoke","f":"poll","value":[["poll"]]}`,
	)
	es, err := readAll(t, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 18 {
		t.Fatalf("got %d entries, want 17 lines + 1 pending", len(es))
	}
	if p := es[3].Process; p.Nemesis || p.ID != 9007199254740993 {
		t.Errorf("process = %+v", p)
	}
	if last := es[17]; !last.Pending || last.Type != Info || last.InvokeIndex != 16 {
		t.Errorf("pending = %+v", last)
	}
}

func TestReaderPairs(t *testing.T) {
	h := lines(
		fmt.Sprintf(invSend, 0, 10, 3, 7),
		`{"index":1,"time":11,"process":"nemesis","type":"invoke","f":"kill","value":null}`,
		fmt.Sprintf(invSend, 2, 12, 4, 8),
		`{"index":3,"time":13,"process":"nemesis","type":"info","f":"kill","value":{"nodes":["n1"]}}`,
		fmt.Sprintf(okSend, 4, 20, 3, 0, 7),
		`{"index":5,"time":21,"process":"nemesis","type":"info","f":"note","value":"instant"}`,
	)
	es, err := readAll(t, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 7 {
		t.Fatalf("got %d entries, want 6 lines + 1 pending", len(es))
	}
	tests := []struct {
		name        string
		e           Entry
		invokeIndex int64
		invokeTime  time.Duration
		pending     bool
	}{
		{"send ok pairs its invoke", es[4], 0, 10, false},
		{"nemesis info pairs its invoke", es[3], 1, 11, false},
		{"lone nemesis info is its own invoke", es[5], 5, 21, false},
		{"open invoke becomes pending info", es[6], 2, 12, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.e.InvokeIndex != tt.invokeIndex || tt.e.InvokeTime != tt.invokeTime || tt.e.Pending != tt.pending {
				t.Errorf("got invoke %d@%d pending %v, want %d@%d pending %v",
					tt.e.InvokeIndex, tt.e.InvokeTime, tt.e.Pending, tt.invokeIndex, tt.invokeTime, tt.pending)
			}
		})
	}
	if es[6].Type != Info || len(es[6].Mops) != 1 || es[6].Mops[0].Value != 8 {
		t.Errorf("pending entry = %+v", es[6])
	}
}

// TestReaderPairsNemesisOldestFirst pins how overlapping nemesis actions
// of one f pair up: as in Jepsen, an invocation is answered by the next
// completion after it, so the oldest open invoke takes the first info.
// (The report once paired with the newest and lost the older invoke.)
func TestReaderPairsNemesisOldestFirst(t *testing.T) {
	h := lines(
		`{"index":0,"time":1,"process":"nemesis","type":"invoke","f":"kill","value":{"nodes":["n1"]}}`,
		`{"index":1,"time":2,"process":"nemesis","type":"invoke","f":"kill","value":{"nodes":["n2"]}}`,
		`{"index":2,"time":3,"process":"nemesis","type":"invoke","f":"pause","value":{"nodes":["n3"]}}`,
		`{"index":3,"time":4,"process":"nemesis","type":"info","f":"kill","value":{"nodes":["n1"]}}`,
		`{"index":4,"time":5,"process":"nemesis","type":"info","f":"pause","value":{"nodes":["n3"]}}`,
		`{"index":5,"time":6,"process":"nemesis","type":"info","f":"kill","value":{"nodes":["n2"]}}`,
		`{"index":6,"time":7,"process":"nemesis","type":"info","f":"kill","value":{"nodes":["n3"]}}`,
	)
	es, err := readAll(t, h)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		index, invokeIndex int64
	}{
		{3, 0}, // first kill info: the oldest open kill
		{4, 2}, // pause pairs by f, across the open kills
		{5, 1},
		{6, 6}, // nothing open any more: a lone info
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("info ", tt.index), func(t *testing.T) {
			if got := es[tt.index].InvokeIndex; got != tt.invokeIndex {
				t.Errorf("info %d pairs invoke %d, want %d", tt.index, got, tt.invokeIndex)
			}
		})
	}
}

// TestFastParserMatchesSlow checks that the fast path decodes exactly what
// encoding/json decodes, for every shape the Writer produces, and declines
// (rather than mis-reads) anything unusual.
func TestFastParserMatchesSlow(t *testing.T) {
	off := int64(42)
	ops := []struct {
		op   Op
		mops []Mop
		raw  string // the value, for functions without micro-operations
	}{
		{Op{Index: 0, Time: 1, Process: Client(3), Type: Invoke, F: FSend}, []Mop{Send("t0/1", 17)}, ""},
		{Op{Index: 0, Time: 1, Process: Client(3), Type: Ok, F: FSend}, []Mop{{F: FSend, Key: "t0/1", Value: 17, Offset: &off, Done: true}}, ""},
		{Op{Index: 0, Time: 1, Process: Client(3), Type: Info, F: FSend, Error: "timeout"}, []Mop{{F: FSend, Key: "t0/1", Value: -17, Done: true}}, ""},
		{Op{Index: 0, Time: 1, Process: Client(3), Type: Ok, F: FPoll}, []Mop{{F: FPoll, Done: true, Polls: map[string][]Record{"a/0": {{1, 2}, {3, 4}}, "b/1": {}}}}, ""},
		{Op{Index: 0, Time: 1, Process: Client(3), Type: Ok, F: FRead}, []Mop{{F: FRead, Key: "k/0", From: 5, Records: []Record{{5, 9}}, HW: 6, Done: true}}, ""},
		{Op{Index: 0, Time: 1, Process: Client(3), Type: Invoke, F: FTxn}, []Mop{Send("k/0", 1), Poll()}, ""},
		{Op{Index: 0, Time: 1, Process: Client(3), Type: Ok, F: FRead, Node: "n2"}, []Mop{{F: FRead, Key: "k/0", From: 5, Records: []Record{{5, 9}}, HW: 6, Done: true}}, ""},
		{Op{Index: 0, Time: 1, Process: Client(3), Type: Fail, F: FRead, Error: "x", Node: "n1"}, []Mop{Read("k/0", 5)}, ""},
		{Op{Index: 0, Time: 1, Process: Client(3), Type: Invoke, F: FCommit, Group: "g1"}, nil, `{"t0/0":5,"t0/1":0}`},
		{Op{Index: 0, Time: 1, Process: Client(3), Type: Ok, F: FCommit, Group: "g1", Node: "n3"}, nil, `{"t0/0":5}`},
		{Op{Index: 0, Time: 1, Process: Client(3), Type: Invoke, F: FOffsets, Group: "g1"}, nil, `null`},
		{Op{Index: 0, Time: 1, Process: Client(3), Type: Ok, F: FOffsets, Group: "g1", Node: "n1"}, nil, `{}`},
		{Op{Index: 0, Time: 1, Process: Client(3), Type: Info, F: FOffsets, Group: "g1", Error: "timeout"}, nil, `null`},
		{Op{Index: 0, Time: 1, Process: Client(3), Type: Invoke, F: FSend, Producer: ProducerPlain}, []Mop{Send("t0/1", 17)}, ""},
		{Op{Index: 0, Time: 1, Process: Client(3), Type: Ok, F: FSend, Node: "n2", Producer: ProducerIdempotentInflight}, []Mop{{F: FSend, Key: "t0/1", Value: 17, Offset: &off, Done: true}}, ""},
		{Op{Index: 0, Time: 1, Process: Client(3), Type: Info, F: FSend, Error: "timeout", Producer: ProducerIdempotent}, []Mop{{F: FSend, Key: "t0/1", Value: -17, Done: true}}, ""},
	}
	for i, tt := range ops {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf, time.Now())
			if tt.raw != "" {
				tt.op.Value = json.RawMessage(tt.raw)
			} else if err := tt.op.SetMops(tt.mops); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(tt.op); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			line := bytes.TrimSpace(buf.Bytes())
			var fast Entry
			if !newDecoder().parseFast(line, &fast) {
				t.Fatalf("fast parser declined %s", line)
			}
			var slow Entry
			if msg := parseSlow(line, &slow); msg != "" {
				t.Fatal(msg)
			}
			if !reflect.DeepEqual(fast.Mops, slow.Mops) || fast.Op.Index != slow.Op.Index || fast.Time != slow.Time ||
				fast.Process != slow.Process || fast.Type != slow.Type || fast.F != slow.F || fast.Error != slow.Error ||
				!bytes.Equal(fast.Value, slow.Value) || fast.Node != slow.Node || fast.Group != slow.Group ||
				!reflect.DeepEqual(fast.Offsets, slow.Offsets) || fast.Node != tt.op.Node || fast.Group != tt.op.Group ||
				fast.Producer != slow.Producer || fast.Producer != tt.op.Producer {
				t.Errorf("fast %+v\nslow %+v", fast, slow)
			}
		})
	}
	declined := []string{
		`{"time":1,"index":0,"process":0,"type":"invoke","f":"send","value":[["send","k",1]]}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send","k\u0041",1]]}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send","k",1.5]]}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send","k",1]],"extra":1}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send","k",99999999999999999999]]}`,
		`{"index":0,"time":1,"process":"nemesis","type":"info","f":"kill","value":null}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send","k",1]]} x`,
	}
	for i, l := range declined {
		t.Run(fmt.Sprint("declines ", i), func(t *testing.T) {
			var e Entry
			if newDecoder().parseFast([]byte(l), &e) {
				t.Errorf("fast parser accepted %s", l)
			}
		})
	}
}

// TestFastParserAgreesOnSavedHistories runs every line of the saved
// histories through both decoders: the fast path must take every client
// line the harness writes (or rendering and checking slow down twentyfold)
// and decode it exactly as encoding/json does.
func TestFastParserAgreesOnSavedHistories(t *testing.T) {
	files, _ := filepath.Glob("../../reports/testdata/*/history.jsonl")
	more, _ := filepath.Glob("../testdata/*.jsonl")
	if len(files) == 0 || len(more) == 0 {
		t.Fatal("no saved histories in reports/testdata or checkers/testdata")
	}
	for _, f := range append(files, more...) {
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			harness := strings.HasPrefix(f, "../../reports/")
			for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
				var fast, slow Entry
				ok := newDecoder().parseFast(line, &fast)
				if msg := parseSlow(line, &slow); msg != "" {
					t.Fatalf("line %d: %s", i+1, msg)
				}
				if !ok {
					if harness && !slow.Process.Nemesis {
						t.Errorf("line %d: the fast path declined a client line the harness wrote: %s", i+1, line)
					}
					continue
				}
				if !reflect.DeepEqual(fast, slow) {
					t.Fatalf("line %d: fast %+v\nslow %+v", i+1, fast, slow)
				}
			}
		})
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte(lines(fmt.Sprintf(invSend, 0, 1, 0, 1), fmt.Sprintf(okSend, 1, 2, 0, 0, 1))))
	f.Add([]byte(`{"index":0,"time":1,"process":0,"type":"ok","f":"poll","value":[["poll",{"a":[[1,2]]}]]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b))
		for i := 0; i < 10000; i++ {
			if _, err := r.Next(); err != nil {
				return
			}
		}
	})
}
