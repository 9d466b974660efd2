package harness

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/docker"
	"github.com/chronik-chaos/chronik/nemesis"
)

// Config is one test's configuration: the flags of `chaos run` (DESIGN.md)
// plus the tuning knobs with their defaults. It is saved as test.json, so
// the fields named by the store contract (name, seed, nodes, nemesis,
// workload, time_limit, broker_args, command_line) keep their JSON names;
// the embedded groups marshal flat, beside them.
type Config struct {
	Name      string   `json:"name"`
	Seed      int64    `json:"seed"`
	Nodes     int      `json:"nodes"`
	Workload  string   `json:"workload"`
	TimeLimit Duration `json:"time_limit"`
	// Nemesis lists the fault families, NemesisInterval times them and
	// FaultKnobs aim and size them.
	Nemesis         []string `json:"nemesis"`
	NemesisInterval Duration `json:"nemesis_interval"`
	FaultKnobs
	BrokerArgs   []string `json:"broker_args"`
	CommandLine  []string `json:"command_line"`
	Rate         float64  `json:"rate"`
	Concurrency  int      `json:"concurrency"`
	Store        string   `json:"store"`
	Image        string   `json:"image,omitempty"`
	BrokerBinary string   `json:"broker_binary,omitempty"`
	TestCount    int      `json:"test_count"`

	Placement
	Tuning
	PhaseBounds
	RunFacts
	ReplayFacts
}

// FaultKnobs are the nemesis knobs passed to the scheduler (zero: its
// defaults).
type FaultKnobs struct {
	Targets []string `json:"targets,omitempty"`
	Grudges []string `json:"grudges,omitempty"`
	// CorruptKinds are the damages the corrupt nemesis draws from
	// (nemesis.CorruptKinds); empty means nemesis.DefaultCorruptKinds.
	CorruptKinds []string `json:"corrupt_kinds,omitempty"`
	LeaderGroup  string   `json:"leader_group,omitempty"`
	// LossPercent and Delay size the loss and delay faults.
	LossPercent int      `json:"loss_percent,omitempty"`
	Delay       Duration `json:"delay,omitempty"`
	// ClientModes are the client fault modes client draws from (both,
	// responses, loss; empty: all).
	ClientModes []string `json:"client_modes,omitempty"`
	// JoinDelay is how long the member fault waits between recording a
	// new member and starting its node.
	JoinDelay Duration `json:"join_delay,omitempty"`
}

// Tuning sizes the workload: flags too, rarely changed.
type Tuning struct {
	Partitions   int      `json:"partitions_per_topic"`
	ActiveKeys   int      `json:"active_keys"`
	WritesPerKey int      `json:"writes_per_key"`
	OpTimeout    Duration `json:"op_timeout"`
	// Producers are the producer kinds client processes draw from
	// (history.ProducerKinds; empty: all of them).
	Producers []string `json:"producers,omitempty"`
	// SnapshotEntries and SnapshotCatchUp become every node's
	// --snapshot-entries and --snapshot-catchup-entries (0: the broker's
	// defaults, 10,000 and 0), placed before --broker-args, which may
	// override them.
	SnapshotEntries uint64 `json:"snapshot_entries"`
	SnapshotCatchUp uint64 `json:"snapshot_catchup_entries"`
}

// PhaseBounds bound the phases of a run (flags too, rarely changed).
type PhaseBounds struct {
	// StartGap separates node starts under staggered-start, but for one
	// wait before a majority has started, LongStartGap (0: none), which
	// leaves the nodes already up without quorum for longer than the
	// broker's registration patience.
	StartGap       Duration `json:"start_gap"`
	LongStartGap   Duration `json:"long_start_gap"`
	ReadyTimeout   Duration `json:"ready_timeout"`
	RecoverTimeout Duration `json:"recover_timeout"`
	DrainTimeout   Duration `json:"drain_timeout"`
	CheckTimeout   Duration `json:"check_timeout"`
	// ReplicasTimeout bounds reading every node's copy of every
	// partition after the drain.
	ReplicasTimeout Duration `json:"replicas_timeout"`
}

// RunFacts are filled in by the run and recorded for replay and reports.
type RunFacts struct {
	RunID      string            `json:"run_id,omitempty"`
	StartTime  time.Time         `json:"start_time,omitzero"`
	NodeNames  []string          `json:"node_names,omitempty"`
	NodeArgs   map[string]string `json:"node_command_lines,omitempty"`
	SeedSource string            `json:"seed_source,omitempty"`
}

// Duration marshals as a Go duration string ("60s"), as test.json's
// time_limit contract requires.
type Duration time.Duration

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string or nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration: %w", err)
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// KnownNemeses are the names --nemesis accepts: the families of the table
// of nemesis functions that this harness has (history.NemesisNames).
var KnownNemeses = history.NemesisNames()

