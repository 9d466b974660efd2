package storage

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// DB is the node's single pebble store shared by every Raft group.
type DB struct {
	*pebble.DB
	Dir string
	// Fault is the fault-injection file system under pebble, or nil (see
	// Options.FaultFS).
	Fault *FaultFS
	// ledger is the sync ledger pebble's fsyncs are recorded in
	// (sync_ledger.go).
	ledger *ledger
}

// Close closes pebble, then the sync ledger (pebble's close may still
// fsync a WAL, which the ledger records).
func (d *DB) Close() error {
	err := d.DB.Close()
	if cerr := d.ledger.close(); err == nil {
		err = cerr
	}
	return err
}

// Open opens (creating if needed) the pebble store in dir. Every WAL pebble
// replays is checked first (wal_check.go): corruption with complete records
// after it is refused with a *CorruptWALError naming the file and offset, a
// torn tail of the newest WAL is cut by pebble's replay and logged at WARN.
// Every refusal satisfies errors.Is(err, ErrCorrupt).
func Open(dir string, log *slog.Logger) (*DB, error) {
	return OpenWith(dir, log, Options{})
}

// Options are the store's test and seeded-bug modes; the zero value is the
// production store.
type Options struct {
	// FaultFS runs pebble on a FaultFS over the real disk (DB.Fault), so
	// that a power loss can be injected later. Until then the store
	// behaves exactly as without it.
	FaultFS bool
	// SkipWALSync is a seeded bug (chronik-server --unsafe-no-fsync):
	// every fsync of a WAL file returns at once without syncing, so
	// commits reach the OS page cache, which survives a crash of the
	// process, and never the disk, which a power loss shows.
	SkipWALSync bool
}

// OpenWith opens the store as Open does, with o's modes.
func OpenWith(dir string, log *slog.Logger, o Options) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", dir, err)
	}
	var disk vfs.FS = vfs.Default
	var ffs *FaultFS
	if o.FaultFS {
		var err error
		if ffs, err = NewFaultFS(dir); err != nil {
			return nil, err
		}
		disk = ffs
	}
	if o.SkipWALSync {
		disk = skipWALSyncFS{disk}
	}
	if err := checkCurrent(dir); err != nil {
		return nil, err
	}
	led, err := prepareLedger(disk, dir, log)
	if err != nil {
		return nil, fmt.Errorf("open pebble store %s: %w", dir, err)
	}
	fs := &walCheckFS{FS: ledgerFS{FS: disk, l: led}}
	opts := pebbleOptions(log, fs)
	defer opts.Cache.Unref()
	if err := checkOptionsFile(dir, opts); err != nil {
		led.close()
		return nil, fmt.Errorf("open pebble store %s: %w", dir, err)
	}
	fs.setChecking(true)
	db, err := pebble.Open(dir, opts)
	torn := fs.setChecking(false)
	if err != nil {
		led.close()
		var cw *CorruptWALError
		switch {
		case errors.As(err, &cw):
			return nil, fmt.Errorf("open pebble store %s: %w", dir, cw)
		case pebble.IsCorruptionError(err) && len(torn) > 0:
			// Pebble replays every WAL but the newest strictly: the
			// unreadable tail of an older WAL failed its replay.
			cw = &CorruptWALError{File: torn[0].file, Offset: torn[0].stop, ValidAt: -1, Err: torn[0].err}
			return nil, fmt.Errorf("open pebble store %s: %w (%v)", dir, cw, err)
		case pebble.IsCorruptionError(err):
			return nil, fmt.Errorf("open pebble store %s: %w: %w", dir, ErrCorrupt, err)
		case errors.Is(err, iofs.ErrNotExist) && fileExists(filepath.Join(dir, "CURRENT")):
			// CURRENT names the manifest of an existing store; a missing
			// one (removed, or a flipped digit in CURRENT) is damage,
			// not a store to create.
			return nil, fmt.Errorf("open pebble store %s: %w: a file the store's CURRENT refers to is missing: %w", dir, ErrCorrupt, err)
		}
		return nil, fmt.Errorf("open pebble store %s: %w", dir, err)
	}
	// Open succeeded, so a torn tail can only be the newest WAL's: pebble
	// refuses one in any other.
	for _, t := range torn {
		log.Warn("cut the torn tail of the newest pebble WAL", "file", t.file, "offset", t.stop,
			"bytes_cut", t.size-t.stop, "records_kept", t.valid, "reason", t.err.Error())
	}
	return &DB{DB: db, Dir: dir, Fault: ffs, ledger: led}, nil
}

// prepareLedger opens the sync ledger of the store in dir and refuses the
// store if the ledger shows damage (a missing WAL, a manifest that does not
// read to its synced length), or creates the ledger of a new store. A
// store without a ledger gets a new one and opens unchecked, with a WARN.
func prepareLedger(disk vfs.FS, dir string, log *slog.Logger) (*ledger, error) {
	if !fileExists(filepath.Join(dir, "CURRENT")) {
		return createLedger(disk, dir)
	}
	led, err := openLedger(disk, dir, log)
	if err != nil {
		return nil, err
	}
	if led == nil {
		log.Warn("the store has no sync ledger: its manifest and WALs cannot be checked against what was synced; a new ledger is started",
			"file", filepath.Join(dir, LedgerFile))
		return createLedger(disk, dir)
	}
	if err := led.check(dir, log); err != nil {
		led.close()
		return nil, err
	}
	return led, nil
}

// pebbleOptions are the store's pebble options on fs. The caller unrefs
// the cache once pebble holds it.
func pebbleOptions(log *slog.Logger, fs vfs.FS) *pebble.Options {
	opts := &pebble.Options{
		// The tests run several nodes in one process on a 2-core machine:
		// keep per-node memory modest.
		Cache:        pebble.NewCache(16 << 20),
		MemTableSize: 8 << 20,
		Logger:       pebbleLogger{log: log},
		FS:           fs,
	}
	// No block compression. Almost every byte stored is a record batch,
	// twice (the Raft entry and the partition's copy), and clients send
	// batches compressed already (franz-go uses snappy by default): a
	// profile of the 3-node produce benchmark spent about a fifth of the
	// brokers' CPU in snappy encoding blocks at flushes and compactions
	// and decoding them again at compactions, for next to no space.
	// Blocks written compressed by earlier versions stay readable: each
	// block names its own compression.
	opts.Levels = make([]pebble.LevelOptions, 7)
	for i := range opts.Levels {
		opts.Levels[i].Compression = pebble.NoCompression
	}
	return opts
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

// fileExists reports whether path names an existing file.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// checkCurrent refuses a store whose CURRENT file is gone while its
// manifest, WALs or tables are there: pebble would take the directory for
// a new store and fail inside Open (a nil dereference in v1.1), and an
// empty store in place of the old one would be amnesia.
func checkCurrent(dir string) error {
	if fileExists(filepath.Join(dir, "CURRENT")) {
		return nil
	}
	for _, pat := range []string{"MANIFEST-*", "*.log", "*.sst"} {
		if m, _ := filepath.Glob(filepath.Join(dir, pat)); len(m) > 0 {
			return fmt.Errorf("open pebble store %s: %w: CURRENT is missing but %s is there", dir, ErrCorrupt, filepath.Base(m[0]))
		}
	}
	return nil
}
