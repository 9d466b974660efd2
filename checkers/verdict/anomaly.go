package verdict

// Case is one instance of an anomaly, in the form results.json reports it.
type Case struct {
	// Key is the "topic/partition" the case is about, if any.
	Key string `json:"key,omitempty"`
	// Ops are the history indices of the operations that prove the case,
	// in the order the explanation mentions them.
	Ops []int64 `json:"ops"`
	// Values are the message values involved, if any.
	Values []int64 `json:"values,omitempty"`
	// Explanation says in one line why the operations prove the anomaly.
	Explanation string `json:"explanation"`
	// Fatal is false for cases the checker reports but allows (see the
	// package comment of package checkers), e.g. poll skips of a
	// subscribed consumer.
	Fatal bool `json:"fatal"`
}

// Anomaly gathers all cases of one anomaly name.
type Anomaly struct {
	// Count is the number of cases found, all of them.
	Count int `json:"count"`
	// FatalCount is how many of them make the history invalid.
	FatalCount int `json:"fatal_count"`
	// Examples are some of the cases (capped), fatal ones first.
	Examples []Case `json:"examples"`
}
