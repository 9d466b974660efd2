package storage

import (
	"bytes"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// manifestSyncTrap cuts the power at the first manifest fsync after it is
// armed: before the fsync (the edit written but not synced, torn when a
// seed is given) or after it and before the sync ledger records it. The
// caller's goroutine then blocks for good, as a dead process does.
type manifestSyncTrap struct {
	vfs.FS
	ffs   *FaultFS
	after bool
	seed  *int64

	mu    sync.Mutex
	armed bool
	fired chan PowerLossReport
}

func (tr *manifestSyncTrap) Create(name string) (vfs.File, error) {
	f, err := tr.FS.Create(name)
	if _, ok := manifestNum(name); ok && err == nil {
		return &trappedManifest{File: f, tr: tr}, nil
	}
	return f, err
}

func (tr *manifestSyncTrap) cut() {
	rep, err := tr.ffs.PowerLoss(tr.seed)
	if err != nil {
		panic(err)
	}
	tr.fired <- rep
	select {}
}

type trappedManifest struct {
	vfs.File
	tr *manifestSyncTrap
}

func (f *trappedManifest) Sync() error {
	f.tr.mu.Lock()
	armed := f.tr.armed
	f.tr.armed = false
	f.tr.mu.Unlock()
	if armed && !f.tr.after {
		f.tr.cut()
	}
	if err := f.File.Sync(); err != nil {
		return err
	}
	if armed {
		f.tr.cut()
	}
	return nil
}

// A power loss around a manifest fsync leaves a manifest longer than the
// sync ledger says (a torn or whole unsynced edit, or a synced edit the
// ledger did not record yet): Open accepts it and every synced key is
// there. A ledger that recorded the length before the fsync, or a check
// that read past the recorded length, fails here.
func TestSyncLedgerPowerLossAroundManifestSync(t *testing.T) {
	const keys = 300
	key := func(i int) []byte { return fmt.Appendf(nil, "k%05d", i) }
	for _, after := range []bool{false, true} {
		for _, seed := range []*int64{nil, new(int64(1)), new(int64(2)), new(int64(3))} {
			name := fmt.Sprintf("after fsync %v, tear seed %v", after, seed)
			if seed != nil {
				name = fmt.Sprintf("after fsync %v, tear seed %d", after, *seed)
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				ffs, err := NewFaultFS(dir)
				if err != nil {
					t.Fatal(err)
				}
				log := slog.New(slog.DiscardHandler)
				led, err := prepareLedger(ffs, dir, log)
				if err != nil {
					t.Fatal(err)
				}
				tr := &manifestSyncTrap{FS: ffs, ffs: ffs, after: after, seed: seed, fired: make(chan PowerLossReport, 1)}
				opts := pebbleOptions(log, &walCheckFS{FS: ledgerFS{FS: tr, l: led}})
				db, err := pebble.Open(dir, opts)
				opts.Cache.Unref()
				if err != nil {
					t.Fatal(err)
				}
				for i := range keys {
					if err := db.Set(key(i), bytes.Repeat([]byte{'v'}, 1000), pebble.Sync); err != nil {
						t.Fatal(err)
					}
				}
				tr.mu.Lock()
				tr.armed = true
				tr.mu.Unlock()
				// The flush's manifest edit hits the trap; this goroutine
				// never returns.
				go db.Flush()
				rep := <-tr.fired
				t.Logf("power loss: %s", rep.Summary())

				re, err := Open(dir, nil)
				if err != nil {
					t.Fatalf("refused after a power loss: %v", err)
				}
				defer re.Close()
				for i := range keys {
					if _, ok, err := re.GetCopy(key(i)); err != nil || !ok {
						t.Fatalf("synced key %d lost (%v)", i, err)
					}
				}
			})
		}
	}
}
