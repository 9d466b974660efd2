package storage

// This file is the fault-injection file system pebble runs on when the
// broker has --fault-fs: the real disk, plus a record of what a power loss
// could take away. faultfs_reset.go takes it away.
//
// Why on the real disk, not pebble's vfs.NewStrictMem: the chaos harness
// kills and restarts a broker process in a container, so whatever survives
// the power loss must be on the disk the next process opens. StrictMem's
// ResetToSyncedState has the semantics wanted (a file is what its last
// Sync left, a directory what its last directory Sync left) but lives in
// the dying process's memory. FaultFS keeps those semantics and makes the
// real files match them at the moment of the fault: it writes through to
// the disk at once (so until the fault the broker runs on a real disk, page
// cache, fsync costs and all) and remembers, per file, the size at its last
// completed sync and the bytes each later write overwrote, and, per
// directory, the creates, renames and removes its last sync did not cover.
//
// The model, for each thing pebble does through vfs.FS:
//
//   - File data: a completed Sync, SyncData, or a SyncTo that reports a full
//     sync makes the whole file durable. Every write after it is undone at a
//     power loss: bytes past the synced size are truncated, bytes that
//     overwrote older data get the older data back (pebble recycles WAL
//     files: ReuseForWrite renames an old log and overwrites it from offset
//     0 without truncating, so an unsynced write there must revert to the
//     old log's bytes, not to nothing). SyncTo without a full sync (Linux's
//     sync_file_range) promises nothing and counts for nothing.
//   - Names: Create, OpenReadWrite of a new file, Link, Lock of a new file,
//     MkdirAll of a new directory, Remove, RemoveAll and Rename are durable
//     only once their directory is synced (OpenDir(dir).Sync) after them.
//     Until then a removed file, or a file a rename replaced, waits in
//     DIR/faultfs-undo (hidden from List) so that a power loss can put it
//     back; the directory's sync deletes it for real.
//   - Everything on disk when FaultFS starts is made durable first (every
//     file and the directory fsynced, leftovers of an earlier process's undo
//     area deleted: that process was killed with its page cache intact, so
//     its removes happened), which makes the model exact on the real disk:
//     what this process did not sync is all a power loss may take.
//
// Halt freezes the file system: every later call blocks forever, as if the
// power had gone, and nothing more reaches the disk. A write or sync in
// progress at the halt completes on the disk but never returns to its
// caller, and such a sync counts for nothing: an fsync that had not
// returned when the power went made nothing durable, and no caller may act
// on it (a Raft node would acknowledge an append the power loss then
// drops). The broker halts before it exits at a crash point and before a
// power loss rewrites the disk, so no pebble goroutine writes after the cut.
//
// BeforeWALSync, when set, runs before every fsync of a pebble WAL file,
// when the file holds written but not yet durable records: the broker's
// wal-before-sync crash point, a power cut during the fsync.
//
// The directory model is exact for files in one directory, which is how
// pebble lays out this store (the WAL directory is the data directory).

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/vfs"
)

// faultUndoDir is the directory, inside the data directory, where removed
// and replaced files wait for their directory's sync.
const faultUndoDir = "faultfs-undo"

// maxPendingWrites bounds the per-file list of unsynced writes. Beyond it,
// adjacent appends merge (a file written for long without a sync, such as a
// sorted table being built, then tears at coarser points).
const maxPendingWrites = 4096

// FaultFS is a vfs.FS on the real disk that records what is durable, so
// that PowerLoss can remove everything else (see the file comment). Use
// NewFaultFS; a FaultFS serves one data directory.
type FaultFS struct {
	disk vfs.FS
	dir  string
	undo string

	halted   atomic.Bool
	haltOnce sync.Once

	// mu serialises directory operations with each other and with Halt;
	// it guards the fields below and every faultState's path.
	mu      sync.Mutex
	files   map[string]*faultState
	pending []*dirOp
	seq     uint64
	undoSeq uint64
	locks   []*faultLock

	lossOnce sync.Once
	loss     PowerLossReport
	lossErr  error

	beforeWALSync atomic.Pointer[func()]
}

var _ vfs.FS = (*FaultFS)(nil)

