// Package windows turns the nemesis events of a history into fault windows:
// the stretches of time during which a fault was in effect. Stats use them
// to separate unavailability caused by faults from unavailability in calm
// periods, and the linearizability visualization draws them as
// annotations.
//
// Pairing is table-driven and tolerant, because the nemesis names its
// operations as {start, stop} pairs whose f differ ("kill" is undone by
// "restart"). A window opens at the first event (invoke, or a lone info)
// of a start operation and closes at the completion of the first later
// stop operation that undoes it; a stop closes the oldest open window it
// can close. A heal-all f ("final-heal", "heal-all", "stop-all") closes
// every open window; a stop that closes nothing (the per-node "start"
// events of a staggered start) is kept as an instant event. Windows still open at the end of the history
// close at its last event. Events whose f is in no table entry are kept as
// instant events (a window of zero length) so that nothing the nemesis did
// is hidden.
package windows