// corruptKindsHelp lists the corrupt nemesis's damages for --help.
var corruptKindsHelp, defaultCorruptKindsHelp = strings.Join(nemesis.CorruptKinds, ","), strings.Join(nemesis.DefaultCorruptKinds, ",")

// DefaultConfig is `make chaos`: 3 nodes, 60 s, the staggered start and
// leader kills.
func DefaultConfig() Config {
	return Config{
		Nodes:           3,
		Nemesis:         []string{nemesis.FamilyStaggeredStart, nemesis.FamilyKill, nemesis.FamilyClient},
		Workload:        WorkloadQueue,
		TimeLimit:       Duration(60 * time.Second),
		Rate:            200,
		Concurrency:     6,
		NemesisInterval: Duration(10 * time.Second),
		Store:           "store",
		TestCount:       1,
		Placement:       defaultPlacement(),
		Tuning: Tuning{
			Partitions:      2,
			ActiveKeys:      4,
			WritesPerKey:    400,
			OpTimeout:       Duration(8 * time.Second),
			SnapshotEntries: DefaultSnapshotEntries,
			SnapshotCatchUp: DefaultSnapshotCatchUp,
		},
		PhaseBounds: PhaseBounds{
			StartGap:       Duration(4 * time.Second),
			LongStartGap:   Duration(nemesis.DefaultLongStartGap),
			ReadyTimeout:   Duration(60 * time.Second),
			RecoverTimeout: Duration(60 * time.Second),
			DrainTimeout:   Duration(45 * time.Second),
			CheckTimeout:   Duration(5 * time.Minute),
			// Measured: a 90 s run's 50-odd partitions read from three
			// nodes in about a second.
			ReplicasTimeout: Duration(60 * time.Second),
		},
	}
}

// Snapshot thresholds of chaos runs. The broker's own defaults (10,000 and
// 0) never compact in a run of minutes. These are low enough that a node
// killed or paused for one fault window must catch up by snapshot: a key
// takes about 25 acknowledged sends per second between faults at the
// default rate, but only 4-6 per second while a node is down (clients wait
// out requests in flight to it), and a kill lasts 5-15 s at the default
// interval; a node that missed more than about 40 entries of a group
// (compactions every 32 entries keep the last 8) needs a snapshot.
const (
	DefaultSnapshotEntries = 32
	DefaultSnapshotCatchUp = 8
)

// ErrUsage marks configuration errors (exit code 2).
var ErrUsage = errors.New("usage")

