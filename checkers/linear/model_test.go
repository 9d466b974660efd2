package linear

import (
	"testing"
)

func TestTrieAncestor(t *testing.T) {
	tr := newTrie()
	n := int32(0)
	for v := int64(0); v < 1000; v++ {
		n = tr.appendValue(n, v*10)
	}
	for _, d := range []int32{0, 1, 2, 3, 63, 64, 65, 500, 999, 1000} {
		a := tr.ancestor(n, d)
		if tr.nodes[a].depth != d {
			t.Fatalf("ancestor depth %d: got depth %d", d, tr.nodes[a].depth)
		}
		if d > 0 && tr.nodes[a].value != int64(d-1)*10 {
			t.Errorf("value at offset %d = %d", d-1, tr.nodes[a].value)
		}
	}
	if again := tr.appendValue(tr.ancestor(n, 5), 50); again != tr.ancestor(n, 6) {
		t.Errorf("appending an existing child made a new node")
	}
}

func TestStep(t *testing.T) {
	tr := newTrie()
	s1 := tr.appendValue(0, 7)
	s2 := tr.appendValue(s1, 8)
	tests := []struct {
		name  string
		state int32
		in    input
		out   output
		ok    bool
	}{
		{"send at the end", s1, input{send: true, value: 8}, output{offset: 1}, true},
		{"send at a taken offset", s1, input{send: true, value: 8}, output{offset: 0}, false},
		{"send with unknown offset", s2, input{send: true, value: 9}, output{offset: -1}, true},
		{"read all", s2, input{from: 0}, output{records: []record{{0, 7}, {1, 8}}, hw: 2}, true},
		{"read a prefix", s2, input{from: 0}, output{records: []record{{0, 7}}, hw: 2}, true},
		{"read nothing past the end", s2, input{from: 2}, output{hw: 2}, true},
		{"stale high watermark", s2, input{from: 1}, output{records: []record{{1, 8}}, hw: 1}, false},
		{"wrong value", s2, input{from: 1}, output{records: []record{{1, 9}}, hw: 2}, false},
		{"record past the log", s1, input{from: 0}, output{records: []record{{0, 7}, {1, 8}}, hw: 1}, false},
		{"offsets not contiguous", s2, input{from: 0}, output{records: []record{{1, 8}}, hw: 2}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ok, _ := tr.step(tt.state, &tt.in, &tt.out); ok != tt.ok {
				t.Errorf("step = %v, want %v", ok, tt.ok)
			}
		})
	}
}
