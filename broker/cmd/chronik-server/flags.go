package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/kafka"
)

// options is the parsed command line.
type options struct {
	mode string // "standalone" or "raft-cluster"

	kafkaPort      int
	listenHost     string
	advertisedAddr string
	// advertisedPort and advertisedAdmin override what clients and peers
	// are told when the listeners are reached through a port mapping
	// (0 / empty: the listener's own port, the advertised host).
	advertisedPort    int
	advertisedAdmin   string
	rack              string
	nodeID            uint64
	dataDir           string
	adminPort         int
	logLevel          slog.Level
	defaultPartitions int
	autoCreateTopics  bool
	maxFrameBytes     int
	// Moving leadership back to a returned node (see broker/cluster's
	// leadership.go); an interval of 0 never moves it back.
	imbalanceInterval time.Duration
	imbalancePercent  int
	// snapshotEntries and snapshotCatchUp are the compaction thresholds
	// (cluster.Config.SnapshotEntries, SnapshotCatchUpEntries).
	snapshotEntries uint64
	snapshotCatchUp uint64

	raftAddr string
	peers    map[uint64]string
	// join: raft-cluster --join, an empty node waiting to be added.
	join bool

	unsafe cluster.Unsafe
	// faultFS runs the store on the fault-injection file system (a
	// harness mode, not a seeded bug).
	faultFS bool
}

// errUsage marks command-line errors (exit code 2); errHelp a help request
// (exit code 0).
var (
	errUsage = errors.New("usage error")
	errHelp  = errors.New("help requested")
)

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

const usageHead = `chronik-server: a Kafka-compatible broker whose partitions are replicated with Raft.

Usage:
  chronik-server [global options] standalone
  chronik-server [global options] raft-cluster --raft-addr ADDR --peers "ID@HOST:PORT,..."
  chronik-server [global options] raft-cluster --join --raft-addr ADDR --peers "ID@HOST:PORT,..."

Global options must come before the subcommand.

Global options:
`

const usageTail = `
Subcommands:
  standalone     a single node (a one-voter Raft cluster); refuses --peers
  raft-cluster   one node of a Raft cluster; its options:
    --raft-addr ADDR   listen address of the peer transport (default 0.0.0.0:9192)
    --peers LIST       the OTHER nodes as "ID@HOST:PORT,..." (e.g. "2@host2:9292,3@host3:9392");
                       the node's own id comes from --node-id and must not be listed
    --join             start empty and wait to be added to a running cluster (POST
                       /admin/members on any member); --peers lists existing members.
                       Never bootstraps a group of its own. Node ids are never reused:
                       a replaced node joins under a fresh --node-id with an empty --data-dir

Exit codes: 0 clean stop (SIGTERM/SIGINT), 1 runtime failure, 2 usage error,
3 refused to start: the store is corrupt (one log line names the damage),
4 power loss injected by POST /admin/power-loss (needs --fault-fs),
5 an armed crash point was reached (POST /admin/crash-points).
`

