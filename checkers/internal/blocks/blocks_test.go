package blocks

import "testing"

func TestList(t *testing.T) {
	for _, n := range []int{0, 1, Len - 1, Len, Len + 1, 3*Len + 7} {
		var l List[int]
		for i := range n {
			l.Add(i * 3)
		}
		if l.Len() != n {
			t.Fatalf("n=%d: Len() = %d", n, l.Len())
		}
		for i := range n {
			if got := *l.At(i); got != i*3 {
				t.Fatalf("n=%d: At(%d) = %d, want %d", n, i, got, i*3)
			}
		}
		seen := 0
		l.All(func(i int, v *int) {
			if i != seen || *v != i*3 {
				t.Fatalf("n=%d: All gave element %d = %d at step %d", n, i, *v, seen)
			}
			seen++
		})
		if seen != n {
			t.Errorf("n=%d: All visited %d", n, seen)
		}
		if n > 0 && n < 100 && cap(l.bs[0]) > 2*n+8 {
			t.Errorf("n=%d: first block has capacity %d", n, cap(l.bs[0]))
		}
	}
}
