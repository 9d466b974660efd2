// Package admin serves chronik-server's admin HTTP API on --admin-port:
//
//	GET  /healthz                 200 while the process runs
//	GET  /readyz                  200 once the node is registered and knows a
//	                              __meta leader, 503 before
//	GET  /status                  JSON cluster.Status: node id, mode, and per
//	                              Raft group role, term, leader, commit,
//	                              applied and (on leaders) peer progress
//	GET  /metrics                 Prometheus text: the core's registry plus
//	                              the Kafka layer's request metrics
//	GET  /admin/peer-delay        {"ms": N}: the current peer-transport delay
//	POST /admin/peer-delay?ms=N   sets it (GET with ms=N does the same, for
//	                              curl-less probes); 0 turns it off
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
// Caller contract: New with a Source (the node) and a prometheus.Gatherer;
// Serve(ctx, listener) until ctx ends. The admin listener is opened at
// start, before any election, so /healthz and /status answer on a node that
// has no quorum.
package admin
