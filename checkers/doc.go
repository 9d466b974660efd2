// Package checkers decides whether a recorded history (history.jsonl, the
// contract in DESIGN.md) shows a bug. It knows nothing of Docker, the
// broker or the network: it reads a file and writes results.json.
//
// # The system, as the history sees it
//
// Like Jepsen's Kafka workload (jepsen/tests/kafka.clj), from which the
// analyses and their names are taken, we treat the broker as a set of
// totally ordered, append-only logs called partitions, named by keys
// "topic/partition". A producer sends a message (a value unique per key)
// and the broker assigns it an offset; a consumer, either assigned
// specific partitions or subscribed to topics (the group coordinator then
// hands it partitions and may move them at any time), polls and receives
// the messages that follow its position. The log workload instead reads a
// partition directly from a given offset, which also returns the high
// watermark.
//
// # Operations
//
// Each line of the history is one event of one process: an invoke, then
// exactly one ok (it happened), fail (it did not) or info (unknown: it may
// take effect at any time up to the end of the test). After an info a
// client takes a new process number. The nemesis (process "nemesis")
// records faults as info events, paired or alone. Client values:
//
//	{"f":"send", "value":[["send","t0/1",17]]}                 invoke
//	{"f":"send", "value":[["send","t0/1",[42,17]]]}            ok: offset 42 (null: unknown)
//	{"f":"poll", "value":[["poll"]]}                           invoke
//	{"f":"poll", "value":[["poll",{"t0/1":[[41,16],[42,17]]}]]} ok: records per key
//	{"f":"txn",  "value":[["send",...],["poll",...]]}          both, in one transaction
//	{"f":"read", "value":[["read","t0/1",[40,[[40,15]],43]]]}  ok: from, records, high watermark
//	{"f":"assign"|"subscribe", "value":["t0/1", ...]}
//
// # Reading
//
// history.Scan streams the file once, decoding on every core, validating
// every line (fields, index = line number, time never decreasing, one
// operation in flight per process, no completion without an invoke, no
// process reuse after info, micro-operations in the right form) and
// rejecting a malformed file with the line number and what is wrong; the
// report reads histories with the same decoder and pairing. Invocations
// still open at the end become info completions, as in Jepsen. Every entry
// goes to four accumulators (kafka, linear, stats, fault windows); each
// keeps a compact summary, so a million operations check in a few hundred
// megabytes.
//
// # Analyses
//
// Version orders come first. For every key we collect (offset, value)
// pairs from every poll and read, whatever its outcome (Kafka consumers
// read committed data only, so even a failed poll's records must be
// true), and from the sends that must have committed: ok ones, and info
// ones at least one of whose values some ok operation read. Sorting by
// offset gives the log; dense indices over the offsets that hold a value
// ignore gaps (transaction markers occupy offsets too). Then:
//
//  1. inconsistent-offsets: one offset of a key holds several values.
//  2. duplicate: one value appears at several offsets of a key.
//  3. G1a (aborted read): an ok operation read a value whose send failed.
//  4. lost-write: the highest log index any ok poll (or txn) reached
//     bounds what consumers should collectively have seen; a value at or
//     below it, sent by an operation that must have committed, that no ok
//     operation read, was lost. Read operations (log workload) start at an
//     offset of their choosing, so they count as seeing values but set no
//     bound, as Jepsen's reads-by-type counts only polls.
//  5. unseen: a send was acknowledged (ok) but no ok operation ever read
//     its value. Jepsen counts this as fatal because its final generator
//     drains every key; so do we (the harness drains too). Histories
//     without a final drain should set kafka.Options.AllowUnseen.
//  6. precommitted-read: a transaction read its own send; read-committed
//     consumers must never see uncommitted records.
//  7. int-poll-skip / int-nonmonotonic-poll: two consecutive values one
//     operation read from a key are not adjacent in the version order: a
//     gap, or a step backwards (or the same value twice). A step backwards
//     inside a txn that did not commit is allowed: its consumer may have
//     been rebalanced mid-transaction (why a group transaction aborts),
//     which rewinds it to its committed offsets.
//  8. poll-skip / nonmonotonic-poll: per process, the first value an
//     operation read from a key does not directly follow the last value the
//     process's previous ok read of that key returned. Assign and subscribe
//     forget the positions of keys no longer held. As in Jepsen, these are
//     fatal only for assigned consumers: a subscribed consumer may be
//     rebalanced between polls. We track the mode per process (its last
//     assign or subscribe) rather than per test, so both kinds of consumers
//     can share a history; cases of subscribed consumers are reported with
//     fatal=false. A crash forgets the process's positions (Jepsen's crash
//     ends in info, which retires the process number; we also accept a
//     crash recorded as ok).
//  9. nonmonotonic-send: per process, a send to a key lands at or before the
//     process's previous send to that key.
//  10. int-send-skip / int-nonmonotonic-send: within one operation, two sends
//     to the same key are not adjacent, or are reversed, in the log. Skips
//     are allowed (concurrent producers interleave); reversals are fatal.
//  11. G0 / G1c: a dependency graph over operations that send, with ww edges
//     (the writer of each value precedes the writer of the next value in the
//     key's version order) and wr edges (the writer of a value precedes every
//     operation that read it). Each strongly connected component of the ww
//     graph is one G0 case; each component of the full graph that contains a
//     wr edge is one G1c case. G0 is allowed, as in Jepsen (Kafka does not
//     isolate sends). Jepsen also allows G1c when it infers ww edges; we
//     keep that, except for components holding a cycle of wr edges alone,
//     which read-committed consumers cannot produce and which are fatal.
//  12. unknown-value (our addition): a read returned a value nobody sent.
//  13. nonlinearizable: Porcupine finds no linearization of a partition's
//     sends and reads against a sequential log (package linear), with info
//     sends resolved from what the final drain saw. Offsets are searched
//     as dense positions over the offsets observed, so a log that does not
//     start at 0 or has gaps is not an anomaly; keys that transactions
//     send to are left out.
//
// Stats (package stats) add counts, latencies, throughput and the longest
// stretches without a successful send or poll, inside and outside fault
// windows (package windows).
//
// # Results
//
// Check returns Results, which marshal to results.json (contract):
// {"valid": true|false|"unknown", "checkers": {"kafka": ..., "linearizable":
// ..., "stats": ...}}. The harness adds checkers of its own with
// Results.Add ("liveness", "raft-safety", "coverage"), and the replicas
// checker of package replicas, which compares every node's copy of every
// partition (replicas.jsonl beside the history) with the others and with
// the history's acknowledged sends. A checker that runs out of its
// time budget, or lacks its input, reports "unknown", never true; the
// overall verdict is false if any checker found a fatal anomaly, else
// unknown if any checker is unknown.
//
// Every section has the fields of verdict.Findings: "valid"; "error", why
// it is unknown; and, for every checker that names anomalies (all but
// stats), "errors", mapping each anomaly name to {"count": all cases,
// "fatal_count": those that make the history invalid, "examples": at most
// Options.MaxExamples cases, fatal ones first}. Every example of every
// checker has one shape, verdict.Case:
//
//	{"key": "t0/1",              topic/partition, or a Raft group; optional
//	 "ops": [12, 40],            history indices of the operations that prove it; [] if none
//	 "values": [7],              message values involved; optional
//	 "offsets": [20],            offsets of key the explanation names; optional
//	 "explanation": "...",       one line: why this is the anomaly
//	 "fatal": true,              false: reported but allowed
//	 "time": 21000000000,        ns since the test started, for evidence not in the history; optional
//	 "node": "n2",               the node concerned; optional
//	 "log": [{"file": "n2/chronik-server.log", "line": 7, "time": 21000000000, "text": "..."}]}
//	                             the log lines that are the evidence; optional
//
// Readers (package reports, `chaos validate`) decode exactly these fields;
// checkers put everything else beside "errors" in their section. Stores
// written before this shape hold one older form of the harness's
// examples, which verdict.Case still reads (see package verdict).
//
// # Usage
//
//	res, err := checkers.Check(ctx, "store/t/20260101T000000/history.jsonl",
//		checkers.Options{TimeLimit: 5 * time.Minute, OutDir: runDir, Logger: log})
//	if errors.Is(err, checkers.ErrMalformed) { /* bad history: usage error */ }
//	res.Add("liveness", &checkers.Extra{Valid: verdict.True, Errors: ..., Fields: ...})
//	err = checkers.WriteResults(runDir, res) // results.json
//
// Check decodes the file on every core (history.Scan) while one goroutine
// pairs the entries and feeds the checkers, then runs the Kafka analysis beside the linearizability search
// (which itself searches up to GOMAXPROCS partitions at once; the Kafka
// analysis' independent steps run side by side too). Each Porcupine search
// of one partition segment is bounded by Options.SegmentTimeLimit (10 s by
// default): a segment that explodes makes its partition "unknown" instead
// of eating the whole budget. On this project's 2-core machines a
// million-line history checks in a few seconds of CPU and a few hundred MB
// (BenchmarkCheckMillion), ten million lines in about 20 s and under 2 GiB
// (BenchmarkCheckTenMillion). What stays in memory until the analyses is
// compact: about 56 bytes per completion for the Kafka analysis, 72 per
// send or read for the linearizability search (which builds Porcupine's
// operations one partition at a time), 8 per latency for the stats.
package checkers
