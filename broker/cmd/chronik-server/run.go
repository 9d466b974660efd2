package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"

	"github.com/chronik-chaos/chronik/broker/admin"
	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/kafka"
	"github.com/chronik-chaos/chronik/broker/storage"
	"github.com/cockroachdb/pebble"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	// exitCorruptStore: the store is damaged (storage.ErrCorrupt) and the
	// node refuses to start rather than serve what is left of it.
	exitCorruptStore = 3
	// exitPowerLoss: POST /admin/power-loss dropped the unsynced state
	// and the process stopped as a power cut stops it.
	exitPowerLoss = cluster.ExitPowerLoss
	// exitCrashPoint: an armed crash point was reached.
	exitCrashPoint = cluster.ExitCrashPoint
)

// run is main without the process: it parses args, serves until ctx ends
// (a signal) or the node fails, and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args)
	switch {
	case errors.Is(err, errHelp):
		printUsage(stdout)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "chronik-server: %v\nRun 'chronik-server --help' for usage.\n", err)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: o.logLevel}))
	for _, f := range o.unsafeFlags() {
		log.Warn("UNSAFE: seeded bug enabled; this broker is deliberately incorrect and loses or corrupts data", "flag", f)
	}
	if err := serve(ctx, o, log, nil); err != nil {
		if storeCorrupt(err) {
			logRefusal(log, o.dataDir, err)
			return exitCorruptStore
		}
		log.Error("chronik-server failed", "err", err)
		return exitFailure
	}
	return exitOK
}

// storeCorrupt reports whether err is damage to the store: the broker's
// own checks (storage.ErrCorrupt) or pebble's, such as a sorted table
// failing its checksum when the partitions are scanned at start (found by
// the chaos harness's corrupt nemesis, which flips bits in a table: the
// node exited 1 as on any failure, not 3 as on a damaged store).
func storeCorrupt(err error) bool {
	return errors.Is(err, storage.ErrCorrupt) || pebble.IsCorruptionError(err)
}

// refusalMsg is the one log line of a refusal to start on a damaged store.
// Its message and attributes are a contract: the chaos harness matches them
// to tell a refused node from a crashed one.
const refusalMsg = "refusing to start: the store is corrupt"

// logRefusal logs refusalMsg with data_dir and err, plus file and offset
// when the damage is in a write-ahead log, and file (with offset when the
// damage has one) when the store names another damaged or missing file.
func logRefusal(log *slog.Logger, dataDir string, err error) {
	attrs := []any{"data_dir", dataDir}
	var cw *storage.CorruptWALError
	var cf *storage.CorruptFileError
	switch {
	case errors.As(err, &cw):
		attrs = append(attrs, "file", cw.File, "offset", cw.Offset)
	case errors.As(err, &cf) && cf.Offset >= 0:
		attrs = append(attrs, "file", cf.File, "offset", cf.Offset)
	case errors.As(err, &cf):
		attrs = append(attrs, "file", cf.File)
	}
	log.Error(refusalMsg, append(attrs, "err", err)...)
}

// listeners are the sockets serve opened, reported to tests.
type listeners struct {
	kafka, admin net.Addr
}

