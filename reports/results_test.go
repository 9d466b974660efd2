package reports

import (
	"reflect"
	"testing"
)

func TestParseResults(t *testing.T) {
	tests := []struct {
		name      string
		json      string
		verdict   Verdict
		checkers  int
		anomalies map[string]int
		ops       []int64 // ops recognized in the first example of the first anomaly
		keys      []string
		explain   string
	}{
		{name: "valid", json: `{"valid":true,"checkers":{"stats":{"valid":true,"ok":3}}}`, verdict: Valid, checkers: 1, anomalies: map[string]int{}},
		{name: "unknown", json: `{"valid":"unknown","checkers":{"linearizable":{"valid":"unknown","partitions":{"t0/1":"unknown"}}}}`, verdict: Unknown, checkers: 1, anomalies: map[string]int{}},
		{name: "garbage verdict reads unknown", json: `{"valid":"maybe"}`, verdict: Unknown, anomalies: map[string]int{}},
		{name: "missing verdict reads unknown", json: `{"checkers":{}}`, verdict: Unknown, anomalies: map[string]int{}},
		{
			name:    "anomaly with ops and keys",
			json:    `{"valid":false,"checkers":{"kafka":{"valid":false,"errors":{"lost-write":{"count":2,"explanation":"lost","fatal_count":2,"examples":[{"key":"t0/1","offsets":[4],"ops":[7,9],"explanation":"value 3 lost","fatal":true}]}}}}}`,
			verdict: Invalid, checkers: 1, anomalies: map[string]int{"lost-write": 2}, ops: []int64{7, 9}, keys: []string{"t0/1"}, explain: "value 3 lost",
		},
		{
			name:    "log-based case",
			json:    `{"valid":false,"checkers":{"raft-safety":{"valid":false,"errors":{"election-safety":{"count":1,"fatal_count":1,"examples":[{"key":"t0/0","ops":[],"explanation":"n1 and n2 both led","fatal":true,"time":21000000000,"node":"n2","log":[{"file":"n1/chronik-server.log","line":2},{"file":"n2/chronik-server.log","line":3}]}]}}}}}`,
			verdict: Invalid, checkers: 1, anomalies: map[string]int{"election-safety": 1}, ops: []int64{}, keys: []string{"t0/0"}, explain: "n1 and n2 both led",
		},
		{
			// Stores written before every checker shared verdict.Case.
			name:    "older raft-safety shape",
			json:    `{"valid":false,"checkers":{"raft-safety":{"valid":false,"errors":{"term-regression":{"count":1,"examples":[{"group":"t0/1","gid":4,"term":7,"time":30000000000,"first":{"node":"n3","line":2},"second":{"node":"n3","line":3},"message":"n3 restarted t0/1 with term 7"}]}}}}}`,
			verdict: Invalid, checkers: 1, anomalies: map[string]int{"term-regression": 1}, ops: []int64{}, keys: []string{"t0/1"}, explain: "n3 restarted t0/1 with term 7",
		},
		{
			name:    "errors not in the shared shape are kept as written",
			json:    `{"valid":false,"checkers":{"kafka":{"valid":false,"errors":{"duplicate":[{"key":"a/0","op_indices":[5]}]}}}}`,
			verdict: Invalid, checkers: 1, anomalies: map[string]int{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseResults([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			if r.Valid != tc.verdict {
				t.Errorf("verdict %s, want %s", r.Valid, tc.verdict)
			}
			if len(r.Checkers) != tc.checkers {
				t.Errorf("%d checkers, want %d", len(r.Checkers), tc.checkers)
			}
			if got := r.AnomalyCounts(); !reflect.DeepEqual(got, tc.anomalies) {
				t.Errorf("anomalies %v, want %v", got, tc.anomalies)
			}
			if tc.ops == nil {
				return
			}
			ex := r.Checkers[0].Anomalies[0].Examples[0]
			if !reflect.DeepEqual(ex.Ops, tc.ops) {
				t.Errorf("ops %v, want %v", ex.Ops, tc.ops)
			}
			if tc.keys != nil && !reflect.DeepEqual(ex.Keys, tc.keys) {
				t.Errorf("keys %v, want %v", ex.Keys, tc.keys)
			}
			if ex.Explanation != tc.explain {
				t.Errorf("explanation %q, want %q", ex.Explanation, tc.explain)
			}
			if a := r.Checkers[0].Anomalies[0]; ex.Allowed || a.FatalCount != a.Count {
				t.Errorf("example allowed %v, fatal count %d of %d; want fatal cases only", ex.Allowed, a.FatalCount, a.Count)
			}
		})
	}
}

func TestParseResultsRejectsNonJSON(t *testing.T) {
	if _, err := parseResults([]byte("not json")); err == nil {
		t.Fatal("parseResults accepted a non-JSON file")
	}
}
