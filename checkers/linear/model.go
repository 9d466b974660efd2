package linear

import (
	"context"
	"fmt"
	"strings"

	"github.com/anishathalye/porcupine"
)

// input is a porcupine operation's input: a send of value, or a read from
// offset from.
type input struct {
	send  bool
	value int64
	from  int64
	index int64 // history index of the completion, for explanations
	// info marks an indefinite send resolved from what reads saw: it has an
	// infinite return time.
	info bool
}

// output is a porcupine operation's output: the offset a send was
// acknowledged at (-1 unknown), or a read's records and high watermark.
type output struct {
	offset  int64
	records []record
	hw      int64
}

type record struct{ offset, value int64 }

// trie stores every log any linearization explored as a tree of prefixes:
// a model state is one node id, so states are tiny, hash trivially and
// compare exactly, while the log contents stay shared. Each node keeps a
// jump pointer (Myers' skew-binary scheme) so that the value at any offset
// is found in O(log n) steps.
type trie struct {
	nodes []tnode
	child map[childKey]int32
}

type tnode struct {
	parent int32
	jump   int32
	depth  int32 // log length
	value  int64 // the last value of the log
}

type childKey struct {
	parent int32
	value  int64
}

func newTrie() *trie {
	return &trie{nodes: []tnode{{parent: 0, jump: 0, depth: 0}}, child: map[childKey]int32{}}
}

// appendValue returns the node of log n + [v].
func (t *trie) appendValue(n int32, v int64) int32 {
	k := childKey{n, v}
	if id, ok := t.child[k]; ok {
		return id
	}
	p := t.nodes[n]
	jump := n
	if p.depth > 0 {
		j := t.nodes[p.jump]
		if p.depth-j.depth == j.depth-t.nodes[j.jump].depth {
			jump = j.jump
		}
	}
	id := int32(len(t.nodes))
	t.nodes = append(t.nodes, tnode{parent: n, jump: jump, depth: p.depth + 1, value: v})
	t.child[k] = id
	return id
}

// ancestor returns the node of the prefix of length d of log n (d must
// not exceed its length).
func (t *trie) ancestor(n int32, d int32) int32 {
	for t.nodes[n].depth > d {
		x := t.nodes[n]
		if t.nodes[x.jump].depth >= d {
			n = x.jump
		} else {
			n = x.parent
		}
	}
	return n
}

// step applies one operation to log n; it is the sequential specification
// of a partition: a send appends at the end and returns that offset; a read
// from f returns a prefix of log[f:] and the log's length as the high
// watermark.
func (t *trie) step(n int32, in *input, out *output) (bool, int32) {
	length := int64(t.nodes[n].depth)
	if in.send {
		if out.offset >= 0 && out.offset != length {
			return false, n
		}
		return true, t.appendValue(n, in.value)
	}
	if out.hw != length {
		return false, n
	}
	end := in.from + int64(len(out.records))
	if len(out.records) > 0 && (in.from < 0 || end > length) {
		return false, n
	}
	if len(out.records) == 0 {
		return true, n
	}
	// Walk back from the last record read to the first.
	cur := t.ancestor(n, int32(end))
	for i := len(out.records) - 1; i >= 0; i-- {
		r := out.records[i]
		if r.offset != in.from+int64(i) || t.nodes[cur].value != r.value {
			return false, n
		}
		cur = t.nodes[cur].parent
	}
	return true, n
}

// describe renders a log for the visualization, eliding the middle.
func (t *trie) describe(n int32) string {
	d := t.nodes[n].depth
	var vals []string
	cur := n
	for i := 0; i < 6 && t.nodes[cur].depth > 0; i++ {
		vals = append(vals, fmt.Sprint(t.nodes[cur].value))
		cur = t.nodes[cur].parent
	}
	for i, j := 0, len(vals)-1; i < j; i, j = i+1, j-1 {
		vals[i], vals[j] = vals[j], vals[i]
	}
	prefix := ""
	if int(d) > len(vals) {
		prefix = "... "
	}
	return fmt.Sprintf("len %d: [%s%s]", d, prefix, strings.Join(vals, " "))
}

// model returns a porcupine model over trie t whose initial state is the
// log at node init. A trie belongs to one partition, whose segments are
// searched one after the other by one goroutine, so it needs no lock.
func model(t *trie, init int32) porcupine.Model {
	step := func(state, in, out any) (bool, any) {
		ok, next := t.step(state.(int32), in.(*input), out.(*output))
		return ok, next
	}
	return porcupine.Model{
		Init: func() any { return init },
		Step: step,
		StepContext: func(ctx context.Context, state, in, out any) (bool, any) {
			// Steps are O(log n + records); the search loop itself checks
			// ctx between steps, so there is nothing long to interrupt here.
			return step(state, in, out)
		},
		Equal: func(a, b any) bool { return a.(int32) == b.(int32) },
		Hash: func(s any) uint64 {
			x := uint64(s.(int32)) + 0x9e3779b97f4a7c15
			x ^= x >> 30
			x *= 0xbf58476d1ce4e5b9
			x ^= x >> 27
			return x
		},
		DescribeOperation: func(in, out any) string {
			i, o := in.(*input), out.(*output)
			if i.send {
				if o.offset < 0 {
					return fmt.Sprintf("send(%d) -> ?", i.value)
				}
				return fmt.Sprintf("send(%d) -> %d", i.value, o.offset)
			}
			vals := make([]string, 0, len(o.records))
			for _, r := range o.records {
				vals = append(vals, fmt.Sprint(r.value))
			}
			return fmt.Sprintf("read(%d) -> [%s] hw %d", i.from, strings.Join(vals, " "), o.hw)
		},
		DescribeState: func(s any) string { return t.describe(s.(int32)) },
		DescribeOperationMetadata: func(m any) string {
			if m == nil {
				return ""
			}
			return fmt.Sprint(m)
		},
	}
}
