package storage

// This file is the sync ledger: the broker's own small, synced record of
// what pebble made durable, so that Open can tell damage from what a crash
// or power loss legitimately leaves in two places where pebble cannot.
//
// The manifest. Pebble v1.1 reads the MANIFEST named by CURRENT with the
// record reader and stops at the first record that does not read, without
// an error (version_set.go, load: io.EOF || record.IsInvalidRecord(err) is
// taken for the end), exactly as it reads a torn WAL tail. But pebble
// writes one version edit at a time and fsyncs the manifest after each
// (logAndApply), and acts on an edit (deletes the WALs a flush made
// obsolete, the tables a compaction replaced) only after that fsync. So a
// crash or power loss can only tear bytes after the last completed fsync;
// a record below it that does not read is corruption, and dropping it
// silently loses the flushes and compactions it recorded (seen: a term
// regression and lost acknowledged writes). The ledger holds, per
// manifest, the length at its last completed fsync, and Open refuses a
// manifest that does not read record by record up to that length.
//
// The WALs. A removed WAL leaves a store that reads cleanly: pebble replays
// the WALs it finds, and a removed newest WAL is an earlier, consistent
// store (amnesia of acknowledged writes and of the Raft hard state). The
// ledger lists every WAL that completed an fsync and that pebble has not
// removed or recycled since (it is taken off the list before pebble's
// remove or rename reaches the disk), and Open refuses a store where one
// of them is missing. Pebble syncs the directory after creating or
// recycling a WAL and before writing to it, so a WAL that completed an
// fsync survives every power loss.
//
// What a power loss leaves of the ledger itself: it is written after the
// fsync it records returned and before pebble goes on, and fsynced, so it
// never claims more than the disk holds; the fsync it was about to record
// can be lost with it, which only makes the check weaker. It is two slots
// of slotSize bytes, each with a sequence number and a CRC, written in
// turn: a write torn by a power loss damages only the slot being written,
// and the other one still holds the previous state. Open reads the valid
// slot with the higher sequence number and logs a WARN when one slot is
// damaged; both damaged cannot come from a power loss and is refused. A
// missing ledger (a store from before it, or the file removed) is recreated
// with a WARN: it holds nothing of the store's data, only the means to
// check it, so the store opens unchecked that once.
//
// Cost: one extra fsync per manifest edit (flushes and compactions, not the
// produce path), per WAL at its first fsync, and per WAL pebble deletes.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	iofs "io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/record"
	"github.com/cockroachdb/pebble/vfs"
)

// LedgerFile is the sync ledger's name in the data directory. Pebble
// ignores files whose names it does not know.
const LedgerFile = "chronik-sync-ledger"

const (
	slotSize      = 1024
	ledgerMagic   = 0x474c4843 // "CHLG"
	ledgerVersion = 1
	// maxManifests is how many manifests the ledger remembers: the one
	// CURRENT names may be older than the newest one synced when power was
	// lost between a new manifest's fsync and CURRENT's rename.
	maxManifests = 8
	// maxWALs bounds the live WAL list (pebble keeps a handful: one per
	// queued memtable); the oldest entries are dropped beyond it.
	maxWALs = 48
)

var ledgerCRC = crc32.MakeTable(crc32.Castagnoli)

// syncedManifest is a manifest's length at its last completed fsync.
type syncedManifest struct {
	num  uint64
	size int64
}

// ledgerState is what one slot holds.
type ledgerState struct {
	seq       uint64
	manifests []syncedManifest // newest first
	wals      []uint64         // ascending
}

func (s *ledgerState) encode() []byte {
	b := make([]byte, slotSize)
	binary.LittleEndian.PutUint32(b[0:], ledgerMagic)
	binary.LittleEndian.PutUint32(b[4:], ledgerVersion)
	binary.LittleEndian.PutUint64(b[8:], s.seq)
	b[16], b[17] = byte(len(s.manifests)), byte(len(s.wals))
	o := 20
	for _, m := range s.manifests {
		binary.LittleEndian.PutUint64(b[o:], m.num)
		binary.LittleEndian.PutUint64(b[o+8:], uint64(m.size))
		o += 16
	}
	o = 20 + 16*maxManifests
	for _, w := range s.wals {
		binary.LittleEndian.PutUint64(b[o:], w)
		o += 8
	}
	binary.LittleEndian.PutUint32(b[slotSize-4:], crc32.Checksum(b[:slotSize-4], ledgerCRC))
	return b
}

