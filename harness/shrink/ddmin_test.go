package shrink

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestDDMin(t *testing.T) {
	contains := func(need ...int) func([]int) bool {
		return func(xs []int) bool {
			for _, n := range need {
				if !slices.Contains(xs, n) {
					return false
				}
			}
			return true
		}
	}
	tests := []struct {
		name  string
		items []int
		fails func([]int) bool
		want  []int
		// maxCalls bounds the distinct subsets asked: ddmin's worst
		// case is quadratic in the items, these inputs need fewer.
		maxCalls int
	}{
		{"one culprit", []int{1, 2, 3, 4, 5, 6, 7, 8}, contains(5), []int{5}, 8},
		{"two culprits apart", []int{1, 2, 3, 4, 5, 6, 7, 8}, contains(2, 7), []int{2, 7}, 24},
		{"three culprits", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, contains(1, 5, 10), []int{1, 5, 10}, 40},
		{"everything needed", []int{1, 2, 3}, contains(1, 2, 3), []int{1, 2, 3}, 12},
		{"single item", []int{4}, contains(4), []int{4}, 0},
		{"at least three of anything", []int{1, 2, 3, 4, 5, 6}, func(xs []int) bool { return len(xs) >= 3 }, []int{1, 2, 3}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked := map[string]bool{}
			got, err := DDMin(tt.items, func(xs []int) (bool, error) {
				asked[fmt.Sprint(xs)] = true
				if len(xs) == 0 {
					t.Error("asked the empty subset")
				}
				return tt.fails(xs), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("DDMin = %v, want %v", got, tt.want)
			}
			if len(asked) > tt.maxCalls {
				t.Errorf("%d subsets asked, want at most %d: %v", len(asked), tt.maxCalls, asked)
			}
			// 1-minimal: dropping any one element passes.
			for i := range got {
				if tt.fails(slices.Delete(slices.Clone(got), i, i+1)) {
					t.Errorf("%v is not 1-minimal: without %d it still fails", got, got[i])
				}
			}
		})
	}
}

// TestDDMinStopsOnError: an error (the budget) ends the search with the
// smallest failing subset found so far.
func TestDDMinStopsOnError(t *testing.T) {
	calls := 0
	got, err := DDMin([]int{1, 2, 3, 4, 5, 6, 7, 8}, func(xs []int) (bool, error) {
		calls++
		if calls == 3 {
			return false, ErrBudget
		}
		return slices.Contains(xs, 7), nil
	})
	if !errors.Is(err, ErrBudget) {
		t.Fatalf("err = %v", err)
	}
	// Call 1: [1 2 3 4] passes; call 2: [5 6 7 8] fails, kept; call 3 ends.
	if !slices.Equal(got, []int{5, 6, 7, 8}) {
		t.Errorf("got %v, want the last failing subset [5 6 7 8]", got)
	}
}

func TestSplit(t *testing.T) {
	for _, tt := range []struct {
		n, k int
		want []int
	}{{8, 2, []int{4, 4}}, {7, 3, []int{2, 2, 3}}, {3, 3, []int{1, 1, 1}}, {5, 4, []int{1, 1, 1, 2}}} {
		items := make([]int, tt.n)
		var lens []int
		total := 0
		for _, c := range split(items, tt.k) {
			lens = append(lens, len(c))
			total += len(c)
		}
		if !slices.Equal(lens, tt.want) || total != tt.n {
			t.Errorf("split(%d items, %d) lengths %v, want %v", tt.n, tt.k, lens, tt.want)
		}
	}
}
