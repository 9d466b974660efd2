package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// A torn tail (the newest WAL's last record half written, as a crash during
// the write leaves it) is cut at start with a WARN line naming the file,
// and the node keeps every record whose write completed before it: after a
// clean stop the last WAL record is an apply batch, which the restart
// re-applies from the Raft log.
func TestTornWALTailRepaired(t *testing.T) {
	var logs bytes.Buffer
	tc := newTestCluster(t, 1, func(c *cluster.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
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
	// 100 bytes: pebble's 11-byte EOF trailer and most of the last record
	// (an apply batch holds a stored batch and the partition state, well
	// over 100 bytes).
	if err := os.Truncate(last, st.Size()-100); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	n := tc.start(1)
	tc.waitReady(5 * time.Second)
	if !strings.Contains(logs.String(), "cut the torn tail of the newest pebble WAL") || !strings.Contains(logs.String(), jsonString(last)) {
		t.Fatalf("no torn-tail warning naming %s:\n%s", last, logs.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, hw, err := readAll(ctx, n, tp)
	if err != nil || hw != 20 || len(got) != 20 {
		t.Fatalf("after torn tail: err %v hw %d records %d", err, hw, len(got))
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
