package kafka

// msgMap maps messages (a value of a key) to an operation, by position in
// Checker.ops. It is one map[int64]int32 per key id rather than one map
// keyed by kv: the runtime's int64-keyed map is several times faster than
// a map keyed by a struct, which hashes through the generic path, and its
// slots carry no padding. Per-message lookups dominate the analysis of
// large histories.
type msgMap []map[int64]int32

// newMsgMap returns a msgMap for c's keys, each map sized for the values
// sent to that key.
func newMsgMap(c *Checker) msgMap {
	n := make([]int, len(c.keys))
	for _, w := range c.writes {
		n[w.key]++
	}
	m := make(msgMap, len(c.keys))
	for k := range m {
		m[k] = make(map[int64]int32, n[k])
	}
	return m
}

func (m msgMap) get(k int32, v int64) (int32, bool) {
	i, ok := m[k][v]
	return i, ok
}

func (m msgMap) has(k int32, v int64) bool {
	_, ok := m[k][v]
	return ok
}

func (m msgMap) set(k int32, v int64, i int32) { m[k][v] = i }
