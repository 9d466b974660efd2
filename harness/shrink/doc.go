// Package shrink makes a failing chaos run smaller while it keeps failing:
// delta debugging (Zeller's ddmin, DDMin) over the run's nemesis timeline,
// then shorter fault windows, a shorter workload and fewer nodes, each
// candidate kept when it still fails with an anomaly of a name the
// original had, in enough of K tries. Runs are behind the Runner interface
// (the harness runs a candidate in Docker; tests use a fake), and the
// whole search is bounded by a time budget.
//
// A unit of the timeline is one fault: a start and its stop (or a start
// left to the final heal, or an instant such as a membership change). The
// search never splits a unit, so every candidate is a valid
// nemesis.Schedule.
package shrink
