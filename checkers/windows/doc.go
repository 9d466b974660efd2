// Package windows turns the nemesis events of a history into fault windows:
// the stretches of time during which a fault was in effect. Stats use them
// to separate unavailability caused by faults from unavailability in calm
// periods, the linearizability visualization draws them as annotations,
// and the report shades them on its plots and lists them in its nemesis
// table, so every reader of a run sees the same windows.
//
// Pairing follows the table of nemesis functions in checkers/history
// (history.NemesisFamilies): each family names the f that starts its fault,
// the f that stops it, and the names other tools record for the same
// actions (Jepsen's "start-partition" and "stop-partition"), so histories
// recorded elsewhere pair too.
//
//   - A window opens at the first event (invoke, or a lone info) of a start
//     and closes at the completion of a later stop of its family. For a
//     family with node targets (kill, pause) a stop closes only the windows
//     that share a node with it (a stop or start naming no nodes counts as
//     naming all); for a cluster-wide family (partition, loss, delay) it
//     closes every open window of the family.
//   - A heal-all f (history.NemesisHealAll) closes every open window.
//   - Names in no row pair by the generic forms X-start / X-stop and
//     start-X / stop-X.
//   - Instants (a window of zero length, so that nothing the nemesis did is
//     hidden): actions of an instant family (each node's "start" in a
//     staggered start), a start whose value says "skipped" (no target, so
//     no fault), a stop that closes nothing (a final heal of a family that
//     was not in effect), and any other nemesis f.
//   - Windows still open at the end of the history close at its last event
//     (Tracker.Advance moves that end for a caller that feeds only nemesis
//     events).
package windows
