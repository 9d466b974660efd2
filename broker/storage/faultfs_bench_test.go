package storage_test

import (
	"fmt"
	"testing"

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
