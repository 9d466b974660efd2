// Package kafka is the analysis of Jepsen's Kafka workload
// (jepsen/src/jepsen/tests/kafka.clj) over a history.jsonl: version orders
// per key, then lost writes, duplicates, inconsistent offsets, aborted and
// precommitted reads, skips and reorders in polls and sends, unseen
// acknowledged writes, and G0/G1c dependency cycles. The anomaly names and
// their meanings are Jepsen's; the package comment of package checkers
// describes each analysis in order.
//
// Caller contract: create a Checker with New, feed it every Entry of a
// history in file order with Observe (entries must come from
// history.Reader or history.Scan, which have validated and paired them),
// then call Result once. Observe keeps a compact summary of each client
// completion (about 32 bytes plus 16 bytes per record read or written), so
// a history of a million operations needs on the order of 100 MB.
//
// Invariants: every reported case names the history indices of the
// operations that prove it and carries a one-line explanation; Count is the
// number of all cases even when Examples is capped; results are
// deterministic (keys are visited in sorted order, operations in history
// order).
package kafka