func decodeSlot(b []byte) (ledgerState, error) {
	var s ledgerState
	switch {
	case len(b) < slotSize:
		return s, fmt.Errorf("slot is %d bytes, want %d", len(b), slotSize)
	case crc32.Checksum(b[:slotSize-4], ledgerCRC) != binary.LittleEndian.Uint32(b[slotSize-4:]):
		return s, errors.New("slot checksum mismatch")
	case binary.LittleEndian.Uint32(b[0:]) != ledgerMagic || binary.LittleEndian.Uint32(b[4:]) != ledgerVersion:
		return s, errors.New("slot has an unknown magic or version")
	case int(b[16]) > maxManifests || int(b[17]) > maxWALs:
		return s, fmt.Errorf("slot counts %d manifests and %d WALs, above the format's bounds", b[16], b[17])
	}
	s.seq = binary.LittleEndian.Uint64(b[8:])
	o := 20
	for range int(b[16]) {
		s.manifests = append(s.manifests, syncedManifest{binary.LittleEndian.Uint64(b[o:]), int64(binary.LittleEndian.Uint64(b[o+8:]))})
		o += 16
	}
	o = 20 + 16*maxManifests
	for range int(b[17]) {
		s.wals = append(s.wals, binary.LittleEndian.Uint64(b[o:]))
		o += 8
	}
	return s, nil
}

// ledger is the open sync ledger; its methods are called from pebble's
// goroutines (commit pipeline, flushes, the cleaner).
type ledger struct {
	path string
	mu   sync.Mutex
	f    vfs.File
	st   ledgerState
	err  error // the first failed write: the ledger no longer tracks pebble
}

// createLedger writes a new, empty ledger (both slots) and makes it
// durable, file and directory entry.
func createLedger(fs vfs.FS, dir string) (*ledger, error) {
	path := filepath.Join(dir, LedgerFile)
	f, err := fs.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create sync ledger %s: %w", path, err)
	}
	l := &ledger{path: path, f: f}
	for seq := range uint64(2) {
		l.st.seq = seq
		if _, err := f.WriteAt(l.st.encode(), int64(seq%2)*slotSize); err != nil {
			f.Close()
			return nil, fmt.Errorf("write sync ledger %s: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync sync ledger %s: %w", path, err)
	}
	d, err := fs.OpenDir(dir)
	if err == nil {
		err = d.Sync()
		d.Close()
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sync data dir %s after creating the sync ledger: %w", dir, err)
	}
	return l, nil
}

// openLedger opens the existing ledger of the store in dir. It returns
// nil, nil when there is none; a ledger neither of whose slots reads is
// refused as corrupt.
func openLedger(fs vfs.FS, dir string, log *slog.Logger) (*ledger, error) {
	path := filepath.Join(dir, LedgerFile)
	// OpenReadWrite creates a missing file: ask first.
	if _, err := fs.Stat(path); errors.Is(err, iofs.ErrNotExist) {
		return nil, nil
	}
	f, err := fs.OpenReadWrite(path)
	if err != nil {
		return nil, fmt.Errorf("open sync ledger %s: %w", path, err)
	}
	b := make([]byte, 2*slotSize)
	n, err := f.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		f.Close()
		return nil, fmt.Errorf("read sync ledger %s: %w", path, err)
	}
	b = b[:n]
	var good []ledgerState
	var bad []string
	for i := range 2 {
		lo, hi := min(i*slotSize, n), min((i+1)*slotSize, n)
		s, err := decodeSlot(b[lo:hi])
		if err != nil {
			bad = append(bad, fmt.Sprintf("slot %d: %v", i, err))
			continue
		}
		good = append(good, s)
	}
	if len(good) == 0 {
		f.Close()
		return nil, &CorruptFileError{File: path, Offset: -1, Err: fmt.Errorf("the sync ledger does not read (%s); a power loss damages one slot at most", strings.Join(bad, "; "))}
	}
	if len(bad) > 0 {
		log.Warn("one slot of the sync ledger is damaged: using the other (a write torn by a power loss leaves this)", "file", path, "reason", bad[0])
	}
	l := &ledger{path: path, f: f, st: slices.MaxFunc(good, func(a, b ledgerState) int { return cmpUint(a.seq, b.seq) })}
	return l, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// writeLocked persists st in the next slot and fsyncs it.