// faultState is what FaultFS knows of one file (an inode) written through
// it: its size at the last completed sync and the writes since.
type faultState struct {
	// mu is held across each write and sync of the file (pebble writes a
	// file from one goroutine at a time, so it costs no concurrency), and
	// by Halt for good.
	mu     sync.Mutex
	path   string // current name, possibly in the undo area (guarded by FaultFS.mu)
	synced int64  // size at the last completed sync
	size   int64  // size now
	writes []faultWrite
}

// faultWrite is one write since the last sync: n bytes at off, and the
// bytes it overwrote (those below the file's size at the time).
type faultWrite struct {
	off, n int64
	old    []byte
}

type opKind uint8

const (
	opCreate opKind = iota + 1
	opMkdir
	opRemove
	opRename
)

// dirOp is a create, remove or rename that no directory sync covered yet.
type dirOp struct {
	seq  uint64
	kind opKind
	path string // created or removed name; rename: the new name
	from string // rename: the old name
	// undo is where a removed file, or the file a rename replaced, waits.
	undo string
	// st is a created file's state (nil for links, locks and directories:
	// undoing those removes a name, not data).
	st *faultState
	// dirs are the directories still to be synced before it is durable.
	dirs []string
}

// NewFaultFS prepares dir (which must exist) for a FaultFS: it deletes the
// undo area an earlier process left, fsyncs every file in dir, dir itself
// and its parent, so that everything on disk now is durable.
func NewFaultFS(dir string) (*FaultFS, error) {
	dir = filepath.Clean(dir)
	fs := &FaultFS{disk: vfs.Default, dir: dir, undo: filepath.Join(dir, faultUndoDir), files: map[string]*faultState{}}
	if err := os.RemoveAll(fs.undo); err != nil {
		return nil, fmt.Errorf("fault fs: clear %s: %w", fs.undo, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("fault fs: list %s: %w", dir, err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if err := syncPath(filepath.Join(dir, e.Name())); err != nil {
			return nil, fmt.Errorf("fault fs: %w", err)
		}
	}
	if err := os.Mkdir(fs.undo, 0o755); err != nil {
		return nil, fmt.Errorf("fault fs: create %s: %w", fs.undo, err)
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := syncPath(d); err != nil {
			return nil, fmt.Errorf("fault fs: %w", err)
		}
	}
	return fs, nil
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("open %s to sync: %w", p, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", p, err)
	}
	return nil
}

// SetBeforeWALSync sets the function run before every fsync of a WAL file
// written through this FaultFS (nil: none). It may halt the file system
// (and never return).
func (fs *FaultFS) SetBeforeWALSync(f func()) {
	if f == nil {
		fs.beforeWALSync.Store(nil)
		return
	}
	fs.beforeWALSync.Store(&f)
}

// Dir is the data directory this FaultFS serves.
func (fs *FaultFS) Dir() string { return fs.dir }

// Halt freezes the file system for good: every call after it blocks
// forever, and nothing more is written. Calls in progress finish on the
// disk first but never return; a sync among them does not count. Halt
// also releases the store's lock file, as a dying process's kernel does,
// so that a test can open the directory again in the same process.
func (fs *FaultFS) Halt() {
	fs.haltOnce.Do(func() {
		fs.halted.Store(true)
		// Wait for directory operations and writes in progress, and keep
		// the locks: whoever got past the gate before the flag was set
		// now waits forever on them.
		fs.mu.Lock()
		for _, st := range fs.statesLocked() {
			st.mu.Lock()
		}
		for _, l := range fs.locks {
			l.release()
		}
	})
}

// Halted reports whether Halt was called.
func (fs *FaultFS) Halted() bool { return fs.halted.Load() }

// gate blocks forever once the file system is halted.
func (fs *FaultFS) gate() {
	if fs.halted.Load() {
		select {}
	}
}

// statesLocked returns every known file state once (a linked file has two
// names), in path order. fs.mu must be held.
func (fs *FaultFS) statesLocked() []*faultState {
	seen := map[*faultState]bool{}
	var out []*faultState
	for _, st := range fs.files {
		if !seen[st] {
			seen[st] = true
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b *faultState) int {
		switch {
		case a.path < b.path:
			return -1
		case a.path > b.path:
			return 1
		}
		return 0
	})
	return out
}

// record appends an undoable directory operation (fs.mu held).
func (fs *FaultFS) record(op *dirOp) {
	fs.seq++
	op.seq = fs.seq
	fs.pending = append(fs.pending, op)
}

// stash moves name into the undo area (fs.mu held) and returns where.
func (fs *FaultFS) stash(name string) (string, error) {
	fs.undoSeq++
	to := filepath.Join(fs.undo, fmt.Sprintf("%06d-%s", fs.undoSeq, filepath.Base(name)))
	if err := fs.disk.Rename(name, to); err != nil {
		return "", err
	}
	fs.moved(name, to)
	return to, nil
}

// moved renames the state of a file (fs.mu held).
func (fs *FaultFS) moved(from, to string) {
	if st, ok := fs.files[from]; ok {
		delete(fs.files, from)
		st.path = to
		fs.files[to] = st
	}
}

// stateFor returns the state of name, creating one for a file written for
// the first time (its current size is durable: it predates this FaultFS or
// was synced when written). fs.mu held.
func (fs *FaultFS) stateFor(name string, f vfs.File) (*faultState, error) {
	if st, ok := fs.files[name]; ok {
		return st, nil
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	st := &faultState{path: name, synced: fi.Size(), size: fi.Size()}
	fs.files[name] = st
	return st, nil
}

func (fs *FaultFS) exists(name string) bool {
	_, err := fs.disk.Stat(name)
	return err == nil
}

// Create implements vfs.FS. Like vfs.Default it replaces an existing file
// by a new inode; the old one waits in the undo area.
func (fs *FaultFS) Create(name string) (vfs.File, error) {
	fs.gate()
	name = filepath.Clean(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.exists(name) {
		if err := fs.removeLocked(name); err != nil {
			return nil, err
		}
	}
	f, err := fs.disk.Create(name)
	if err != nil {
		return nil, err
	}
	st := &faultState{path: name}
	fs.files[name] = st
	fs.record(&dirOp{kind: opCreate, path: name, st: st, dirs: []string{filepath.Dir(name)}})
	return &faultFile{f: f, fs: fs, st: st}, nil
}

// Link implements vfs.FS.
func (fs *FaultFS) Link(oldname, newname string) error {
	fs.gate()
	oldname, newname = filepath.Clean(oldname), filepath.Clean(newname)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.disk.Link(oldname, newname); err != nil {
		return err
	}
	if st, ok := fs.files[oldname]; ok {
		fs.files[newname] = st
	}
	fs.record(&dirOp{kind: opCreate, path: newname, dirs: []string{filepath.Dir(newname)}})
	return nil
}

// Open implements vfs.FS (read only).
func (fs *FaultFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	fs.gate()
	name = filepath.Clean(name)
	f, err := fs.disk.Open(name, opts...)
	if err != nil {
		return nil, err
	}
	fs.mu.Lock()
	st := fs.files[name]
	fs.mu.Unlock()
	return &faultFile{f: f, fs: fs, st: st, readOnly: true}, nil
}

// OpenReadWrite implements vfs.FS.
func (fs *FaultFS) OpenReadWrite(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	fs.gate()
	name = filepath.Clean(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.openReadWriteLocked(name, opts...)
}

func (fs *FaultFS) openReadWriteLocked(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	existed := fs.exists(name)
	f, err := fs.disk.OpenReadWrite(name, opts...)
	if err != nil {
		return nil, err
	}
	if !existed {
		st := &faultState{path: name}
		fs.files[name] = st
		fs.record(&dirOp{kind: opCreate, path: name, st: st, dirs: []string{filepath.Dir(name)}})
		return &faultFile{f: f, fs: fs, st: st}, nil
	}
	st, err := fs.stateFor(name, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &faultFile{f: f, fs: fs, st: st}, nil
}

// OpenDir implements vfs.FS: syncing the returned directory makes the
// directory operations before the sync durable.
func (fs *FaultFS) OpenDir(name string) (vfs.File, error) {
	fs.gate()
	name = filepath.Clean(name)
	f, err := fs.disk.OpenDir(name)
	if err != nil {
		return nil, err
	}
	return &faultDir{f: f, fs: fs, path: name}, nil
}

// Remove implements vfs.FS: the file waits in the undo area until its
// directory is synced.
func (fs *FaultFS) Remove(name string) error {
	fs.gate()
	name = filepath.Clean(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if _, err := fs.disk.Stat(name); err != nil {
		// The error pebble expects (not exist) comes from the disk.
		return fs.disk.Remove(name)
	}
	return fs.removeLocked(name)
}

func (fs *FaultFS) removeLocked(name string) error {
	to, err := fs.stash(name)
	if err != nil {
		return err
	}
	fs.record(&dirOp{kind: opRemove, path: name, undo: to, dirs: []string{filepath.Dir(name)}})
	return nil
}

// RemoveAll implements vfs.FS like Remove (a whole tree waits in the undo
// area).
func (fs *FaultFS) RemoveAll(name string) error {
	fs.gate()
	name = filepath.Clean(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if !fs.exists(name) {
		return nil
	}
	return fs.removeLocked(name)
}

// Rename implements vfs.FS: a file the rename replaces waits in the undo
// area until the directory is synced.
func (fs *FaultFS) Rename(oldname, newname string) error {
	fs.gate()
	oldname, newname = filepath.Clean(oldname), filepath.Clean(newname)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.renameLocked(oldname, newname)
}

func (fs *FaultFS) renameLocked(oldname, newname string) error {
	if !fs.exists(oldname) {
		return fs.disk.Rename(oldname, newname) // the disk's error
	}
	displaced := ""
	if oldname != newname && fs.exists(newname) {
		to, err := fs.stash(newname)
		if err != nil {
			return err
		}
		displaced = to
	}
	if err := fs.disk.Rename(oldname, newname); err != nil {
		if displaced != "" && fs.disk.Rename(displaced, newname) == nil {
			fs.moved(displaced, newname)
		}
		return err
	}
	fs.moved(oldname, newname)
	dirs := []string{filepath.Dir(newname)}
	if d := filepath.Dir(oldname); d != dirs[0] {
		dirs = append(dirs, d)
	}
	fs.record(&dirOp{kind: opRename, path: newname, from: oldname, undo: displaced, dirs: dirs})
	return nil
}

// ReuseForWrite implements vfs.FS as vfs.Default does: rename, then open
// for writing without truncation (pebble's WAL recycling).
func (fs *FaultFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	fs.gate()
	oldname, newname = filepath.Clean(oldname), filepath.Clean(newname)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if err := fs.renameLocked(oldname, newname); err != nil {
		return nil, err
	}
	return fs.openReadWriteLocked(newname)
}

// MkdirAll implements vfs.FS.
func (fs *FaultFS) MkdirAll(dir string, perm os.FileMode) error {
	fs.gate()
	dir = filepath.Clean(dir)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var missing []string
	for d := dir; !fs.exists(d); d = filepath.Dir(d) {
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := fs.disk.MkdirAll(dir, perm); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		fs.record(&dirOp{kind: opMkdir, path: missing[i], dirs: []string{filepath.Dir(missing[i])}})
	}
	return nil
}

// Lock implements vfs.FS. Halt releases the lock.
func (fs *FaultFS) Lock(name string) (io.Closer, error) {
	fs.gate()
	name = filepath.Clean(name)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	existed := fs.exists(name)
	c, err := fs.disk.Lock(name)
	if err != nil {
		return nil, err
	}
	if !existed {
		fs.record(&dirOp{kind: opCreate, path: name, dirs: []string{filepath.Dir(name)}})
	}
	l := &faultLock{c: c}
	fs.locks = append(fs.locks, l)
	return l, nil
}

// List implements vfs.FS, hiding the undo area.
func (fs *FaultFS) List(dir string) ([]string, error) {
	fs.gate()
	names, err := fs.disk.List(dir)
	if err != nil || filepath.Clean(dir) != fs.dir {
		return names, err
	}
	return slices.DeleteFunc(names, func(n string) bool { return n == faultUndoDir }), nil
}

// Stat implements vfs.FS.
func (fs *FaultFS) Stat(name string) (os.FileInfo, error) {
	fs.gate()
	return fs.disk.Stat(name)
}

// PathBase implements vfs.FS.
func (fs *FaultFS) PathBase(path string) string { return fs.disk.PathBase(path) }

// PathJoin implements vfs.FS.
func (fs *FaultFS) PathJoin(elem ...string) string { return fs.disk.PathJoin(elem...) }

// PathDir implements vfs.FS.
func (fs *FaultFS) PathDir(path string) string { return fs.disk.PathDir(path) }

// GetDiskUsage implements vfs.FS.
func (fs *FaultFS) GetDiskUsage(path string) (vfs.DiskUsage, error) {
	fs.gate()
	return fs.disk.GetDiskUsage(path)
}

// dirSynced makes the directory operations in dir up to seq durable: a
// removed or replaced file leaves the undo area for good.
func (fs *FaultFS) dirSynced(dir string, seq uint64) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	keep := fs.pending[:0]
	for _, op := range fs.pending {
		if op.seq <= seq {
			op.dirs = slices.DeleteFunc(op.dirs, func(d string) bool { return d == dir })
		}
		if len(op.dirs) > 0 {
			keep = append(keep, op)
			continue
		}
		if op.undo != "" {
			// Deleting for real is best effort: a leftover is removed
			// when the next FaultFS starts.
			_ = os.RemoveAll(op.undo)
			delete(fs.files, op.undo)
		}
	}
	clear(fs.pending[len(keep):])
	fs.pending = keep
}

// faultLock releases the store's lock once, at Close or at Halt.
type faultLock struct {
	once sync.Once
	c    io.Closer
	err  error
}

func (l *faultLock) release() error {
	l.once.Do(func() { l.err = l.c.Close() })
	return l.err
}

// Close implements io.Closer.
func (l *faultLock) Close() error { return l.release() }

// faultFile is a file opened through FaultFS. Every method goes through
// the gate; writes and syncs also update the file's state.
type faultFile struct {
	f  vfs.File
	fs *FaultFS
	// st is nil for a read-only file not written through this FaultFS.
	st       *faultState
	readOnly bool
	// pos is the offset of the next Write (Read moves it too: one file
	// offset, as in the OS).
	pos int64
}

var _ vfs.File = (*faultFile)(nil)

func (f *faultFile) Close() error {
	f.fs.gate()
	return f.f.Close()
}

func (f *faultFile) Read(p []byte) (int, error) {
	f.fs.gate()
	n, err := f.f.Read(p)
	f.pos += int64(n)
	return n, err
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.gate()
	return f.f.ReadAt(p, off)
}

func (f *faultFile) Write(p []byte) (int, error) {
	n, err := f.writeAt(p, f.pos, false)
	f.pos += int64(n)
	return n, err
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	return f.writeAt(p, off, true)
}

// writeAt writes p at off, first saving the bytes it overwrites so that a
// power loss can put them back.
func (f *faultFile) writeAt(p []byte, off int64, at bool) (int, error) {
	f.fs.gate()
	st := f.st
	if st == nil {
		return 0, errors.New("fault fs: write to a file opened read-only")
	}
	st.mu.Lock()
	var old []byte
	if off < st.size {
		old = make([]byte, min(int64(len(p)), st.size-off))
		if _, err := f.f.ReadAt(old, off); err != nil && err != io.EOF {
			st.mu.Unlock()
			return 0, fmt.Errorf("fault fs: save the bytes a write overwrites in %s at %d: %w", st.path, off, err)
		}
	}
	var n int
	var err error
	if at {
		n, err = f.f.WriteAt(p, off)
	} else {
		n, err = f.f.Write(p)
	}
	if n > 0 {
		st.noteWrite(off, int64(n), old)
	}
	f.fs.unlockOrHalt(&st.mu)
	return n, err
}

// unlockOrHalt unlocks mu after a write or sync and returns, or, if the
// file system halted meanwhile, unlocks and never returns: the power went
// before the call could complete.
func (fs *FaultFS) unlockOrHalt(mu *sync.Mutex) {
	halted := fs.halted.Load()
	mu.Unlock()
	if halted {
		select {}
	}
}

// noteWrite records a write of n bytes at off (st.mu held).
func (st *faultState) noteWrite(off, n int64, old []byte) {
	if int64(len(old)) > n {
		old = old[:n]
	}
	st.size = max(st.size, off+n)
	if k := len(st.writes); k >= maxPendingWrites && old == nil {
		if last := &st.writes[k-1]; last.old == nil && last.off+last.n == off {
			last.n += n
			return
		}
	}
	st.writes = append(st.writes, faultWrite{off: off, n: n, old: old})
}

// synced records a completed sync of the whole file.
func (f *faultFile) synced() {
	if st := f.st; st != nil {
		// Keep the slice: a WAL syncs after nearly every write.
		clear(st.writes)
		st.synced, st.writes = st.size, st.writes[:0]
	}
}

// syncWith runs a sync of the file under its state's lock, so no write
// slips between the sync and its record.
func (f *faultFile) syncWith(sync func() (full bool, err error)) error {
	f.fs.gate()
	if f.st == nil {
		_, err := sync()
		return err
	}
	if hook := f.fs.beforeWALSync.Load(); hook != nil && !f.readOnly && isWALName(f.st.path) {
		// Outside the lock: the hook may halt the file system.
		(*hook)()
	}
	f.st.mu.Lock()
	full, err := sync()
	if err == nil && full && !f.fs.halted.Load() {
		f.synced()
	}
	f.fs.unlockOrHalt(&f.st.mu)
	return err
}

// isWALName reports whether path names a pebble WAL (NNNNNN.log).
func isWALName(path string) bool {
	_, ok := walNum(path)
	return ok
}

func (f *faultFile) Sync() error {
	return f.syncWith(func() (bool, error) { return true, f.f.Sync() })
}

func (f *faultFile) SyncData() error {
	return f.syncWith(func() (bool, error) { return true, f.f.SyncData() })
}

// SyncTo counts only when the disk reports a full sync (vfs.File's
// contract: otherwise nothing is promised).
func (f *faultFile) SyncTo(length int64) (bool, error) {
	var full bool
	err := f.syncWith(func() (bool, error) {
		var err error
		full, err = f.f.SyncTo(length)
		return full, err
	})
	return full, err
}

func (f *faultFile) Preallocate(off, length int64) error {
	f.fs.gate()
	return f.f.Preallocate(off, length)
}

func (f *faultFile) Stat() (os.FileInfo, error) {
	f.fs.gate()
	return f.f.Stat()
}

func (f *faultFile) Prefetch(off, length int64) error {
	f.fs.gate()
	return f.f.Prefetch(off, length)
}

// Fd returns the real descriptor: pebble uses it for read-ahead hints and
// to choose sync_file_range over full syncs, so hiding it would change
// what pebble does.
func (f *faultFile) Fd() uintptr { return f.f.Fd() }

// faultDir is a directory opened through FaultFS for syncing.
type faultDir struct {
	f    vfs.File
	fs   *FaultFS
	path string
}

var _ vfs.File = (*faultDir)(nil)

// Sync makes the directory operations completed before it durable.
func (d *faultDir) Sync() error {
	d.fs.gate()
	d.fs.mu.Lock()
	seq := d.fs.seq
	d.fs.mu.Unlock()
	if err := d.f.Sync(); err != nil {
		return err
	}
	// Halt holds fs.mu for good: a sync that returns after the halt
	// blocks here and counts for nothing.
	d.fs.dirSynced(d.path, seq)
	return nil
}

func (d *faultDir) SyncData() error { return d.Sync() }

func (d *faultDir) SyncTo(int64) (bool, error) { d.fs.gate(); return false, nil }

func (d *faultDir) Close() error               { d.fs.gate(); return d.f.Close() }
func (d *faultDir) Read(p []byte) (int, error) { d.fs.gate(); return d.f.Read(p) }
func (d *faultDir) ReadAt(p []byte, off int64) (int, error) {
	d.fs.gate()
	return d.f.ReadAt(p, off)
}
func (d *faultDir) Write(p []byte) (int, error) { d.fs.gate(); return d.f.Write(p) }
func (d *faultDir) WriteAt(p []byte, off int64) (int, error) {
	d.fs.gate()
	return d.f.WriteAt(p, off)
}
func (d *faultDir) Preallocate(off, length int64) error { d.fs.gate(); return nil }
func (d *faultDir) Stat() (os.FileInfo, error)          { d.fs.gate(); return d.f.Stat() }
func (d *faultDir) Prefetch(off, length int64) error    { d.fs.gate(); return nil }
func (d *faultDir) Fd() uintptr                         { return d.f.Fd() }