// globalFlags defines the global options on fs, writing into o.
func globalFlags(fs *flag.FlagSet, o *options, logLevel *string, nodeID *uint64) {
	fs.IntVar(&o.kafkaPort, "kafka-port", 9092, "Kafka listener port (0 picks a free port)")
	fs.StringVar(&o.listenHost, "listen-host", "0.0.0.0", "address the Kafka and admin listeners bind to")
	fs.StringVar(&o.advertisedAddr, "advertised-addr", "", "host name clients are told to connect to (default: the host name)")
	fs.IntVar(&o.advertisedPort, "advertised-port", 0, "Kafka port clients are told to connect to, when a port mapping stands between them and the listener (default: the listener's port)")
	fs.StringVar(&o.advertisedAdmin, "advertised-admin-addr", "", "admin HOST:PORT peers forward admin requests to (default: the advertised host and the admin listener's port)")
	fs.StringVar(&o.rack, "rack", "", "this broker's rack (Kafka's broker.rack): consumers naming it (client.rack) are sent here to read the partitions it replicates (KIP-392)")
	fs.Uint64Var(nodeID, "node-id", 1, "this node's id (>= 1), its Raft id in every group")
	fs.StringVar(&o.dataDir, "data-dir", "", "directory of the node's store (required)")
	fs.IntVar(&o.adminPort, "admin-port", 9644, "admin HTTP port: /healthz /readyz /status /metrics /admin/... (0 picks a free port)")
	fs.StringVar(logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.IntVar(&o.defaultPartitions, "default-partitions", 1, "partitions of auto-created topics and of CreateTopics asking for -1")
	fs.BoolVar(&o.autoCreateTopics, "auto-create-topics", true, "create unknown topics on Metadata and Produce")
	fs.IntVar(&o.maxFrameBytes, "max-frame-bytes", kafka.DefaultMaxFrameBytes, "largest Kafka request frame; a larger one closes the connection")
	fs.DurationVar(&o.imbalanceInterval, "leader-imbalance-check-interval", cluster.DefaultLeaderImbalanceCheckInterval,
		"how often to check whether a returned node leads too few of its preferred partitions; they move back one at a time (0: never)")
	fs.IntVar(&o.imbalancePercent, "leader-imbalance-per-broker-percentage", cluster.DefaultLeaderImbalancePercentage,
		"move back once more than this share of a node's preferred partitions is led elsewhere")
	fs.Uint64Var(&o.snapshotEntries, "snapshot-entries", cluster.DefaultSnapshotEntries, "compact a Raft group's log after this many applied entries beyond the last compaction point; followers missing compacted entries get a snapshot")
	fs.Uint64Var(&o.snapshotCatchUp, "snapshot-catchup-entries", 0, "applied entries a compaction keeps for slow followers, which then catch up from the log instead of a snapshot")
	fs.BoolVar(&o.unsafe.AckBeforeCommit, "unsafe-ack-before-commit", false, "SEEDED BUG: answer acks=all before the entry commits")
	fs.BoolVar(&o.unsafe.StaleReads, "unsafe-stale-reads", false, "SEEDED BUG: serve Fetch/ListOffsets without proof of leadership")
	fs.BoolVar(&o.unsafe.UncommittedReads, "unsafe-uncommitted-reads", false, "SEEDED BUG: Fetch exposes entries above the commit index")
	fs.BoolVar(&o.unsafe.NoDedup, "unsafe-no-dedup", false, "SEEDED BUG: ignore idempotent producer sequence numbers")
	fs.BoolVar(&o.unsafe.DedupLastBatch, "unsafe-dedup-last-batch", false, "SEEDED BUG: remember only the last batch per idempotent producer (Kafka keeps 5) and append older retried batches again")
	fs.IntVar(&o.unsafe.RegistrationAttempts, "unsafe-registration-attempts", 0, "SEEDED BUG: exit after N failed registration attempts (0: retry forever)")
	fs.BoolVar(&o.unsafe.ForgetHardState, "unsafe-forget-hardstate", false, "SEEDED BUG: do not persist the Raft term and vote")
	fs.BoolVar(&o.unsafe.NoFsync, "unsafe-no-fsync", false, "SEEDED BUG: never fsync the Raft log and hard state")
	fs.BoolVar(&o.unsafe.ApplyBeforeSave, "unsafe-apply-before-save", false, "SEEDED BUG: apply committed entries before their Ready is saved")
	fs.BoolVar(&o.faultFS, "fault-fs", false, "run the store on the fault-injection file system, for POST /admin/power-loss (chaos harness; not a bug)")
	fs.BoolVar(&o.unsafe.DirectConfChange, "unsafe-direct-conf-change", false, "SEEDED BUG: change several voters at once (a replace) without joint consensus")
	fs.BoolVar(&o.unsafe.PromoteEarly, "unsafe-promote-early", false, "SEEDED BUG: make a new member a voter before it caught up")
	fs.BoolVar(&o.unsafe.LSOIsHW, "unsafe-lso-is-hw", false, "SEEDED BUG: serve read_committed up to the high watermark (records of open transactions)")
	fs.BoolVar(&o.unsafe.CommitBeforeMarkers, "unsafe-commit-before-markers", false, "SEEDED BUG: answer EndTxn before the transaction markers are replicated")
	fs.BoolVar(&o.unsafe.NoTxnVerification, "unsafe-no-txn-verification", false, "SEEDED BUG: append transactional batches without checking their transaction is ongoing")
	fs.BoolVar(&o.unsafe.SnapshotStaleState, "unsafe-snapshot-stale-state", false, "SEEDED BUG: send partition snapshots holding the state of the last compaction under the current applied index")
	fs.BoolVar(&o.unsafe.FollowerLocalReads, "unsafe-follower-local-reads", false, "SEEDED BUG: a follower serves Fetch/ListOffsets from its local log without ReadIndex")
	fs.BoolVar(&o.unsafe.OffsetAckBeforeCommit, "unsafe-offset-ack-before-commit", false, "SEEDED BUG: answer OffsetCommit before the __meta entry commits")
}

// printUsage writes the --help text: the global flags with their defaults
// in the "--name" spelling the CLI documents.
func printUsage(w io.Writer) {
	var o options
	var lvl string
	var id uint64
	fs := flag.NewFlagSet("chronik-server", flag.ContinueOnError)
	globalFlags(fs, &o, &lvl, &id)
	fmt.Fprint(w, usageHead)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		head := "  --" + f.Name
		if name != "" {
			head += " " + name
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" || f.Name == "unsafe-registration-attempts" || f.Name == "snapshot-catchup-entries" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%-36s %s%s\n", head, usage, def)
	})
	fmt.Fprint(w, usageTail)
}

