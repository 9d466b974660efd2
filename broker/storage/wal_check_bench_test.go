package storage

import (
	"bytes"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/record"
	"github.com/cockroachdb/pebble/vfs"
	pb "go.etcd.io/raft/v3/raftpb"
)

// walBenchStore writes mib MiB of 1 KiB Raft entries (one synced Ready
// each, as a busy group persists them) into a new store and closes it,
// leaving the WALs an open replays.
func walBenchStore(b *testing.B, mib int) string {
	b.Helper()
	dir := b.TempDir()
	db, err := Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	l, err := OpenRaftLog(db, 7)
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Bootstrap([]uint64{1}); err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte{0x33}, 1024)
	for i := uint64(2); i < uint64(2+mib*1024); i++ {
		e := &pb.Entry{Index: new(i), Term: new(uint64(1)), Data: data}
		if err := l.Save(&pb.HardState{Term: new(uint64(1)), Commit: new(i)}, []*pb.Entry{e}, nil, nil, i%64 == 0); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkScanWAL measures the open-time check of the newest WAL of a
// store after 16 MiB of writes: "whole" is every start (pebble's record
// reader over the whole file, as replay reads it); "torn" is the worst
// damage case, random bytes from a record near the start of a block to the
// end, where a reader is started at almost every offset of the damaged
// block and at every later block, and nothing complete follows.
func BenchmarkScanWAL(b *testing.B) {
	dir := walBenchStore(b, 16)
	wals, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	slices.Sort(wals)
	path := wals[len(wals)-1]
	num, _ := walNum(path)
	whole, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	// The worst tear starts a block: every offset of that block is tried.
	torn := slices.Clone(whole)
	from := int64(-1)
	rr := record.NewReader(bytes.NewReader(whole), num)
	for {
		off := rr.Offset()
		r, err := rr.Next()
		if err != nil {
			break
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
		if off%walBlockSize < 1024 && off+walBlockSize < int64(len(whole)) {
			from = off
		}
	}
	if from < 0 {
		b.Fatal("no record near a block start")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := from; i < int64(len(torn)); i++ {
		torn[i] = byte(rng.Uint32())
	}
	for _, tc := range []struct {
		name string
		wal  []byte
		torn bool
	}{{"whole", whole, false}, {"torn", torn, true}} {
		b.Run(tc.name, func(b *testing.B) {
			f := bytes.NewReader(tc.wal)
			size := int64(len(tc.wal))
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				s, err := scanWAL(f, size, num)
				if err != nil || (s.stopErr != nil) != tc.torn || s.validAt >= 0 {
					b.Fatalf("scan: %+v %v", s, err)
				}
			}
			b.ReportMetric(float64(size)/(1<<20), "wal-MiB")
		})
	}
}

// BenchmarkOpenWALCheck opens a copy of a store whose WALs hold 16 MiB of
// writes, with the WAL check (Open) and without it (pebble.Open with the
// same options): the difference is what the check adds to a start.
func BenchmarkOpenWALCheck(b *testing.B) {
	tmpl := walBenchStore(b, 16)
	var walBytes int64
	wals, _ := filepath.Glob(filepath.Join(tmpl, "*.log"))
	for _, w := range wals {
		st, _ := os.Stat(w)
		walBytes += st.Size()
	}
	for _, tc := range []struct {
		name string
		open func(dir string) (func() error, error)
	}{
		{"checked", func(dir string) (func() error, error) {
			db, err := Open(dir, nil)
			if err != nil {
				return nil, err
			}
			return db.Close, nil
		}},
		{"unchecked", func(dir string) (func() error, error) {
			opts := pebbleOptions(slog.New(slog.DiscardHandler), vfs.Default)
			defer opts.Cache.Unref()
			db, err := pebble.Open(dir, opts)
			if err != nil {
				return nil, err
			}
			return db.Close, nil
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				dir := filepath.Join(b.TempDir(), "db")
				copyStore(b, tmpl, dir)
				b.StartTimer()
				closeDB, err := tc.open(dir)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := closeDB(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(walBytes)/(1<<20), "wal-MiB")
		})
	}
}

func copyStore(b *testing.B, from, to string) {
	b.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		b.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range ents {
		v, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), v, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}
