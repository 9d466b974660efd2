package shrink

import "errors"

// ErrBudget ends a search whose time budget ran out: the result is the
// smallest failing input found so far.
var ErrBudget = errors.New("shrink budget exhausted")

// DDMin returns a 1-minimal subset of items for which fails holds
// (removing any single element makes it pass), by Zeller's ddmin: split
// into n chunks, keep a chunk that fails alone, else a complement that
// fails, else split finer. fails(items) is assumed true and is not asked;
// an empty subset is never asked either (the caller tries that first when
// it means something). Order is kept. An error from fails (ErrBudget, an
// infrastructure failure) ends the search and is returned with the
// smallest failing subset found so far.
func DDMin[T any](items []T, fails func([]T) (bool, error)) ([]T, error) {
	n := 2
	for len(items) >= 2 {
		chunks := split(items, n)
		reduced := false
		for _, c := range chunks {
			ok, err := fails(c)
			if err != nil {
				return items, err
			}
			if ok {
				items, n, reduced = c, 2, true
				break
			}
		}
		// With two chunks each complement is the other chunk, already
		// tried.
		if !reduced && n > 2 {
			for i := range chunks {
				c := complement(chunks, i)
				ok, err := fails(c)
				if err != nil {
					return items, err
				}
				if ok {
					items, n, reduced = c, max(n-1, 2), true
					break
				}
			}
		}
		if !reduced {
			if n >= len(items) {
				break
			}
			n = min(2*n, len(items))
		}
	}
	return items, nil
}

// split cuts items into n chunks of near-equal length, in order.
func split[T any](items []T, n int) [][]T {
	var out [][]T
	start := 0
	for i := range n {
		end := start + (len(items)-start)/(n-i)
		out = append(out, items[start:end:end])
		start = end
	}
	return out
}

// complement joins every chunk but chunks[skip].
func complement[T any](chunks [][]T, skip int) []T {
	var out []T
	for i, c := range chunks {
		if i != skip {
			out = append(out, c...)
		}
	}
	return out
}
