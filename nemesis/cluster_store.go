package nemesis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// StoreCluster is what the durability families (power-loss, crash,
// corrupt) need beyond Cluster: their nodes exit on their own, by the
// fault's design, so the exit must be declared expected and then checked
// (its code, and the node's own log line); and corrupt damages files of a
// stopped node. The docker package implements it. It is a separate
// interface so that a Cluster without durability faults stays small;
// NewScheduler refuses a durability family on a cluster that lacks it.
type StoreCluster interface {
	Cluster
	// ExpectExit declares that node's broker is about to exit on its own
	// with one of codes (a power loss: 4, a crash point: 5, a refused
	// store: 3): such an exit is the fault's doing, not a crash. Any other
	// exit code still counts as one. Start clears the declaration unless
	// StartExpecting makes it.
	ExpectExit(node string, codes ...int)
	// StartExpecting starts node as Start does, with an exit of one of
	// codes declared expected from the start (a node whose store was
	// damaged may refuse it at once).
	StartExpecting(ctx context.Context, node string, codes ...int) error
	// ExitCode is the code node's broker exited with the last time; the
	// node must not be running.
	ExitCode(ctx context.Context, node string) (int, error)
	// LogTail returns node's last n log lines as streamed so far (lines
	// reach it within a fraction of a second of being written).
	LogTail(node string, n int) []string
	// AdminBody performs an admin request with a JSON body.
	AdminBody(ctx context.Context, node, method, path string, body []byte) (int, []byte, error)
	// CorruptStore damages one file of a stopped node's data directory as
	// c says and reports what it did.
	CorruptStore(ctx context.Context, node string, c Corruption) (Corrupted, error)
}

// Exit codes of the broker (broker/cmd/chronik-server: the CLI contract).
const (
	ExitCorruptStore = 3
	ExitPowerLoss    = 4
	ExitCrashPoint   = 5
)

// Log messages of the broker that the durability families verify by (their
// text is the broker's contract, docs/contracts.md).
const (
	MsgPowerLoss  = `msg="power loss: dropped every write no fsync covered"`
	MsgCrashPoint = `msg="crash point reached"`
	MsgRefusal    = `msg="refusing to start: the store is corrupt"`
	MsgTornTail   = `msg="cut the torn tail of the newest pebble WAL"`
)

// Corruption kinds (Corruption.Kind).
const (
	// CorruptFlip flips bits in a random stored file.
	CorruptFlip = "flip-bits"
	// CorruptTruncateWAL cuts the tail of the newest write-ahead log.
	CorruptTruncateWAL = "truncate-wal"
	// CorruptRemove removes a random stored file.
	CorruptRemove = "remove-file"
)

// CorruptKinds lists the corruption kinds, in the order draws index them.
var CorruptKinds = []string{CorruptFlip, CorruptTruncateWAL, CorruptRemove}

// DefaultCorruptKinds are the kinds corrupt draws from when
// Options.CorruptKinds is empty: remove-file is left out because no store
// can see every removal (the only WAL of a node that never flushed
// removed leaves a valid empty store: the node comes back with amnesia,
// which Raft does not survive), and the broker answers the ones it could
// see with exit 1 or a panic rather than a refusal (README, Durability
// nemeses); ask for it with --corrupt-kinds.
var DefaultCorruptKinds = []string{CorruptFlip, CorruptTruncateWAL}

// Corruption says what CorruptStore does. Every choice comes from Seed, so
// a run's damage can be replayed.
type Corruption struct {
	Kind string `json:"kind"`
	Seed uint64 `json:"seed"`
}

// Corrupted is what CorruptStore did.
type Corrupted struct {
	Kind string `json:"kind"`
	// File is the path relative to the data directory.
	File string `json:"file"`
	// SizeBefore and SizeAfter are the file's sizes (SizeAfter -1: the
	// file was removed).
	SizeBefore int64 `json:"size_before"`
	SizeAfter  int64 `json:"size_after"`
	// Offsets are the byte offsets whose bits were flipped (flip-bits),
	// and Masks the bit each one flipped (1<<k).
	Offsets []int64 `json:"offsets,omitempty"`
	Masks   []int   `json:"masks,omitempty"`
	// Note says why a choice fell back (no WAL to truncate: a file
	// flipped instead).
	Note string `json:"note,omitempty"`
}

// errNoStoreCluster: a durability family on a cluster that cannot do it.
var errNoStoreCluster = errors.New("nemesis: the cluster cannot inject durability faults (no StoreCluster)")

// storeCluster returns the cluster as a StoreCluster.
func (s *Scheduler) storeCluster() (StoreCluster, error) {
	sc, ok := s.c.(StoreCluster)
	if !ok {
		return nil, errNoStoreCluster
	}
	return sc, nil
}

// storeTargets begins the start of a store fault that acts on drawn
// targets (crash, power-loss): the store interface and the nodes, with the
// start's value. With no node to act on the start is recorded skipped and
// nodes is empty.
func (s *Scheduler) storeTargets(ctx context.Context, rec Recorder, f string) (StoreCluster, []string, Value, error) {
	sc, err := s.storeCluster()
	if err != nil {
		return nil, nil, nil, err
	}
	nodes, v, err := s.resolveTargets(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(nodes) == 0 {
		skipped(rec, f, v, "no running node that is not already held by a fault")
	}
	return sc, nodes, v, nil
}

// logWait bounds the wait for a node's log line after its exit: the log
// stream follows the container with a delay well under a second. A
// variable so tests can shorten it.
var logWait = 5 * time.Second

// lastLine waits until one of node's last lines contains every part, and
// returns it ("" when none did within logWait). The broker writes the line
// just before it exits, so only the last few lines are searched: an older
// incarnation's line further up does not count.
func lastLine(ctx context.Context, sc StoreCluster, node string, parts ...string) string {
	ctx, cancel := context.WithTimeout(ctx, logWait)
	defer cancel()
	for {
		tail := sc.LogTail(node, 8)
		for i := len(tail) - 1; i >= 0; i-- {
			if containsAll(tail[i], parts) {
				return tail[i]
			}
		}
		if !sleep(ctx, pollEvery) {
			return ""
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// waitExit waits until node has exited and returns its exit code.
func waitExit(ctx context.Context, sc StoreCluster, node string) (int, error) {
	st, err := waitState(ctx, sc, node, func(st NodeState) bool { return st == Exited })
	if err != nil {
		return -1, fmt.Errorf("%s did not exit (state %s): %w", node, st, err)
	}
	return sc.ExitCode(ctx, node)
}

// logField reads key=value from a logfmt line ("" when absent); quoted
// values are returned without their quotes.
func logField(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if strings.HasPrefix(v, `"`) {
		end := 1
		for end < len(v) && (v[end] != '"' || v[end-1] == '\\') {
			end++
		}
		return strings.ReplaceAll(v[1:min(end, len(v))], `\"`, `"`)
	}
	if j := strings.IndexByte(v, ' '); j >= 0 {
		return v[:j]
	}
	return v
}
