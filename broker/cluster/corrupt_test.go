package cluster_test

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/storage"
)

// A corrupted stored batch is refused at load with an error naming the
// store, the key and the offset; it is never skipped silently.
func TestCorruptBatchRefusedAtLoad(t *testing.T) {
	tc := newTestCluster(t, 1, nil)
	n := tc.start(1)
	tc.waitReady(5 * time.Second)
	tc.createTopic(1, "t", 1)
	tp := cluster.TopicPartition{Topic: "t"}
	for i := range 5 {
		if _, err := tc.produce(tp, makeBatch(int64(i), -1, 0, 0), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	var gid uint64
	for _, g := range n.Status().RaftGroups {
		if g.Name == "t/0" {
			gid = g.ID
		}
	}
	cfg := tc.config(1)
	tc.stop(1)

	db, err := storage.Open(cfg.DataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	key := storage.StateKey(gid, append([]byte{'b'}, binary.BigEndian.AppendUint64(nil, 3)...)...)
	v, ok, err := db.GetCopy(key)
	if err != nil || !ok {
		t.Fatalf("stored batch at offset 3 not found: %v", err)
	}
	v[len(v)-1] ^= 0xff // flip a record byte: the CRC no longer matches
	if err := db.Set(key, v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	db.Close()

	_, err = cluster.New(cfg)
	if err == nil {
		t.Fatal("node started on corrupt data")
	}
	if !errors.Is(err, storage.ErrCorrupt) || !strings.Contains(err.Error(), "offset 3") || !strings.Contains(err.Error(), cfg.DataDir) {
		t.Fatalf("error does not name the corruption: %v", err)
	}
	_ = context.Background
}
