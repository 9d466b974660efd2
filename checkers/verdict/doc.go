// Package verdict holds the three-valued outcome every checker reports:
// valid, invalid, or unknown (the checker could not decide in its time
// budget). It is its own package so that the individual checkers
// (checkers/kafka, checkers/linear, checkers/stats) and the aggregate in
// package checkers can share it without import cycles.
//
// Invariant: Unknown is never promoted to True. Combining verdicts takes the
// worst one, where False is worse than Unknown, which is worse than True:
// an anomaly that was proven is reported even if another checker timed out.
package verdict
