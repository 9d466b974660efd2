// Package history holds the types of history.jsonl (the contract in
// DESIGN.md): one Op per line, in the order events happened, shaped like
// Jepsen's Kafka workload. The harness writes histories with Writer; the
// checkers and reports read them with the validating reader of this package.
//
// Invariants of a well-formed history: Index counts lines from 0; Time is
// non-decreasing nanoseconds from one monotonic base; a client process has at
// most one operation in flight; each invoke is followed by exactly one ok,
// fail or info of the same process and f; after an info the client never
// uses that process number again.
//
// Reading: Reader streams a history line by line and checks every
// invariant above, plus the shape of each value (micro-operations in invoke
// form on invocations and in completion form on ok completions, keys on
// assign and subscribe). A malformed file is rejected with an error that
// wraps ErrMalformed and names the line and what is wrong; the Reader never
// panics on bad input and never skips a line. Nemesis events are exempt
// from the one-in-flight rule and may be a lone info. Invocations left
// open at the end of the file come back as Pending info completions, as
// Jepsen treats crashed operations. Common lines are decoded by a
// hand-written parser (fastparse.go) and everything else by encoding/json.
package history
