package storage

import (
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// A Raft log that contradicts its hard state is refused at open with an
// error naming the group and the numbers; a crash cannot produce one (each
// Ready is one batch, in WAL order), so each case edits keys directly, as a
// lost sorted table or WAL would.
func TestRaftLogConsistencyAtOpen(t *testing.T) {
	const group = 9
	setHS := func(t *testing.T, db *DB, hs *pb.HardState) {
		t.Helper()
		v, err := proto.Marshal(hs)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Set(hardStateKey(group), v, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, db *DB)
		want   string // in the error; "" means the log opens
	}{
		{"consistent", func(t *testing.T, db *DB) {}, ""},
		{"hole in the log", func(t *testing.T, db *DB) {
			if err := db.Delete(entryKey(group, 5), pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}, "log hole: entry 5 missing, next stored entry is 6"},
		{"commit index beyond the last entry", func(t *testing.T, db *DB) {
			if err := db.DeleteRange(entryKey(group, 8), entryKey(group, 11), pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}, "commit index 9 outside the log [1, 7]"},
		{"log term above the hard state's term", func(t *testing.T, db *DB) {
			setHS(t, db, &pb.HardState{Term: new(uint64(1)), Commit: new(uint64(9))})
		}, "last entry 10 has term 2, above the hard state's term 1"},
		{"log without a hard state", func(t *testing.T, db *DB) {
			if err := db.Delete(hardStateKey(group), pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}, "no hard state, but a log (compaction point 1, last index 10)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			l, err := OpenRaftLog(db, group)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Bootstrap([]uint64{1}); err != nil {
				t.Fatal(err)
			}
			var ents []*pb.Entry
			for i := uint64(2); i <= 10; i++ {
				ents = append(ents, &pb.Entry{Index: new(i), Term: new(uint64(2)), Data: []byte{byte(i)}})
			}
			if err := l.Save(&pb.HardState{Term: new(uint64(2)), Vote: new(uint64(1)), Commit: new(uint64(9))}, ents, nil, nil, true); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, db)
			_, err = OpenRaftLog(db, group)
			defer db.Close()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("consistent log refused: %v", err)
			case tt.want == "":
			case err == nil:
				t.Fatalf("inconsistent log opened, want %q", tt.want)
			case !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "group 9"):
				t.Fatalf("error %q, want ErrCorrupt naming group 9 and %q", err, tt.want)
			}
		})
	}
}
