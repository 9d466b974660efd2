package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/cockroachdb/pebble"
)

// DB is the node's single pebble store shared by every Raft group.
type DB struct {
	*pebble.DB
	Dir string
}

// Open opens (creating if needed) the pebble store in dir.
func Open(dir string, log *slog.Logger) (*DB, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", dir, err)
	}
	opts := &pebble.Options{
		// The tests run several nodes in one process on a 2-core machine:
		// keep per-node memory modest.
		Cache:        pebble.NewCache(16 << 20),
		MemTableSize: 8 << 20,
		Logger:       pebbleLogger{log: log},
	}
	defer opts.Cache.Unref()
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open pebble store %s: %w", dir, err)
	}
	return &DB{DB: db, Dir: dir}, nil
}

// DeleteGroup removes everything stored for group (entries, hard state,
// snapshot metadata and state machine data) durably.
func (d *DB) DeleteGroup(group uint64) error {
	lo, hi := GroupBounds(group)
	if err := d.DeleteRange(lo, hi, pebble.Sync); err != nil {
		return fmt.Errorf("delete group %d: %w", group, err)
	}
	return nil
}

// GetCopy returns a copy of the value at key, or nil, false when absent.
func (d *DB) GetCopy(key []byte) ([]byte, bool, error) {
	v, closer, err := d.DB.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, true, nil
}

type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	if l.log != nil {
		l.log.Debug("pebble", "msg", fmt.Sprintf(format, args...))
	}
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	if l.log != nil {
		l.log.Error("pebble", "msg", fmt.Sprintf(format, args...))
	}
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	if l.log != nil {
		l.log.Error("pebble fatal", "msg", fmt.Sprintf(format, args...))
	}
	panic(fmt.Sprintf(format, args...))
}
