// Package linear checks the send and read micro-operations of a history
// for linearizability with Porcupine, against the sequential specification
// of one Kafka partition: a log to which a send appends a value and
// returns the offset it landed at, and from which a read starting at offset
// f returns a prefix of the log from f together with the high watermark
// (the log's length) at that instant.
//
// Caller contract: feed every entry in file order to Observe, then call
// Result once with a context whose deadline is the search budget.
//
// How the history becomes Porcupine operations:
//   - Each partition (key "topic/partition") is an independent object and is
//     searched on its own, up to GOMAXPROCS partitions at once.
//   - An ok send is an operation from its invocation to its completion; its
//     offset, when the broker returned one, must equal the log length at
//     the linearization point. A failed send did not happen and is left out.
//   - An indefinite (info) send is resolved after the whole history was
//     read, which includes the final drain: if some ok poll or read saw its
//     value at offset o, it is an operation returning o with an infinite
//     return time (it may have taken effect any time after its
//     invocation); if nobody saw it, it is dropped.
//   - Sends inside a txn are not checked: they become visible only when the
//     transaction commits, which the log model does not describe. A key
//     some ok or info txn sent to is left out altogether (Result.TxnSkipped):
//     its plain sends would find offsets taken by messages the model cannot
//     place.
//   - Offsets are searched as dense positions over the offsets observed
//     (returned by ok sends, or holding a record some ok poll or read
//     returned) when those are not already 0, 1, 2, ... (Result.Renumbered):
//     a Kafka log may start past 0 and have offsets no message occupies
//     (transaction markers), as Jepsen's version orders allow. A read's
//     start and high watermark map to the number of observed offsets below
//     them. Our broker's logs start at 0 without gaps, so its histories are
//     searched unchanged.
//   - An ok read is an operation; failed and indefinite reads are left out
//     (reads change nothing). Polls are not checked here: a consumer's
//     position makes them stateful per client, which the kafka checker
//     covers.
//
// Before the search each partition is cut into segments of about 2000
// operations, which keeps Porcupine's memoization (quadratic in the number
// of operations searched together) small: by log position when every send
// has a known offset (splitByPosition; the usual case, and it works even
// when a hot partition never has a quiet moment), else at quiescent points
// where the log is determined (split). Either way the verdict is exactly
// that of searching the whole partition at once (TestSplitIsExact compares
// them on random histories).
//
// The model state is one node id in a per-partition trie of every log the
// search explored, so states are tiny, hash trivially and compare exactly,
// and the values themselves are shared.
//
// Invariants: a partition whose search did not finish before the deadline,
// or one of whose segments ran out of Options.SegmentTimeLimit (the
// search is exponential in the operations that overlap, so one stretch
// can explode), is "unknown", never "ok"; the overall verdict is invalid if any partition
// is non-linearizable, else unknown if any is unknown. For non-linearizable
// partitions the out directory receives Porcupine's visualization
// (linearizability.html) of the stretch of operations where the search
// failed, with the fault windows overlapping it as annotations.
package linear