func (l *ledger) writeLocked(st ledgerState) error {
	if l.err != nil {
		return l.err
	}
	st.seq = l.st.seq + 1
	if _, err := l.f.WriteAt(st.encode(), int64(st.seq%2)*slotSize); err != nil {
		l.err = fmt.Errorf("write sync ledger %s: %w", l.path, err)
		return l.err
	}
	if err := l.f.Sync(); err != nil {
		l.err = fmt.Errorf("sync sync ledger %s: %w", l.path, err)
		return l.err
	}
	l.st = st
	return nil
}

// manifestSynced records that manifest num is durable up to size.
func (l *ledger) manifestSynced(num uint64, size int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.st
	ms := slices.DeleteFunc(slices.Clone(st.manifests), func(m syncedManifest) bool { return m.num == num })
	st.manifests = append([]syncedManifest{{num, size}}, ms...)
	if len(st.manifests) > maxManifests {
		st.manifests = st.manifests[:maxManifests]
	}
	return l.writeLocked(st)
}

// walSynced records that WAL num completed an fsync.
func (l *ledger) walSynced(num uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if slices.Contains(l.st.wals, num) {
		return nil
	}
	st := l.st
	st.wals = append(slices.Clone(st.wals), num)
	slices.Sort(st.wals)
	if len(st.wals) > maxWALs {
		st.wals = st.wals[len(st.wals)-maxWALs:]
	}
	return l.writeLocked(st)
}

// walGone takes WAL num off the list before pebble removes or recycles it.
func (l *ledger) walGone(num uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !slices.Contains(l.st.wals, num) {
		return nil
	}
	st := l.st
	st.wals = slices.DeleteFunc(slices.Clone(st.wals), func(w uint64) bool { return w == num })
	return l.writeLocked(st)
}

func (l *ledger) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// check refuses the store in dir if a WAL on the ledger is missing or the
// manifest CURRENT names does not read up to its synced length.
func (l *ledger) check(dir string, log *slog.Logger) error {
	l.mu.Lock()
	st := l.st
	l.mu.Unlock()
	for _, w := range st.wals {
		path := filepath.Join(dir, fmt.Sprintf("%06d.log", w))
		if !fileExists(path) {
			return &CorruptFileError{File: path, Offset: -1, Err: fmt.Errorf("the WAL is missing, but it completed an fsync and pebble never removed it (sync ledger %s)", l.path)}
		}
	}
	cur, err := os.ReadFile(filepath.Join(dir, "CURRENT"))
	if err != nil {
		return fmt.Errorf("read CURRENT of %s: %w", dir, err)
	}
	name := strings.TrimSpace(string(cur))
	num, ok := manifestNum(name)
	if !ok {
		return &CorruptFileError{File: filepath.Join(dir, "CURRENT"), Offset: -1, Err: fmt.Errorf("CURRENT holds %q, not a manifest name", name)}
	}
	i := slices.IndexFunc(st.manifests, func(m syncedManifest) bool { return m.num == num })
	if i < 0 {
		if len(st.manifests) > 0 {
			log.Warn("the manifest CURRENT names is not on the sync ledger: its synced length is not checked", "file", filepath.Join(dir, name), "ledger", l.path)
		}
		return nil
	}
	return checkManifest(filepath.Join(dir, name), st.manifests[i].size)
}

// checkManifest refuses a manifest that does not read, record by record,
// up to synced bytes: every record there completed an fsync, so none of
// them can be a torn write.
func checkManifest(path string, synced int64) error {
	f, err := os.Open(path)
	if errors.Is(err, iofs.ErrNotExist) {
		return &CorruptFileError{File: path, Offset: -1, Err: fmt.Errorf("the manifest CURRENT names is missing: %w", err)}
	}
	if err != nil {
		return fmt.Errorf("open manifest %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat manifest %s: %w", path, err)
	}
	if st.Size() < synced {
		return &CorruptFileError{File: path, Offset: st.Size(), Err: fmt.Errorf("the manifest is %d bytes, shorter than the %d it had at its last fsync", st.Size(), synced)}
	}
	rr := record.NewReader(f, 0)
	for {
		off := rr.Offset()
		if off >= synced {
			return nil
		}
		r, err := rr.Next()
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		switch {
		case err == nil:
			continue
		case err == io.EOF:
			err = errors.New("the record reader ends here")
		case !record.IsInvalidRecord(err):
			return fmt.Errorf("read manifest %s at offset %d: %w", path, off, err)
		}
		return &CorruptFileError{File: path, Offset: off, Err: fmt.Errorf("a manifest record below its synced length %d does not read (%v), so this is not a torn write", synced, err)}
	}
}

