// Package admin serves chronik-server's admin HTTP API on --admin-port:
//
//	GET  /healthz                 200 while the process runs
//	GET  /readyz                  200 once the node is registered and knows a
//	                              __meta leader, 503 before
//	GET  /status                  JSON cluster.Status: node id, mode, and per
//	                              Raft group role, term, leader, commit,
//	                              applied and (on leaders) peer progress;
//	                              "unsafe" lists seeded bugs, "fault_fs" is
//	                              true with --fault-fs
//	GET  /metrics                 Prometheus text: the core's registry plus
//	                              the Kafka layer's request metrics
//	GET  /admin/peer-delay        {"ms": N}: the current peer-transport delay
//	POST /admin/peer-delay?ms=N   sets it (GET with ms=N does the same, for
//	                              curl-less probes); 0 turns it off
//	POST /admin/power-loss[?tear-seed=N]
//	                              cuts the power (needs --fault-fs): answers
//	                              what was dropped, then the process exits 4
//	GET  /admin/crash-points      every crash point and what is armed
//	POST /admin/crash-points      arms one (JSON body below)
//	DELETE /admin/crash-points[?point=NAME]
//	                              disarms one, or all without point
//	GET    /admin/members         the member records (members.go)
//	POST   /admin/members         add a member, {"id","raft_addr","kafka_addr"}
//	DELETE /admin/members/{id}    remove a member
//
// Membership requests are answered by any node: a follower forwards them
// to the __meta leader's admin address (recorded in __meta when each node
// registers). members.go lists the statuses and error codes.
//
// The peer delay exists because the machines have no netem: the chaos
// harness's `delay` nemesis adds latency to Raft traffic through this
// endpoint instead.
//
// # Power loss (durability.go)
//
// POST /admin/power-loss needs a node started with --fault-fs (else 409,
// and the node goes on). The store's file system halts (nothing more is
// written, a sync in flight counts for nothing and never returns), the
// peer transport goes silent, and every byte no completed fsync covered,
// and every create, rename and remove no directory sync covered, is removed
// from the real disk (storage.FaultFS). tear-seed=N (an int64) makes each
// file that lost writes keep a prefix of them instead, cut at a point drawn
// from N (in a pebble WAL: inside one of the unsynced records, drawn
// uniformly). Then, in this order: one log line,
//
//	level=WARN msg="power loss: dropped every write no fsync covered" component=cluster node=2 bytes_dropped=0 files_truncated=0 files_removed=0 renames_undone=0 removes_undone=2 torn_writes=0 tear_seed=7 files="OPTIONS-000003 remove-undone, 000002.log remove-undone" exit_code=4
//
// the answer (200, Connection: close, flushed), PowerLossAnswer:
//
//	{"node_id": 2, "exit_code": 4, "bytes_dropped": 0, "files_truncated": 0,
//	 "files_removed": 0, "renames_undone": 0, "removes_undone": 2,
//	 "torn_writes": 0, "tear_seed": 7,
//	 "files": [{"file": "OPTIONS-000003", "action": "remove-undone"},
//	           {"file": "000002.log", "action": "remove-undone"}]}
//
// and the process exits with code 4 at once (no graceful stop). A file
// entry's action is writes-dropped (with bytes_dropped, size_before,
// size_after, and torn_at when torn), create-undone (bytes_dropped: its
// whole size), remove-undone or rename-undone (with from). Why this order:
// the disk is rewritten first, so the line and the answer say what was
// done, errors included (then the answer is 500 with "error", and the node
// exits all the same); the halted store cannot change the disk between the
// rewrite and the exit; the line is written before the answer, so a harness
// that lost the connection still has it. A second request while the first
// runs answers 409.
//
// On a correct node under load bytes_dropped is often 0: pebble's WAL
// writer fsyncs whatever it writes while any commit waits for a sync, and
// every Raft append waits for one, so unsynced data lives in pebble's
// memory (which any crash loses) rather than in the files. What a correct
// node's files hold unsynced are the WAL's last records while their fsync
// is in flight (crash point wal-before-sync reaches exactly that moment),
// pebble's unsynced removal of obsolete files after a restart, and the
// apply batches of a node gone idle once pebble writes them. A broker that
// never fsyncs (--unsafe-no-fsync) loses everything written since its
// start.
//
// # Crash points (durability.go, cluster/crashpoints.go)
//
// A crash point is a named place in the broker where an armed crash kills
// the process (cluster.CrashPoints is the table; GET lists it with "where"
// for each). POST /admin/crash-points takes
//
//	{"point": "raft-after-save", "count": 20}
//	{"point": "raft-before-apply", "probability": 0.25, "seed": 42}
//	{"point": "wal-before-sync", "count": 1, "power_loss": true, "tear_seed": 4}
//
// count N: die the N-th time the point is reached after arming;
// probability p in (0, 1]: die each time with probability p, drawn from
// seed (default 1); power_loss: drop the unsynced state at the crash as
// POST /admin/power-loss does (needs --fault-fs), tear_seed as its
// tear-seed. Arming a point again replaces its arming. The answer (200) of
// GET, POST and DELETE is CrashPointsAnswer:
//
//	{"fault_fs": true, "points": [
//	  {"name": "raft-before-save", "where": "...", "reached": 0},
//	  {"name": "raft-after-save", "where": "...",
//	   "armed": {"point": "raft-after-save", "count": 20}, "reached": 3},
//	  ...]}
//
// Errors: 400 for a body that is not that JSON (unknown fields too), an
// unknown point, neither or both of count and probability, tear_seed
// without power_loss; 409 for power_loss (or wal-before-sync, which is
// reached inside the fault file system) without --fault-fs. When a point
// fires the node halts its store (and with power_loss rewrites the disk),
// silences its peer transport, logs one line and exits with code 5:
//
//	level=WARN msg="crash point reached" component=cluster node=3 point=wal-before-sync reached=20 power_loss=true bytes_dropped=1397 files_truncated=1 files_removed=0 renames_undone=0 removes_undone=0 torn_writes=1 tear_seed=4 files="000002.log writes-dropped 1397 torn at 119536" exit_code=5
//
// (without power_loss the line ends after power_loss=false with exit_code).
//
// Caller contract: New with a Source (the node) and a prometheus.Gatherer;
// Serve(ctx, listener) until ctx ends. The admin listener is opened at
// start, before any election, so /healthz and /status answer on a node that
// has no quorum. Config.Durability nil makes the power-loss and crash-point
// endpoints answer 501; Config.Exit (default os.Exit) ends the process
// after a power loss is answered.
package admin
