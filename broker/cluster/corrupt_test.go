package cluster_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/storage"
)

// Stored state that contradicts itself is refused at load with an error
// naming the store, the Raft group and the numbers (storage.ErrCorrupt); it
// is never skipped or served. A crash cannot produce any of these (each
// Ready and each apply is one pebble batch, written in WAL order): each
// case edits the store directly, as a damaged disk or a lost file would.
func TestCorruptStoreRefusedAtLoad(t *testing.T) {
	batchKey := func(gid uint64, off int64) []byte {
		return storage.StateKey(gid, append([]byte{'b'}, binary.BigEndian.AppendUint64(nil, uint64(off))...)...)
	}
	// editState rewrites one field of the partition state machine's
	// stored state (its JSON record).
	editState := func(t *testing.T, db *storage.DB, gid uint64, field string, v any) {
		t.Helper()
		key := storage.StateKey(gid, 'm')
		raw, ok, err := db.GetCopy(key)
		if err != nil || !ok {
			t.Fatalf("partition state not found: %v", err)
		}
		var st map[string]any
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		st[field] = v
		if raw, err = json.Marshal(st); err != nil {
			t.Fatal(err)
		}
		if err := db.Set(key, raw, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// snapshotEntries > 0 compacts the log that often.
		snapshotEntries uint64
		damage          func(t *testing.T, db *storage.DB, gid, commit uint64)
		want            []string // in the error
	}{
		{"a stored batch fails its CRC", 0, func(t *testing.T, db *storage.DB, gid, _ uint64) {
			v, ok, err := db.GetCopy(batchKey(gid, 3))
			if err != nil || !ok {
				t.Fatalf("stored batch at offset 3 not found: %v", err)
			}
			v[len(v)-1] ^= 0xff // a record byte: the CRC no longer matches
			if err := db.Set(batchKey(gid, 3), v, pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}, []string{"t/0", "offset 3", "crc"}},
		{"the next offset does not match the stored batches", 0, func(t *testing.T, db *storage.DB, gid, _ uint64) {
			if err := db.Delete(batchKey(gid, 4), pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}, []string{"t/0", "stored batches end at offset 4 but the state says 5"}},
		{"the state machine applied beyond the commit index", 0, func(t *testing.T, db *storage.DB, gid, commit uint64) {
			editState(t, db, gid, "applied", commit+50)
		}, []string{"t/0", "applied index", "beyond the commit index"}},
		{"the state machine applied below the log's compaction point", 2, func(t *testing.T, db *storage.DB, gid, _ uint64) {
			editState(t, db, gid, "applied", 1)
		}, []string{"t/0", "applied index 1 is below the log's compaction point"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := newTestCluster(t, 1, func(c *cluster.Config) {
				if tt.snapshotEntries > 0 {
					c.SnapshotEntries = tt.snapshotEntries
				}
			})
			n := tc.start(1)
			tc.waitReady(5 * time.Second)
			tc.createTopic(1, "t", 1)
			tp := cluster.TopicPartition{Topic: "t"}
			for i := range 5 {
				if _, err := tc.produce(tp, makeBatch(int64(i), -1, 0, 0), 5*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			var gid, commit uint64
			for _, g := range n.Status().RaftGroups {
				if g.Name == "t/0" {
					gid, commit = g.ID, g.Commit
				}
			}
			cfg := tc.config(1)
			tc.stop(1)

			db, err := storage.Open(cfg.DataDir, nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.damage(t, db, gid, commit)
			db.Close()

			_, err = cluster.New(cfg)
			if err == nil {
				t.Fatal("node started on corrupt data")
			}
			if !errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), cfg.DataDir) && !strings.Contains(err.Error(), "raft group") {
				t.Fatalf("error is not a corruption naming the store or group: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error does not say %q: %v", w, err)
				}
			}
			t.Logf("refused: %v", err)
		})
	}
}
