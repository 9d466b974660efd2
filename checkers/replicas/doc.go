// Package replicas compares every node's copy of every partition, read
// after the final heal, and checks that the copies agree with each other
// and with what the history says was acknowledged. etcd's robustness tests
// do the same with every member's WAL: a state machine that diverged on
// one replica (a snapshot install that skipped entries, an apply that
// decided a duplicate differently) stays invisible to clients that read
// from leaders only, until that replica leads.
//
// # Input
//
// replicas.jsonl (store layout) holds one Copy per line: what one node
// returned for one key when it was read from offset 0 to its high
// watermark with direct Fetch requests sent to that node alone. The broker
// answers Fetch on a follower from its own log after a ReadIndex round, so
// each line is that node's own copy, at least as new as the leader's
// commit when the read began. A line with Error set says the copy could
// not be read (the node is down, or did not answer in the time budget); a
// line with an empty Key and an Error says a whole node could not be read.
// The harness writes the file (harness/replicas.go); Check needs only the
// file and the history, so `chaos check` can run it again offline.
//
// # Checks
//
// For every key, with the copies that were read:
//
//  1. replica-divergence: two copies hold different values at one offset
//     below both their high watermarks. The case names the node whose
//     value differs from most other copies (every node when there is no
//     majority), the first such offset and both values.
//  2. replica-hole: a copy lacks a record at an offset below its high
//     watermark where another copy holds one.
//  3. replica-lost-write: a value the history acknowledged (an ok send at
//     a known offset) is not at that offset on a copy: absent, replaced,
//     or above the copy's high watermark. Every replica holds every
//     committed entry once it has applied the leader's commit index, which
//     the ReadIndex round before the read guarantees.
//  4. replica-missing: a node answered, for as long as the harness
//     asked, that it does not host a partition that another copy holds
//     records of (an absent copy). A partition no node hosts (a topic
//     whose creation failed) is no anomaly: its copies agree.
//  5. replica-stale: a copy answered with a lower high watermark than
//     another copy that had answered before it: a linearizable read
//     returned less than an earlier one. Copies read in the other order
//     may differ in their tails (writes still in flight); they are
//     compared up to the lower high watermark only.
//
// Each case is reported once per node and key, at the first offset
// concerned, with the number of offsets concerned in its explanation.
//
// The verdict is false when any case was found, unknown when no case was
// found but some copy could not be read or was cut short (a node down at
// the end is unknown for that node, never a pass), true otherwise.
package replicas