// ParseRunFlags parses the flags of `chaos run`. A seed of 0 (the default)
// means: derive one from the clock, and say so in SeedSource. Errors wrap
// ErrUsage (or are flag.ErrHelp).
func ParseRunFlags(args []string, stderr io.Writer) (Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("chaos run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nemesis, brokerArgs, targets, grudges, corruptKinds string
	var delay, joinDelay time.Duration
	var clientModes, producers string
	var timeLimit, interval, opTimeout, startGap, longGap, readyTO, recoverTO, drainTO, checkTO, replicasTO time.Duration
	fs.StringVar(&cfg.Name, "name", "", "test name (default: chronik-<workload>-<nemeses>)")
	fs.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "number of broker nodes")
	fs.DurationVar(&timeLimit, "time-limit", cfg.TimeLimit.D(), "how long the workload and nemesis run")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "total client operations per second, over all clients")
	fs.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "number of client processes")
	fs.StringVar(&cfg.Workload, "workload", cfg.Workload, "workload: queue (Jepsen's Kafka send/poll), log (appends + exact reads, linearizability) or txn (Jepsen's transactional Kafka workload)")
	fs.StringVar(&nemesis, "nemesis", strings.Join(cfg.Nemesis, ","), "comma-separated faults: "+strings.Join(KnownNemeses, ",")+" (or none)")
	fs.DurationVar(&interval, "nemesis-interval", cfg.NemesisInterval.D(), "mean gap between fault actions")
	fs.Int64Var(&cfg.Seed, "seed", 0, "seed of every random choice (default: from the clock, printed)")
	fs.StringVar(&cfg.Store, "store", cfg.Store, "store directory")
	fs.StringVar(&cfg.Image, "image", "", "broker image tag to use instead of building one")
	fs.StringVar(&cfg.BrokerBinary, "broker-binary", "", "static chronik-server binary to put in the image instead of building one (e.g. bin/chronik-server)")
	fs.IntVar(&cfg.TestCount, "test-count", cfg.TestCount, "number of tests to run one after another (seeds seed, seed+1, ...)")
	fs.StringVar(&brokerArgs, "broker-args", "", "extra flags for every node, e.g. \"--unsafe-ack-before-commit\"")
	fs.StringVar(&targets, "targets", "", "node selections kill, pause, power-loss and crash draw from: one,leader,minority,majority,all,voter (default all but voter: a node that has just voted in an election)")
	fs.StringVar(&grudges, "grudges", "", "partition shapes: one,majority,majorities-ring,minority-third,bridge,isolate-leader (default all)")
	fs.StringVar(&corruptKinds, "corrupt-kinds", "", "damages the corrupt nemesis draws from: "+corruptKindsHelp+" (default "+defaultCorruptKindsHelp+")")
	fs.StringVar(&cfg.LeaderGroup, "leader-group", "", "Raft group whose leader the leader target aims at: __meta (default) or topic/partition, e.g. t0/0")
	fs.IntVar(&cfg.LossPercent, "loss-percent", 0, "share of packets between broker nodes the loss fault drops, 1..100 (default the nemesis default)")
	fs.DurationVar(&delay, "delay", 0, "latency the delay fault adds to peer traffic (default the nemesis default)")
	fs.DurationVar(&joinDelay, "join-delay", 0, "member fault: wait between recording a new member and starting its node (default 8s)")
	fs.IntVar(&cfg.Partitions, "partitions", cfg.Partitions, "partitions per topic")
	fs.IntVar(&cfg.ActiveKeys, "active-keys", cfg.ActiveKeys, "keys (topic-partitions) written at a time")
	fs.IntVar(&cfg.WritesPerKey, "writes-per-key", cfg.WritesPerKey, "writes after which a key is retired for a fresh one")
	fs.DurationVar(&opTimeout, "op-timeout", cfg.OpTimeout.D(), "deadline of one client operation")
	fs.Uint64Var(&cfg.SnapshotEntries, "snapshot-entries", cfg.SnapshotEntries, "every node's --snapshot-entries: compact a Raft log after this many applied entries (0: the broker's default, 10000)")
	fs.Uint64Var(&cfg.SnapshotCatchUp, "snapshot-catchup-entries", cfg.SnapshotCatchUp, "every node's --snapshot-catchup-entries: entries a compaction keeps for slow followers")
	fs.DurationVar(&startGap, "start-gap", cfg.StartGap.D(), "gap between node starts of staggered-start")
	fs.DurationVar(&longGap, "long-start-gap", cfg.LongStartGap.D(), "one wait of staggered-start before a majority has started (0: none), longer than the broker's registration patience")
	fs.StringVar(&producers, "producers", "", "producer kinds client processes draw from: "+strings.Join(history.ProducerKinds, ",")+" (default all)")
	fs.StringVar(&clientModes, "client-modes", "", "client fault modes: both,responses,loss (default all)")
	fs.DurationVar(&readyTO, "ready-timeout", cfg.ReadyTimeout.D(), "bound on waiting for every node's /readyz at setup")
	fs.DurationVar(&recoverTO, "recover-timeout", cfg.RecoverTimeout.D(), "bound on the recovery wait after the final heal")
	fs.DurationVar(&drainTO, "drain-timeout", cfg.DrainTimeout.D(), "bound on the final reads")
	fs.DurationVar(&checkTO, "check-timeout", cfg.CheckTimeout.D(), "bound on the checkers")
	placementFlags(fs, &cfg.Placement)
	fs.DurationVar(&replicasTO, "replicas-timeout", cfg.ReplicasTimeout.D(), "bound on reading every node's copy of every partition after the drain")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	}
	cfg.TimeLimit, cfg.NemesisInterval, cfg.OpTimeout = Duration(timeLimit), Duration(interval), Duration(opTimeout)
	cfg.StartGap, cfg.ReadyTimeout, cfg.RecoverTimeout = Duration(startGap), Duration(readyTO), Duration(recoverTO)
	cfg.LongStartGap = Duration(longGap)
	cfg.ClientModes = splitList(clientModes)
	cfg.Producers = splitList(producers)
	cfg.DrainTimeout, cfg.CheckTimeout, cfg.ReplicasTimeout = Duration(drainTO), Duration(checkTO), Duration(replicasTO)
	cfg.Delay, cfg.JoinDelay = Duration(delay), Duration(joinDelay)
	cfg.Nemesis = splitList(nemesis)
	cfg.Targets, cfg.Grudges = splitList(targets), splitList(grudges)
	cfg.CorruptKinds = splitList(corruptKinds)
	cfg.BrokerArgs = strings.Fields(brokerArgs)
	cfg.CommandLine = append([]string{"chaos", "run"}, args...)
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p != "" && p != "none" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// Validate checks the configuration and fills the derived name. Errors wrap
// ErrUsage.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
	}
	if c.FaultPath == "" {
		c.FaultPath = docker.FaultPathAuto // a test.json from before the flag
	}
	if c.ClientAccess == "" {
		c.ClientAccess = docker.AccessAuto
	}
	if err := c.Placement.validate(); err != nil {
		return err
	}
	switch {
	case c.Nodes < 1 || c.Nodes > 9:
		return bad("--nodes must be in 1..9, got %d", c.Nodes)
	case c.TimeLimit.D() <= 0:
		return bad("--time-limit must be positive")
	case c.Rate <= 0:
		return bad("--rate must be positive")
	case c.Concurrency < 1 || c.Concurrency > 1000:
		return bad("--concurrency must be in 1..1000")
	case !slices.Contains(Workloads, c.Workload):
		return bad("--workload must be one of %s, got %q", strings.Join(Workloads, ", "), c.Workload)
	case c.TestCount < 1:
		return bad("--test-count must be at least 1")
	case c.Partitions < 1 || c.ActiveKeys < 1 || c.WritesPerKey < 1:
		return bad("--partitions, --active-keys and --writes-per-key must be positive")
	case c.OpTimeout.D() <= 0:
		return bad("--op-timeout must be positive")
	case c.LossPercent < 0 || c.LossPercent > 100:
		return bad("--loss-percent must be in 1..100")
	case c.Delay.D() < 0 || c.Delay.D() > 0 && c.Delay.D() < time.Millisecond:
		return bad("--delay must be at least 1ms")
	}
	for _, list := range []struct {
		what        string
		given, want []string
	}{
		{"nemesis", c.Nemesis, KnownNemeses},
		{"target", c.Targets, nemesis.TargetNames},
		{"grudge", c.Grudges, nemesis.GrudgeNames},
		{"client mode", c.ClientModes, nemesis.ClientModes},
		{"producer", c.Producers, history.ProducerKinds},
		{"corruption", c.CorruptKinds, nemesis.CorruptKinds},
	} {
		for _, v := range list.given {
			if !slices.Contains(list.want, v) {
				return bad("unknown %s %q (want any of %s)", list.what, v, strings.Join(list.want, ","))
			}
		}
	}
	if c.Name == "" {
		nem := "none"
		if len(c.Nemesis) > 0 {
			nem = strings.Join(c.Nemesis, "+")
		}
		c.Name = "chronik-" + c.Workload + "-" + nem
	}
	if strings.ContainsAny(c.Name, "/\\ ") {
		return bad("--name must not contain slashes or spaces")
	}
	return nil
}