// serve opens the Kafka and admin listeners first (so that a node without
// quorum still answers /healthz and /status, and clients can connect while
// elections run), then the node, and serves until ctx ends or the node
// fails. ready, if set, receives the listener addresses once serving.
func serve(ctx context.Context, o *options, log *slog.Logger, ready chan<- listeners) error {
	kln, err := net.Listen("tcp", net.JoinHostPort(o.listenHost, strconv.Itoa(o.kafkaPort)))
	if err != nil {
		return fmt.Errorf("open kafka listener: %w", err)
	}
	defer kln.Close()
	aln, err := net.Listen("tcp", net.JoinHostPort(o.listenHost, strconv.Itoa(o.adminPort)))
	if err != nil {
		return fmt.Errorf("open admin listener: %w", err)
	}
	defer aln.Close()

	advertised := o.advertisedAddr
	if advertised == "" {
		if advertised, err = os.Hostname(); err != nil || advertised == "" {
			advertised = "localhost"
		}
	}
	kafkaPort := kln.Addr().(*net.TCPAddr).Port
	if o.advertisedPort != 0 {
		kafkaPort = o.advertisedPort
	}
	adminAddr := net.JoinHostPort(advertised, strconv.Itoa(aln.Addr().(*net.TCPAddr).Port))
	if o.advertisedAdmin != "" {
		adminAddr = o.advertisedAdmin
	}
	cfg := cluster.Config{
		NodeID:                       o.nodeID,
		DataDir:                      o.dataDir,
		Standalone:                   o.mode == "standalone",
		RaftAddr:                     o.raftAddr,
		Peers:                        o.peers,
		Join:                         o.join,
		AdminAddr:                    adminAddr,
		AdvertisedHost:               advertised,
		KafkaPort:                    int32(kafkaPort),
		Rack:                         o.rack,
		DefaultPartitions:            int32(o.defaultPartitions),
		AutoCreateTopics:             o.autoCreateTopics,
		Unsafe:                       o.unsafe,
		FaultFS:                      o.faultFS,
		SnapshotEntries:              o.snapshotEntries,
		SnapshotCatchUpEntries:       o.snapshotCatchUp,
		LeaderImbalanceCheckInterval: o.leaderImbalanceInterval(),
		LeaderImbalancePercentage:    o.imbalancePercent,
		Logger:                       log.With("component", "cluster"),
	}
	node, err := cluster.New(cfg)
	if err != nil {
		return fmt.Errorf("open node %d: %w", o.nodeID, err)
	}
	defer node.Stop()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := kafka.NewMetrics(reg)
	if err != nil {
		return fmt.Errorf("register kafka metrics: %w", err)
	}
	ks, err := kafka.New(kafka.Config{
		Backend:           node,
		Logger:            log.With("component", "kafka"),
		MaxFrameBytes:     int32(o.maxFrameBytes),
		AutoCreateTopics:  o.autoCreateTopics,
		DefaultPartitions: int32(o.defaultPartitions),
		// Both seeded bugs skip the sequence check that rejects an
		// overtaking batch before it is acknowledged (no-dedup ignores
		// sequences, ack-before-commit answers before the check applies),
		// so produce order must not depend on it: each bug then shows only
		// its own mistake.
		StrictProduceOrder: o.unsafe.NoDedup || o.unsafe.AckBeforeCommit,
		Metrics:            metrics,
	})
	if err != nil {
		return fmt.Errorf("create kafka server: %w", err)
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := ks.Serve(sctx, kln); err != nil {
			errc <- err
		}
	}()
	go func() {
		defer wg.Done()
		err := admin.Serve(sctx, aln, admin.Config{
			Source:     node,
			Delayer:    node,
			Members:    node,
			Gatherer:   prometheus.Gatherers{node.Metrics(), reg},
			Logger:     log.With("component", "admin"),
			Durability: node,
		})
		if err != nil {
			errc <- err
		}
	}()
	defer func() {
		cancel()
		ks.Close()
		wg.Wait()
	}()

	if err := node.Start(sctx); err != nil {
		return fmt.Errorf("start node %d: %w", o.nodeID, err)
	}
	log.Info("chronik-server serving", "mode", o.mode, "node", o.nodeID, "kafka", kln.Addr().String(),
		"admin", aln.Addr().String(), "advertised", net.JoinHostPort(advertised, strconv.Itoa(int(cfg.KafkaPort))),
		"raft", o.raftAddr, "peers", len(o.peers), "join", o.join, "data_dir", o.dataDir)
	if ready != nil {
		ready <- listeners{kafka: kln.Addr(), admin: aln.Addr()}
	}

	select {
	case <-ctx.Done():
		log.Info("signal received, stopping")
		return nil
	case err := <-node.Fatal():
		return fmt.Errorf("node %d gave up: %w", o.nodeID, err)
	case err := <-errc:
		return err
	}
}
