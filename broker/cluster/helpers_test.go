package cluster_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/kafka"
	"github.com/chronik-chaos/chronik/broker/recordbatch"
	"github.com/chronik-chaos/chronik/broker/transport/memnet"
)

// The compile-time proof that *Node is what the Kafka layer needs.
var _ kafka.Backend = (*cluster.Node)(nil)

// makeBatch builds a RecordBatch v2 with one opaque record carrying v.
func makeBatch(v int64, pid int64, epoch int16, seq int32) cluster.Batch {
	rec := binary.BigEndian.AppendUint64(nil, uint64(v))
	raw := make([]byte, recordbatch.HeaderLen, recordbatch.HeaderLen+len(rec))
	raw = append(raw, rec...)
	binary.BigEndian.PutUint32(raw[recordbatch.Length:], uint32(len(raw)-recordbatch.LengthPrefix))
	raw[recordbatch.Magic] = 2
	binary.BigEndian.PutUint32(raw[recordbatch.LastOffsetDelta:], 0) // lastOffsetDelta
	ts := time.Now().UnixMilli()
	binary.BigEndian.PutUint64(raw[recordbatch.FirstTimestamp:], uint64(ts))
	binary.BigEndian.PutUint64(raw[recordbatch.MaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint64(raw[recordbatch.ProducerID:], uint64(pid))
	binary.BigEndian.PutUint16(raw[recordbatch.ProducerEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(raw[recordbatch.BaseSequence:], uint32(seq))
	binary.BigEndian.PutUint32(raw[recordbatch.RecordCount:], 1)
	binary.BigEndian.PutUint32(raw[recordbatch.CRC:], recordbatch.Checksum(raw))
	return cluster.Batch{Raw: raw, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, Records: 1, FirstTimestamp: ts, MaxTimestamp: ts}
}

// batchValue extracts the value makeBatch stored.
func batchValue(raw []byte) int64 { return int64(binary.BigEndian.Uint64(raw[recordbatch.HeaderLen:])) }

func batchBase(raw []byte) int64 { return int64(binary.BigEndian.Uint64(raw)) }

// testCluster is n in-process nodes over a memnet network.
type testCluster struct {
	t     testing.TB
	net   *memnet.Network
	dir   string
	ids   []uint64
	mu    sync.Mutex
	nodes map[uint64]*cluster.Node
	mod   func(*cluster.Config)
}

func newTestCluster(t testing.TB, n int, mod func(*cluster.Config)) *testCluster {
	tc := &testCluster{t: t, net: memnet.New(1), dir: t.TempDir(), nodes: map[uint64]*cluster.Node{}, mod: mod}
	for i := 1; i <= n; i++ {
		tc.ids = append(tc.ids, uint64(i))
	}
	t.Cleanup(tc.stopAll)
	return tc
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("CHRONIK_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func (tc *testCluster) config(id uint64) cluster.Config {
	peers := map[uint64]string{}
	for _, o := range tc.ids {
		if o != id {
			peers[o] = fmt.Sprintf("mem-%d", o)
		}
	}
	cfg := cluster.Config{
		NodeID:            id,
		DataDir:           filepath.Join(tc.dir, fmt.Sprintf("n%d", id)),
		Standalone:        len(tc.ids) == 1,
		Peers:             peers,
		AdvertisedHost:    "127.0.0.1",
		KafkaPort:         int32(9000 + id),
		DefaultPartitions: 3,
		AutoCreateTopics:  true,
		TickInterval:      10 * time.Millisecond,
		ElectionTicks:     10,
		HeartbeatTicks:    1,
		SnapshotEntries:   1000,
		Transport:         tc.net.Endpoint(id),
		Logger:            testLogger(tc.t).With("test_node", id),
	}
	if len(tc.ids) == 1 {
		cfg.Peers = nil
	}
	if tc.mod != nil {
		tc.mod(&cfg)
	}
	return cfg
}

func (tc *testCluster) start(id uint64) *cluster.Node {
	tc.t.Helper()
	n, err := cluster.New(tc.config(id))
	if err != nil {
		tc.t.Fatalf("new node %d: %v", id, err)
	}
	if err := n.Start(context.Background()); err != nil {
		tc.t.Fatalf("start node %d: %v", id, err)
	}
	tc.mu.Lock()
	tc.nodes[id] = n
	tc.mu.Unlock()
	return n
}

func (tc *testCluster) startAll() {
	for _, id := range tc.ids {
		tc.start(id)
	}
}

func (tc *testCluster) stop(id uint64) {
	tc.mu.Lock()
	n := tc.nodes[id]
	delete(tc.nodes, id)
	tc.mu.Unlock()
	if n != nil {
		n.Stop()
	}
}

func (tc *testCluster) stopAll() {
	for _, id := range tc.ids {
		tc.stop(id)
	}
}

func (tc *testCluster) node(id uint64) *cluster.Node {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.nodes[id]
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}

// leaderOf returns the node leading tp according to any running node that
// believes itself the leader.
func (tc *testCluster) leaderOf(tp cluster.TopicPartition) *cluster.Node {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for id, n := range tc.nodes {
		ti, ok := n.Topic(tp.Topic)
		if !ok || int(tp.Partition) >= len(ti.Partitions) {
			continue
		}
		if ti.Partitions[tp.Partition].Leader == int32(id) {
			for _, g := range n.Status().RaftGroups {
				if g.Name == fmt.Sprintf("%s/%d", tp.Topic, tp.Partition) && g.Role == "StateLeader" {
					return n
				}
			}
		}
	}
	return nil
}

// waitReady waits until every running node is ready.
func (tc *testCluster) waitReady(d time.Duration) {
	tc.t.Helper()
	waitFor(tc.t, d, "all nodes ready", func() bool {
		tc.mu.Lock()
		defer tc.mu.Unlock()
		for _, n := range tc.nodes {
			if !n.Ready() {
				return false
			}
		}
		return true
	})
}

// createTopic creates a topic through any node, retrying while __meta has
// no leader.
func (tc *testCluster) createTopic(via uint64, name string, parts int32) {
	tc.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		errs := tc.node(via).CreateTopics(ctx, []cluster.TopicSpec{{Name: name, Partitions: parts}}, false)
		cancel()
		if errs[0] == nil || errors.Is(errs[0], cluster.ErrTopicExists) {
			return
		}
		if time.Now().After(deadline) {
			tc.t.Fatalf("create topic %s: %v", name, errs[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// produce sends v to tp's current leader, retrying on retriable errors
// until d passes. It returns the acknowledged offset.
func (tc *testCluster) produce(tp cluster.TopicPartition, b cluster.Batch, d time.Duration) (int64, error) {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		l := tc.leaderOf(tp)
		if l == nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		res, err := l.Produce(ctx, tp, b, -1)
		cancel()
		if err == nil || errors.Is(err, cluster.ErrDuplicateSequence) {
			return res.BaseOffset, nil
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	return -1, fmt.Errorf("produce: gave up: %w", last)
}

// readAll fetches tp from offset 0 to the high watermark through n.
func readAll(ctx context.Context, n *cluster.Node, tp cluster.TopicPartition) (map[int64]int64, int64, error) {
	out := map[int64]int64{}
	var off, hw int64
	for range 100000 {
		r, err := n.Fetch(ctx, tp, off, 1<<20)
		if err != nil {
			return nil, 0, err
		}
		hw = r.HighWatermark
		if len(r.Batches) == 0 {
			return out, hw, nil
		}
		for _, b := range r.Batches {
			out[batchBase(b)] = batchValue(b)
			off = batchBase(b) + 1
		}
	}
	return out, hw, errors.New("read: too many rounds")
}