// Faults are the nemeses the scheduler runs: all but the setup phases (the
// staggered start), as the table of nemesis functions marks them.
func (c *Config) Faults() []string {
	var out []string
	for _, n := range c.Nemesis {
		if fam, _ := history.NemesisFamilyNamed(n); fam.Scheduled {
			out = append(out, n)
		}
	}
	return out
}

// NodeBrokerArgs are the extra flags of every node: the snapshot thresholds,
// then --broker-args (a later flag wins, so those may override them).
func (c *Config) NodeBrokerArgs() []string {
	var out []string
	if c.SnapshotEntries > 0 {
		out = append(out, "--snapshot-entries", strconv.FormatUint(c.SnapshotEntries, 10))
	}
	if c.SnapshotEntries > 0 || c.SnapshotCatchUp > 0 {
		out = append(out, "--snapshot-catchup-entries", strconv.FormatUint(c.SnapshotCatchUp, 10))
	}
	if history.NeedFaultFS(c.Faults()) {
		// The durability faults need the fault-injection file system
		// under the store; it behaves as the real disk until one fires.
		out = append(out, "--fault-fs")
	}
	return append(out, c.BrokerArgs...)
}

// snapshotThresholds are the thresholds the nodes run with: the last
// --snapshot-entries and --snapshot-catchup-entries of their flags (0:
// the broker's defaults).
func (c *Config) snapshotThresholds() (entries, catchUp uint64) {
	args := c.NodeBrokerArgs()
	for i, a := range args {
		name, val, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !inline && i+1 < len(args) {
			val = args[i+1]
		}
		v, err := strconv.ParseUint(val, 10, 64)
		if err != nil || !strings.HasPrefix(a, "-") {
			continue
		}
		switch name {
		case "snapshot-entries":
			entries = v
		case "snapshot-catchup-entries":
			catchUp = v
		}
	}
	return entries, catchUp
}

// Staggered reports whether the nodes start one by one.
func (c *Config) Staggered() bool { return slices.Contains(c.Nemesis, nemesis.FamilyStaggeredStart) }
