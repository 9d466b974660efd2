// Package harness is the orchestration side of `chaos run`: the test
// configuration, the phases of a run, the Kafka client workloads, the
// recording of the history and the store.
//
// A run goes through Jepsen's phases, in this order:
//
//  1. Build: the broker image (docker.BuildImage; reused when the binary is
//     unchanged), the run's network and stopped containers.
//  2. Setup: the nodes start, one by one with a gap longer than any
//     registration patience under the staggered-start nemesis (recorded as
//     nemesis operations), all at once otherwise; then every node's
//     /readyz must answer (bounded; a cluster that never becomes ready is
//     an infrastructure error with the logs' tails), and the first topics
//     are created.
//  3. Workload: --concurrency client processes at --rate operations per
//     second in total, while the nemesis scheduler injects faults, for
//     --time-limit.
//  4. Final heal (Scheduler.HealAll), recovery wait (/readyz everywhere;
//     a node that does not come back is a liveness error), drain (every key
//     read from offset 0 to its highest acknowledged offset), a last scrape
//     of every node's /metrics (scraped every second since the history
//     began, metrics_scrape.go; metrics.json), and the replicas phase
//     (replicas.go): every partition read from every node on a connection
//     to that node alone, saved as replicas.jsonl.
//  5. Teardown (containers and network removed; also on error and Ctrl-C),
//     check (the checkers package plus two checkers of this package:
//     liveness, a node that exited on its own is an error; and raft-safety,
//     which reads the broker's Raft events in the nodes' logs for two
//     leaders of one group in one term and for a node whose term or vote
//     went backwards across a restart, and is unknown when a started
//     node's log is missing; the replicas checker of package
//     checkers/replicas over replicas.jsonl; and the coverage section,
//     coverage.go, which counts what the run exercised and warns about
//     faults that exercised nothing, without changing the verdict), store,
//     reports. All report their examples in the one shape of every checker
//     (verdict.Case).
//
// Detection power (Validate, `chaos validate`): a catalogue of
// rows, each a seeded broker bug (--unsafe-* flags) with the workload and
// nemeses that should expose it, plus the correct broker under every fault
// family. Each row runs as ordinary tests named validate-<row>; the table
// (runs, caught, median time to the first anomaly, anomaly names) goes to
// stdout and to store/validation.json, which the store index shows.
//
// History contract (DESIGN.md): one Recorder over one history.Writer, so
// every event has a time from one monotonic clock and the file order is the
// event order. Classification (classify.go): a write is recorded fail only
// when the broker definitely did not apply it (a definite rejection, or
// never sent), info for anything ambiguous (timeouts, retries exhausted,
// connection loss); after an info the client slot continues as a new
// process with new Kafka clients. Reads change nothing, so a failed read is
// a fail.
//
// Randomness: every random choice (values, keys, operation mix, nemesis
// schedule and targets, staggered-start order) comes from SubRand(seed,
// purpose), so --seed replays a run's choices (the interleaving with the
// system under test is of course not replayable).
//
// Invariants: operation contexts are detached from the phase's context and
// bounded by --op-timeout, so the end of a phase never cuts an operation in
// half; every loop is bounded in time; nothing is removed from the Docker
// engine that does not carry this run's label.
package harness