// manifestNum parses a manifest's name (MANIFEST-NNNNNN).
func manifestNum(name string) (uint64, bool) {
	stem, ok := strings.CutPrefix(filepath.Base(name), "MANIFEST-")
	if !ok || stem == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(stem, 10, 64)
	return n, err == nil
}

// ledgerFS is the file system under pebble that keeps the ledger: it hands
// out WAL and manifest files that report their fsyncs to it, and takes a
// WAL off it before pebble's remove or rename of that WAL.
type ledgerFS struct {
	vfs.FS
	l *ledger
}

func (fs ledgerFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return f, err
	}
	if num, ok := walNum(name); ok {
		return &ledgerWALFile{File: f, l: fs.l, num: uint64(num)}, nil
	}
	return f, nil
}

// gone takes a WAL off the ledger before it is removed or renamed.
func (fs ledgerFS) gone(name string) error {
	if num, ok := walNum(name); ok {
		return fs.l.walGone(uint64(num))
	}
	return nil
}

// Create implements vfs.FS. Only a created manifest is tracked: its
// length is what was written since.
func (fs ledgerFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	if num, ok := manifestNum(name); ok && err == nil {
		return &ledgerManifestFile{File: f, l: fs.l, num: num}, nil
	}
	return fs.wrap(name, f, err)
}

// OpenReadWrite implements vfs.FS.
func (fs ledgerFS) OpenReadWrite(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, opts...)
	return fs.wrap(name, f, err)
}

// ReuseForWrite implements vfs.FS: pebble recycles an obsolete WAL.
func (fs ledgerFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	if err := fs.gone(oldname); err != nil {
		return nil, err
	}
	f, err := fs.FS.ReuseForWrite(oldname, newname)
	return fs.wrap(newname, f, err)
}

// Remove implements vfs.FS.
func (fs ledgerFS) Remove(name string) error {
	if err := fs.gone(name); err != nil {
		return err
	}
	return fs.FS.Remove(name)
}

// Rename implements vfs.FS.
func (fs ledgerFS) Rename(oldname, newname string) error {
	if err := fs.gone(oldname); err != nil {
		return err
	}
	return fs.FS.Rename(oldname, newname)
}

// ledgerWALFile reports its first completed fsync to the ledger.
type ledgerWALFile struct {
	vfs.File
	l     *ledger
	num   uint64
	noted atomic.Bool
}

func (f *ledgerWALFile) note() error {
	if f.noted.Load() {
		return nil
	}
	if err := f.l.walSynced(f.num); err != nil {
		return err
	}
	f.noted.Store(true)
	return nil
}

func (f *ledgerWALFile) Sync() error {
	if err := f.File.Sync(); err != nil {
		return err
	}
	return f.note()
}

func (f *ledgerWALFile) SyncData() error {
	if err := f.File.SyncData(); err != nil {
		return err
	}
	return f.note()
}

func (f *ledgerWALFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	if err != nil || !full {
		return full, err
	}
	return full, f.note()
}

// ledgerManifestFile reports its length at every completed fsync. Pebble
// writes a manifest once, sequentially, from its creation.
type ledgerManifestFile struct {
	vfs.File
	l       *ledger
	num     uint64
	written atomic.Int64
}

func (f *ledgerManifestFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.written.Add(int64(n))
	return n, err
}

func (f *ledgerManifestFile) Sync() error {
	if err := f.File.Sync(); err != nil {
		return err
	}
	return f.l.manifestSynced(f.num, f.written.Load())
}

func (f *ledgerManifestFile) SyncData() error {
	if err := f.File.SyncData(); err != nil {
		return err
	}
	return f.l.manifestSynced(f.num, f.written.Load())
}
