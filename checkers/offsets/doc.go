// Package offsets checks consumer-group offsets: what clients committed
// (history f "commit", OffsetCommit) against what the group later read back
// (f "offsets", OffsetFetch) and where a consumer joining the group started
// reading. It knows only the history, not the harness or the broker.
//
// Two guarantees of Kafka's group coordinator are checked:
//
//  1. An acknowledged commit is never lost. Each (group, key) pair is a
//     register: a commit writes the offset, an OffsetFetch reads it (a key
//     absent from the answer reads "none"). An ok commit's completion
//     value lists the keys committed (the invocation's, less those the
//     coordinator refused). Porcupine searches for a
//     linearization of every register. A commit that failed definitely is
//     left out; one whose outcome is unknown (info, or never completed)
//     may take effect at any time after its invocation. Commits of several
//     keys in one request are checked key by key (weaker than atomicity,
//     never a false alarm). Anomaly `lost-commit`: no linearization
//     exists, typically a read that returned an older offset (or none)
//     after a newer commit was acknowledged and nothing else was written.
//  2. A consumer joining a group starts at the group's last acknowledged
//     commit (Jepsen's Kafka workload rule for a consumer's first poll
//     after a join). It applies to a process whose first consumer
//     operation is a subscribe naming the group (Op.Group): such a
//     consumer has no position of its own, so the first records it polls
//     of a key must start at an offset the group's register could hold
//     when it joined: the offset of a commit that was not superseded
//     before the subscribe began (a commit is superseded once another one
//     was invoked after it completed and was itself acknowledged), or
//     the log start if no commit was acknowledged before the join.
//     Anomalies: `join-reread` (it started below every such offset:
//     committed records were delivered again) and `join-skip` (it started
//     above every such offset and some record known to exist, from any
//     poll, lies in between: uncommitted records were skipped).
//
// The checker's section in results.json is "offsets"; its examples are
// verdict.Case values whose Key is the partition and whose explanation
// names the group.
package offsets
