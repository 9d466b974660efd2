// Package stats summarizes a history: ok/fail/info counts per f, latency
// quantiles of successful operations, throughput per second, and
// availability: the longest stretch without a successful send, and without
// a successful poll or read, overall, outside fault windows (a bug sign:
// the cluster was healthy yet nothing succeeded) and inside them.
//
// Caller contract: feed every entry in file order to Observe, then call
// Result once with the fault windows (package windows). Memory is one
// int64 per successful client operation (latency) plus one per successful
// send, poll or read (its completion time), about 16 MB per million
// operations.
//
// Validity: stats are informative, not a correctness check, so the result
// is valid unless a data function (send, poll, read, txn) was attempted and
// never succeeded even once, as Jepsen's stats checker does for every f: a
// run in which no operation of a kind ever worked tested nothing.
package stats
