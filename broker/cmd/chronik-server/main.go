// Command chronik-server is the Kafka-compatible broker of the Chronik chaos
// project: a Kafka wire-protocol front end (broker/kafka) over Raft-
// replicated partitions (broker/cluster), with an admin HTTP API
// (broker/admin).
//
// Usage (global options first, then the subcommand; see --help):
//
//	chronik-server --kafka-port 9092 --advertised-addr HOST --node-id 1 --data-dir DIR \
//	    [--admin-port 9644] [--log-level info] \
//	    raft-cluster --raft-addr 0.0.0.0:9192 --peers "2@host2:9292,3@host3:9392"
//	chronik-server ... --node-id 4 --data-dir EMPTY \
//	    raft-cluster --join --raft-addr 0.0.0.0:9192 --peers "1@host1:9192,2@host2:9292"
//	chronik-server --kafka-port 9092 --data-dir DIR standalone
//
// A node started with --join waits until a member adds it (POST
// /admin/members on any node); see broker/admin for the membership API.
//
// Exit codes: 0 after SIGTERM/SIGINT (graceful stop), 1 when the node fails
// at run time (its Fatal channel fires, a listener cannot open, the store
// cannot be opened), 2 for command-line errors, 3 when the store is damaged
// (a corrupt WAL, a stored batch failing its CRC, a Raft log contradicting
// its hard state or applied index): the node refuses to start and logs one
// line, level=ERROR msg="refusing to start: the store is corrupt", with
// data_dir, err, and file and offset when a WAL is damaged; 4 after POST
// /admin/power-loss (with --fault-fs: one WARN line msg="power loss:
// dropped every write no fsync covered" says what was dropped), 5 when an
// armed crash point is reached (one WARN line msg="crash point reached"
// point=NAME). Both exits are immediate: no graceful stop, nothing more
// written.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
