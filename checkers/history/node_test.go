package history

import (
	"reflect"
	"strings"
	"testing"
)

// The optional "node" and "nodes" of a completion reach the entry.
func TestReaderNodes(t *testing.T) {
	in := strings.Join([]string{
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send","t0/0",1]]}`,
		`{"index":1,"time":2,"process":0,"type":"ok","f":"send","value":[["send","t0/0",[0,1]]],"node":"n2"}`,
		`{"index":2,"time":3,"process":1,"type":"invoke","f":"poll","value":[["poll"]]}`,
		`{"index":3,"time":4,"process":1,"type":"ok","f":"poll","value":[["poll",{"t0/0":[[0,1]]}]],"nodes":{"t0/0":["n1","n3"]}}`,
	}, "\n") + "\n"
	r := NewReader(strings.NewReader(in))
	var got []Entry
	for range 4 {
		e, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if got[1].Node != "n2" || got[1].Nodes != nil {
		t.Errorf("send completion: node %q, nodes %v; want n2 and none", got[1].Node, got[1].Nodes)
	}
	if want := map[string][]string{"t0/0": {"n1", "n3"}}; got[3].Node != "" || !reflect.DeepEqual(got[3].Nodes, want) {
		t.Errorf("poll completion: node %q, nodes %v; want none and %v", got[3].Node, got[3].Nodes, want)
	}
	if got[0].Node != "" || got[2].Node != "" {
		t.Error("an invocation got a node")
	}
}

// The optional "producer" of a send reaches the entry on both paths of the
// reader: the fast one (error and producer only) and the slow one (with a
// node too).
func TestReaderProducer(t *testing.T) {
	tests := []struct {
		name, line, want, wantErr string
	}{
		{"invoke", `{"index":0,"time":1,"process":0,"type":"invoke","f":"send","value":[["send","t0/0",1]],"producer":"plain-no-retry"}`, ProducerPlain, ""},
		{"info with error", `{"index":0,"time":1,"process":0,"type":"info","f":"send","value":[["send","t0/0",1]],"error":"timeout","producer":"idempotent-inflight"}`, ProducerIdempotentInflight, "timeout"},
		{"with a node", `{"index":0,"time":1,"process":0,"type":"ok","f":"send","value":[["send","t0/0",[0,1]]],"node":"n1","producer":"idempotent"}`, ProducerIdempotent, ""},
		{"absent", `{"index":0,"time":1,"process":0,"type":"ok","f":"send","value":[["send","t0/0",[0,1]]]}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.line + "\n"
			if !strings.Contains(tt.line, `"invoke"`) {
				in = `{"index":0,"time":0,"process":0,"type":"invoke","f":"send","value":[["send","t0/0",1]]}` + "\n" +
					strings.Replace(tt.line, `"index":0,"time":1`, `"index":1,"time":1`, 1) + "\n"
			}
			r := NewReader(strings.NewReader(in))
			e, err := r.Next()
			if err == nil && !strings.Contains(tt.line, `"invoke"`) {
				e, err = r.Next()
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Producer != tt.want || e.Error != tt.wantErr || len(e.Mops) != 1 {
				t.Errorf("producer %q error %q mops %v; want %q, %q, one mop", e.Producer, e.Error, e.Mops, tt.want, tt.wantErr)
			}
		})
	}
}
