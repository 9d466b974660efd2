package reports

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/chronik-chaos/chronik/checkers/history"
)

func TestDecodeLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		fast bool // whether the fast path must accept it
	}{
		{name: "send invoke", line: `{"index":0,"time":1520000,"process":0,"type":"invoke","f":"send","value":[["send","t0/1",17]]}`, fast: true},
		{name: "poll ok", line: `{"index":3,"time":9120000,"process":3,"type":"ok","f":"poll","value":[["poll",{"t0/1":[[41,16],[42,17]]}]]}`, fast: true},
		{name: "nemesis", line: `{"index":4,"time":9500000,"process":"nemesis","type":"info","f":"kill","value":{"nodes":["n2"],"verified":{"a\"b":1}}}`, fast: true},
		{name: "info with error", line: `{"index":5,"time":9700000,"process":5,"type":"info","f":"send","value":[["send","t0/0",18]],"error":"context deadline exceeded"}`, fast: true},
		{name: "escaped error", line: `{"index":5,"time":9700000,"process":5,"type":"fail","f":"send","value":null,"error":"said \"no\""}`, fast: true},
		{name: "spaces and order", line: ` { "f" : "poll" , "type":"invoke", "process": 7, "time": 3, "index": 9, "value": [["poll"]], "extra": {"x": [1, 2]} } `, fast: true},
		{name: "missing field", line: `{"index":1,"time":2,"process":0,"type":"invoke","value":null}`},
		{name: "bad process", line: `{"index":1,"time":2,"process":"client","type":"invoke","f":"send","value":null}`},
		{name: "truncated", line: `{"index":1,"time":2,"process":0,"type":"invoke","f":"send","value":[["send"`},
		{name: "float time", line: `{"index":1,"time":2.5,"process":0,"type":"invoke","f":"send","value":null}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var fast history.Op
			err := decodeLine([]byte(tc.line), &fast)
			if tc.fast != (err == nil) {
				t.Fatalf("fast path accepted=%v, want %v (err %v)", err == nil, tc.fast, err)
			}
			if err != nil {
				return
			}
			var slow history.Op
			if err := json.Unmarshal([]byte(tc.line), &slow); err != nil {
				t.Fatalf("encoding/json rejects a line the fast path accepted: %v", err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Errorf("fast %+v\nslow %+v", fast, slow)
			}
		})
	}
}

// TestDecodeLineAgreesOnTestdata checks the fast path against
// encoding/json on every line of the saved histories.
func TestDecodeLineAgreesOnTestdata(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/history.jsonl")
	if len(files) == 0 {
		t.Fatal("no saved histories in testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			sc := bufio.NewScanner(fh)
			n := 0
			for sc.Scan() {
				n++
				var fast, slow history.Op
				if err := decodeLine(sc.Bytes(), &fast); err != nil {
					t.Fatalf("line %d: fast path refused a harness line: %s", n, sc.Bytes())
				}
				if err := json.Unmarshal(sc.Bytes(), &slow); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(fast, slow) {
					t.Fatalf("line %d: fast %+v, slow %+v", n, fast, slow)
				}
			}
		})
	}
}

func TestScanMops(t *testing.T) {
	type ob struct {
		ack  bool
		key  string
		o, v int64
	}
	tests := []struct {
		name  string
		value string
		ok    bool
		want  []ob
	}{
		{name: "send ack", value: `[["send","t0/1",[42,17]]]`, ok: true, want: []ob{{true, "t0/1", 42, 17}}},
		{name: "send unknown offset", value: `[["send","t0/1",[null,17]]]`, ok: true},
		{name: "poll", value: `[["poll",{"t0/1":[[41,16],[42,17]],"t0/2":[]}]]`, ok: true, want: []ob{{false, "t0/1", 41, 16}, {false, "t0/1", 42, 17}}},
		{name: "empty poll", value: `[["poll",{}]]`, ok: true},
		{name: "read", value: `[["read","t0/0",[3,[[3,9],[4,10]],5]]]`, ok: true, want: []ob{{false, "t0/0", 3, 9}, {false, "t0/0", 4, 10}}},
		{name: "txn of two", value: `[["send","a/0",[1,2]], ["poll",{"a/0":[[1,2]]}]]`, ok: true, want: []ob{{true, "a/0", 1, 2}, {false, "a/0", 1, 2}}},
		{name: "invoke form", value: `[["send","t0/1",17]]`},
		{name: "escaped key", value: `[["send","t\u0030/1",[1,2]]]`},
		{name: "garbage", value: `[["send","t0/1",[1,2]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []ob
			ok := scanMops([]byte(tc.value),
				func(k string, o, v int64) { got = append(got, ob{true, k, o, v}) },
				func(k string, o, v int64) { got = append(got, ob{false, k, o, v}) })
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
