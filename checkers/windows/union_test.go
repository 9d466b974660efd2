package windows

import (
	"slices"
	"testing"
	"time"
)

func TestUnion(t *testing.T) {
	s := func(a, b time.Duration) Span { return Span{Start: a, End: b} }
	cases := []struct {
		name string
		in   []Span
		want []Span
	}{
		{"none", nil, nil},
		{"empty spans cover nothing", []Span{s(5, 5), s(7, 6)}, nil},
		{"disjoint, sorted", []Span{s(10, 20), s(1, 3)}, []Span{s(1, 3), s(10, 20)}},
		{"overlapping merge", []Span{s(1, 5), s(4, 9), s(2, 3)}, []Span{s(1, 9)}},
		{"touching merge", []Span{s(1, 5), s(5, 8)}, []Span{s(1, 8)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Union(c.in); !slices.Equal(got, c.want) {
				t.Errorf("Union(%v) = %v, want %v", c.in, got, c.want)
			}
		})
	}
}

func TestGaps(t *testing.T) {
	s := func(a, b time.Duration) Span { return Span{Start: a, End: b} }
	cases := []struct {
		name  string
		union []Span
		end   time.Duration
		want  []Span
	}{
		{"no fault: the whole run", nil, 10, []Span{s(0, 10)}},
		{"before, between, after", []Span{s(2, 4), s(6, 8)}, 10, []Span{s(0, 2), s(4, 6), s(8, 10)}},
		{"from the start to past the end", []Span{s(0, 12)}, 10, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Gaps(c.union, c.end); !slices.Equal(got, c.want) {
				t.Errorf("Gaps(%v, %v) = %v, want %v", c.union, c.end, got, c.want)
			}
		})
	}
}
