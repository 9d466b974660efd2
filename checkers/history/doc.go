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
package history
