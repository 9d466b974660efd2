// Package blocks is an append-only list stored in fixed-size blocks, for
// the checkers' per-operation state.
//
// A checker keeps one entry per operation of the history, millions of
// them. A slice grown by append copies every entry at each growth and
// leaves the old copy to the collector while the new one fills; at ten
// million lines that was a large part of both a check's time and its peak
// memory. A List never copies, wastes at most one block (the first grows
// as a slice would, so that short lists stay small), and a pointer to
// an element stays valid.
package blocks

// Len is the number of elements of one block.
const Len = 1 << 14

// List is an append-only list. The zero value is an empty list.
type List[T any] struct {
	bs [][]T
	n  int
}

// Add appends v.
func (l *List[T]) Add(v T) {
	switch {
	case len(l.bs) == 0:
		// The first block grows by append, so that a short list (a
		// partition with a few operations) stays small.
		l.bs = append(l.bs, nil)
	case l.n%Len == 0:
		l.bs = append(l.bs, make([]T, 0, Len))
	}
	last := &l.bs[len(l.bs)-1]
	*last = append(*last, v)
	l.n++
}

// At returns a pointer to element i (0 <= i < Len()).
func (l *List[T]) At(i int) *T { return &l.bs[i/Len][i%Len] }

// Len returns the number of elements.
func (l *List[T]) Len() int { return l.n }

// All calls fn for each element in order, with its index.
func (l *List[T]) All(fn func(i int, v *T)) {
	i := 0
	for _, b := range l.bs {
		for j := range b {
			fn(i, &b[j])
			i++
		}
	}
}