// parseArgs parses the whole command line (without the program name).
func parseArgs(args []string) (*options, error) {
	o := &options{}
	var lvl string
	fs := flag.NewFlagSet("chronik-server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	globalFlags(fs, o, &lvl, &o.nodeID)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, usageErr("%v", err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return nil, usageErr("missing subcommand: standalone or raft-cluster")
	}
	switch lvl {
	case "debug":
		o.logLevel = slog.LevelDebug
	case "info":
		o.logLevel = slog.LevelInfo
	case "warn":
		o.logLevel = slog.LevelWarn
	case "error":
		o.logLevel = slog.LevelError
	default:
		return nil, usageErr("--log-level %q: want debug, info, warn or error", lvl)
	}
	if err := o.checkGlobal(); err != nil {
		return nil, err
	}

	o.mode = rest[0]
	sub := flag.NewFlagSet(o.mode, flag.ContinueOnError)
	sub.SetOutput(io.Discard)
	raftAddr := sub.String("raft-addr", "0.0.0.0:9192", "peer transport listen address")
	peers := sub.String("peers", "", "the other nodes: ID@HOST:PORT,...")
	join := sub.Bool("join", false, "start empty and wait to be added to a running cluster")
	switch o.mode {
	case "standalone", "raft-cluster":
	default:
		if strings.HasPrefix(o.mode, "-") {
			return nil, usageErr("flag %s after the global options: global options come first, then the subcommand", o.mode)
		}
		return nil, usageErr("unknown subcommand %q: want standalone or raft-cluster", o.mode)
	}
	if err := sub.Parse(rest[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, usageErr("%s: %v (global options must come before the subcommand)", o.mode, err)
	}
	if sub.NArg() > 0 {
		return nil, usageErr("%s: unexpected argument %q", o.mode, sub.Arg(0))
	}
	set := map[string]bool{}
	sub.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.mode == "standalone" {
		if set["peers"] || set["raft-addr"] || set["join"] {
			return nil, usageErr("standalone runs a single node and takes no --peers, --raft-addr or --join; for a multi-node cluster use: chronik-server [global options] raft-cluster --raft-addr ADDR --peers \"ID@HOST:PORT,...\"")
		}
		return o, nil
	}
	if _, _, err := net.SplitHostPort(*raftAddr); err != nil {
		return nil, usageErr("--raft-addr %q: %v", *raftAddr, err)
	}
	o.raftAddr = *raftAddr
	var err error
	o.peers, err = parsePeers(*peers, o.nodeID)
	if err != nil {
		return nil, err
	}
	o.join = *join
	if o.join && len(o.peers) == 0 {
		return nil, usageErr("raft-cluster --join needs --peers: the addresses of existing members to reach")
	}
	return o, nil
}

func (o *options) checkGlobal() error {
	switch {
	case o.nodeID < 1:
		return usageErr("--node-id must be >= 1")
	case o.dataDir == "":
		return usageErr("--data-dir is required")
	case o.kafkaPort < 0 || o.kafkaPort > 65535:
		return usageErr("--kafka-port %d outside 0..65535", o.kafkaPort)
	case o.advertisedPort < 0 || o.advertisedPort > 65535:
		return usageErr("--advertised-port %d outside 0..65535", o.advertisedPort)
	case o.adminPort < 0 || o.adminPort > 65535:
		return usageErr("--admin-port %d outside 0..65535", o.adminPort)
	case o.defaultPartitions < 1 || o.defaultPartitions > 10000:
		return usageErr("--default-partitions %d outside 1..10000", o.defaultPartitions)
	case o.maxFrameBytes < 1024 || o.maxFrameBytes > 1<<30:
		return usageErr("--max-frame-bytes %d outside 1024..%d", o.maxFrameBytes, 1<<30)
	case o.imbalanceInterval < 0:
		return usageErr("--leader-imbalance-check-interval must be >= 0")
	case o.imbalancePercent < 0 || o.imbalancePercent > 100:
		return usageErr("--leader-imbalance-per-broker-percentage %d outside 0..100", o.imbalancePercent)
	case o.unsafe.RegistrationAttempts < 0:
		return usageErr("--unsafe-registration-attempts must be >= 0")
	case o.snapshotEntries < 1 || o.snapshotEntries > 1<<40:
		return usageErr("--snapshot-entries %d outside 1..%d", o.snapshotEntries, uint64(1<<40))
	case o.snapshotCatchUp > 1<<40:
		return usageErr("--snapshot-catchup-entries %d above %d", o.snapshotCatchUp, uint64(1<<40))
	}
	return nil
}

// parsePeers parses "2@host2:9292,3@host3:9392": the other nodes of the
// cluster with their peer-transport addresses. Naming this node, repeating
// an id, an empty item or a bad address are errors.
func parsePeers(s string, self uint64) (map[uint64]string, error) {
	out := map[uint64]string{}
	s = strings.TrimSpace(s)
	if s == "" {
		return out, nil
	}
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		idS, addr, ok := strings.Cut(item, "@")
		if !ok || idS == "" || addr == "" {
			return nil, usageErr("--peers item %d %q: want ID@HOST:PORT", i+1, item)
		}
		id, err := strconv.ParseUint(idS, 10, 64)
		if err != nil || id < 1 {
			return nil, usageErr("--peers item %d %q: id %q is not an integer >= 1", i+1, item, idS)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" {
			return nil, usageErr("--peers item %d %q: address %q is not HOST:PORT", i+1, item, addr)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return nil, usageErr("--peers item %d %q: port %q outside 1..65535", i+1, item, port)
		}
		if id == self {
			return nil, usageErr("--peers names this node (id %d, from --node-id); list only the other nodes", id)
		}
		if prev, dup := out[id]; dup {
			return nil, usageErr("--peers repeats id %d (%s and %s)", id, prev, addr)
		}
		out[id] = addr
	}
	return out, nil
}

