package storage_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/chronik-chaos/chronik/broker/storage"
)

// BenchmarkAppendFaultFS is BenchmarkAppend's pebble case on the plain disk
// and on the fault-injection file system, in the same run: what recording
// the synced state costs per synced Raft append.
func BenchmarkAppendFaultFS(b *testing.B) {
	payload := make([]byte, 1024)
	for _, groups := range []int{1, 16} {
		for _, faultFS := range []bool{false, true} {
			b.Run(fmt.Sprintf("groups=%d/fault-fs=%v", groups, faultFS), func(b *testing.B) {
				db, err := storage.OpenWith(b.TempDir(), nil, storage.Options{FaultFS: faultFS})
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				logs := make([]*storage.RaftLog, groups)
				for g := range logs {
					if logs[g], err = storage.OpenRaftLog(db, uint64(g+2)); err != nil {
						b.Fatal(err)
					}
					if err := logs[g].Bootstrap([]uint64{1}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				b.SetBytes(int64(len(payload)))
				b.ResetTimer()
				runGroups(b, groups, func(g int, i uint64) error {
					e := &pb.Entry{Index: new(i + 2), Term: new(uint64(1)), Data: payload}
					return logs[g].Save(&pb.HardState{Term: new(uint64(1)), Commit: new(i + 1)}, []*pb.Entry{e}, nil, nil, true)
				})
			})
		}
	}
}

// BenchmarkFaultFSWriteSync is the file system's own cost: a 1 KiB write
// and an fsync of a WAL-named file per op, on the plain vfs.Default and on
// a FaultFS (run with TMPDIR on a tmpfs to take the disk out of it).
func BenchmarkFaultFSWriteSync(b *testing.B) {
	buf := make([]byte, 1024)
	for _, faultFS := range []bool{false, true} {
		b.Run(fmt.Sprintf("fault-fs=%v", faultFS), func(b *testing.B) {
			dir := b.TempDir()
			var fs vfs.FS = vfs.Default
			if faultFS {
				ffs, err := storage.NewFaultFS(dir)
				if err != nil {
					b.Fatal(err)
				}
				fs = ffs
			}
			f, err := fs.Create(filepath.Join(dir, "000001.log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for range b.N {
				if _, err := f.Write(buf); err != nil {
					b.Fatal(err)
				}
				if err := f.SyncData(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
