package cluster_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// A torn tail (the last WAL record half written, as a crash during a write
// leaves it) is repaired at start: the node starts and keeps every record
// whose write completed before the torn one.
func TestTornWALTailRepaired(t *testing.T) {
	tc := newTestCluster(t, 1, nil)
	tc.start(1)
	tc.waitReady(5 * time.Second)
	tc.createTopic(1, "t", 1)
	tp := cluster.TopicPartition{Topic: "t"}
	for i := range 20 {
		if _, err := tc.produce(tp, makeBatch(int64(i), -1, 0, 0), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	cfg := tc.config(1)
	tc.stop(1)
	wals, _ := filepath.Glob(filepath.Join(cfg.DataDir, "*.log"))
	if len(wals) == 0 {
		t.Fatal("no WAL file found")
	}
	sort.Strings(wals)
	last := wals[len(wals)-1]
	st, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	// Append half a record's worth of garbage: a write torn by a crash.
	f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{0x12, 0x34, 0x56, 0x00, 0x07, 0x01}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Logf("tore %s (%d bytes)", last, st.Size())
	n := tc.start(1)
	tc.waitReady(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, hw, err := readAll(ctx, n, tp)
	if err != nil || hw != 20 || len(got) != 20 {
		t.Fatalf("after torn tail: err %v hw %d records %d", err, hw, len(got))
	}
}