// unsafeFlags lists the seeded bugs switched on, for the start-up warning.
func (o *options) unsafeFlags() []string {
	var out []string
	u := o.unsafe
	add := func(on bool, name string) {
		if on {
			out = append(out, name)
		}
	}
	add(u.AckBeforeCommit, "--unsafe-ack-before-commit")
	add(u.StaleReads, "--unsafe-stale-reads")
	add(u.UncommittedReads, "--unsafe-uncommitted-reads")
	add(u.NoDedup, "--unsafe-no-dedup")
	add(u.DedupLastBatch, "--unsafe-dedup-last-batch")
	add(u.RegistrationAttempts > 0, fmt.Sprintf("--unsafe-registration-attempts=%d", u.RegistrationAttempts))
	add(u.ForgetHardState, "--unsafe-forget-hardstate")
	add(u.NoFsync, "--unsafe-no-fsync")
	add(u.ApplyBeforeSave, "--unsafe-apply-before-save")
	add(u.DirectConfChange, "--unsafe-direct-conf-change")
	add(u.PromoteEarly, "--unsafe-promote-early")
	add(u.LSOIsHW, "--unsafe-lso-is-hw")
	add(u.CommitBeforeMarkers, "--unsafe-commit-before-markers")
	add(u.NoTxnVerification, "--unsafe-no-txn-verification")
	add(u.SnapshotStaleState, "--unsafe-snapshot-stale-state")
	add(u.FollowerLocalReads, "--unsafe-follower-local-reads")
	add(u.OffsetAckBeforeCommit, "--unsafe-offset-ack-before-commit")
	sort.Strings(out)
	return out
}

// leaderImbalanceInterval is cluster.Config's value for
// --leader-imbalance-check-interval: 0 on the command line never moves
// leadership back, which Config spells as a negative interval (its 0 is the
// default).
func (o *options) leaderImbalanceInterval() time.Duration {
	if o.imbalanceInterval == 0 {
		return -1
	}
	return o.imbalanceInterval
}
