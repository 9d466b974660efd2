// Package nemesis defines the harness's faults, who-cannot-talk-to-whom
// grudges, and the seeded schedules that inject them, in the manner of
// etcd's robustness failpoints (a small fault interface, faults as
// unexported values made from one list) and Jepsen's combined nemesis
// (fault families that each bring their own heal; symbolic targets resolved
// when the fault runs).
//
// # Faults
//
// The families, and the history functions (f) their actions record, are
// the rows of the table of nemesis functions in checkers/history
// (history.NemesisFamilies), which the fault windows, the report and the
// harness's --nemesis check read too. Each family is one fault value per
// Scheduler: it owns the record of what it has in effect (the nodes it
// killed or froze, the grudge, the loss, the delay), re-applies that to a
// node that comes back (a restart loses the namespace's nftables rules and
// the broker's runtime settings; a resumed broker missed every change), and
// brings its own part of the final heal. Adding a family is a row in that
// table and a fault here (its file and its constructor in newFaults).
//
//   - kill / restart: SIGKILL the broker of target nodes; start them again.
//   - pause / resume: freeze target nodes with the cgroup freezer; thaw them.
//   - partition / heal: cut broker nodes apart with a grudge shape (one,
//     majority, majorities-ring, minority-third, bridge, isolate-leader):
//     nftables input drops of peer addresses inside each node's network
//     namespace, in a table of our own. Clients on the host keep reaching
//     every node.
//   - loss-start / loss-stop: drop a percentage of the packets each node
//     receives from its peers (nftables numgen random).
//   - delay-start / delay-stop: latency on peer traffic. The kernel has no
//     netem qdisc, so the delay is a stage in the broker's peer transport,
//     switched through the admin API (POST /admin/peer-delay?ms=N); see
//     DelayMechanism.
//   - member: one membership change per action (add, remove or replace a
//     node, the leader included), through the broker's admin API, on a
//     cluster that can add and remove nodes (MemberCluster); verified on
//     every live node's /status. Instants: nothing stays in effect. See
//     fault_member.go; ReplaceNode is the same replace for callers
//     outside the schedule.
//   - power-loss / power-on: the broker (on --fault-fs) drops every write
//     no fsync covered and exits 4 (POST /admin/power-loss); started
//     again. With target all, every node at once.
//   - crash-arm / crash-restart: arm a crash point drawn from the node's
//     own list (POST /admin/crash-points), sometimes with a power loss;
//     the stop verifies exit 5 and the node's line naming the point, and
//     starts it again.
//   - corrupt / corrupt-start: damage a stopped node's store (flip bits,
//     cut the WAL tail, remove a file: StoreCluster.CorruptStore); the
//     stop starts it, and a node that refuses its store (exit 3) stays
//     down for the rest of the run (Scheduler.Refused).
//
// power-loss, crash and corrupt need a StoreCluster (cluster_store.go): exits they cause
// are declared expected, with their code, so only another code is a crash.
//
// Targets for kill, pause, power-loss and crash are one, leader (of Options.LeaderGroup, read
// from GET /status; one random node when no leader is known, recorded as
// such), minority, majority and all, resolved among the running nodes no
// other family holds.
//
// Clock faults are deliberately absent: the real-time clock is not
// namespaced, so skewing it inside one container would skew the host and
// every other container, and the broker's Raft does not read wall time
// (elections and heartbeats count ticks of a monotonic timer). There is
// nothing meaningful to fake.
//
// # Caller contract
//
// StaggeredStart brings the nodes up one by one. NewScheduler takes the
// seeded rng of the run; Preflight (optional, once the cluster is up) proves
// that the configured faults can be injected here; Run injects faults until
// its context ends; HealAll then restores everything, every fault healing
// its part in a fixed order (nodes back first, then the network, then the
// broker's delay), and must be called even when Run returned an error. Every action is recorded through Recorder
// as an invoke/info pair (process "nemesis") whose info value carries
// "verified": what was checked (a fault that found no target is a lone info
// with "skipped"). A restart done outside the scheduler must be followed by
// Scheduler.Reapply, because network rules die with a container's namespace.
//
// Leader targets aim at Options.LeaderGroup: "__meta" by default, a
// "topic/partition", or AnyGroup to draw a group each time.
//
// # Invariants
//
//   - Every fault verifies its effect after applying it and every heal its
//     undoing: a killed node is not running; a paused node is paused and its
//     admin port times out; a partition's cut pairs time out on a TCP probe
//     to the raft port while uncut pairs connect; loss shows in the delivery
//     rate of many short probes; delay reads back from the admin API. A
//     failed verification returns an error wrapping ErrUnverified and the
//     harness stops the run with exit code 4: a fault must never pass
//     silently.
//   - The timetable (Plan) depends on the seed alone; target draws depend on
//     the seed and on the cluster's state (e.g. who leads) when they run.
//   - Actions never overlap; families do.
package nemesis
