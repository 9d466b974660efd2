package storage

// This file is the seeded no-fsync bug (Options.SkipWALSync): the WAL's
// fsyncs return at once. Why at the file system and not with pebble.NoSync
// commits: a NoSync commit stays in pebble's WAL buffer (in the process)
// until a block fills or a later commit syncs, so a plain SIGKILL already
// loses it. The mistake a power-loss test exists for is the broker that
// writes its log to the OS and never makes the OS write it to the disk:
// the page cache hides it from every crash of the process.

import (
	"github.com/cockroachdb/pebble/vfs"
)

// skipWALSyncFS hands out WAL files whose Sync and SyncData do nothing.
type skipWALSyncFS struct{ vfs.FS }

func (fs skipWALSyncFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !isWALName(name) {
		return f, err
	}
	return skipSyncFile{f}, nil
}

// Create implements vfs.FS.
func (fs skipWALSyncFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	return fs.wrap(name, f, err)
}

// ReuseForWrite implements vfs.FS.
func (fs skipWALSyncFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname)
	return fs.wrap(newname, f, err)
}

// OpenReadWrite implements vfs.FS.
func (fs skipWALSyncFS) OpenReadWrite(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, opts...)
	return fs.wrap(name, f, err)
}

type skipSyncFile struct{ vfs.File }

func (skipSyncFile) Sync() error     { return nil }
func (skipSyncFile) SyncData() error { return nil }

func (skipSyncFile) SyncTo(int64) (bool, error) { return false, nil }
