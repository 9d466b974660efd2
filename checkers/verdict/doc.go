// Package verdict holds what every checker reports, in the shapes
// results.json gives them (contract): the three-valued outcome (valid,
// invalid, or unknown: the checker could not decide, in its time budget or
// for want of input), and the anomalies found, each a count and capped
// examples of one shape, Case, whatever the checker (the history checkers
// of checkers/kafka and checkers/linear, the harness's liveness and
// raft-safety). It is its own package so that the individual checkers and
// the aggregate in package checkers can share it without import cycles,
// and so that readers of results.json (package reports, `chaos validate`)
// decode the same types the checkers wrote.
//
// Invariant: Unknown is never promoted to True. Combining verdicts takes the
// worst one, where False is worse than Unknown, which is worse than True:
// an anomaly that was proven is reported even if another checker timed out.
//
// # Reading older results
//
// Stores written before Case was every checker's shape hold one other
// form, which `chaos report` still re-renders: the harness's raft-safety
// examples said "message" and "group" where Case says "explanation" and
// "key", and neither they nor liveness examples had "fatal" (or their
// anomalies "fatal_count"); every such case was fatal. Case.UnmarshalJSON
// and Anomaly.UnmarshalJSON read that form by exactly those rules and no
// others; the fields Case lacks ("first", "second", "last_lines") are
// dropped, and the report still shows each example as it was written.
package verdict
