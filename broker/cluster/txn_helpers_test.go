package cluster_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/kafka"
	"github.com/chronik-chaos/chronik/broker/recordbatch"
)

// makeTxnBatch is makeBatch flagged transactional.
func makeTxnBatch(v int64, pid int64, epoch int16, seq int32) cluster.Batch {
	b := makeBatch(v, pid, epoch, seq)
	binary.BigEndian.PutUint16(b.Raw[recordbatch.Attributes:], recordbatch.AttrTransactional)
	binary.BigEndian.PutUint32(b.Raw[recordbatch.CRC:], recordbatch.Checksum(b.Raw))
	b.Transactional = true
	return b
}

// committedValues reads tp through n from offset 0 as a read_committed
// consumer does: only below the last stable offset, without control
// batches and without the records of aborted transactions. It returns the
// values in log order and the last stable offset.
func committedValues(ctx context.Context, n *cluster.Node, tp cluster.TopicPartition) ([]int64, int64, error) {
	var out []int64
	var off int64
	aborted := map[int64][]cluster.AbortedTxn{}
	for range 100000 {
		r, err := n.Fetch(ctx, tp, off, 1<<20)
		if err != nil {
			return nil, 0, err
		}
		for _, a := range r.Aborted {
			if !containsAborted(aborted[a.ProducerID], a) {
				aborted[a.ProducerID] = append(aborted[a.ProducerID], a)
			}
		}
		read := false
		for _, b := range r.Batches {
			base := batchBase(b)
			if base >= r.LastStable {
				break
			}
			read = true
			off = base + 1
			attrs := binary.BigEndian.Uint16(b[recordbatch.Attributes:])
			if attrs&recordbatch.AttrControl != 0 {
				continue
			}
			pid := int64(binary.BigEndian.Uint64(b[recordbatch.ProducerID:]))
			if attrs&recordbatch.AttrTransactional != 0 && inAborted(aborted[pid], base) {
				continue
			}
			out = append(out, batchValue(b))
		}
		if !read {
			return out, r.LastStable, nil
		}
	}
	return nil, 0, errors.New("read: too many rounds")
}

func containsAborted(as []cluster.AbortedTxn, a cluster.AbortedTxn) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

func inAborted(as []cluster.AbortedTxn, off int64) bool {
	for _, a := range as {
		if off >= a.FirstOffset && off < a.LastOffset {
			return true
		}
	}
	return false
}

// coordinatorOf waits for the node leading __meta (the transaction
// coordinator) among the running nodes.
func (tc *testCluster) coordinator() *cluster.Node {
	tc.t.Helper()
	var c *cluster.Node
	waitFor(tc.t, 20*time.Second, "transaction coordinator", func() bool {
		for _, id := range tc.ids {
			n := tc.node(id)
			if n != nil && n.CoordinatorID() == n.NodeID() {
				c = n
				return true
			}
		}
		return false
	})
	return c
}

// txnClient drives the coordinator's Backend calls for one transactional
// id the way a client does, retrying what a client retries.
type txnClient struct {
	t     testing.TB
	tc    *testCluster
	id    string
	pid   int64
	epoch int16
	seq   map[cluster.TopicPartition]int32
}

func newTxnClient(t testing.TB, tc *testCluster, id string) *txnClient {
	t.Helper()
	c := &txnClient{t: t, tc: tc, id: id, seq: map[cluster.TopicPartition]int32{}}
	c.init()
	return c
}

// txnRetriable: the answers a transactional client retries.
func txnRetriable(err error) bool {
	for _, e := range []error{cluster.ErrNotLeader, cluster.ErrNotReady, cluster.ErrTimeout, cluster.ErrStopped, cluster.ErrConcurrentTransactions, cluster.ErrTxnUnverified} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// retry runs f on the coordinator until it returns a non-retriable
// answer or 20 s pass.
func (c *txnClient) retry(what string, f func(ctx context.Context, n *cluster.Node) error) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := c.tc.coordinator()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := f(ctx, n)
		cancel()
		if err == nil || !txnRetriable(err) || time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *txnClient) init() {
	c.t.Helper()
	err := c.retry("init", func(ctx context.Context, n *cluster.Node) error {
		pid, epoch, err := n.InitTxnProducer(ctx, cluster.TxnInit{ID: c.id, TimeoutMs: 60000, ProducerID: -1, Epoch: -1})
		c.pid, c.epoch = pid, epoch
		return err
	})
	if err != nil {
		c.t.Fatal(err)
	}
	clear(c.seq)
}

func (c *txnClient) producer() cluster.TxnProducer {
	return cluster.TxnProducer{ID: c.id, ProducerID: c.pid, Epoch: c.epoch}
}

func (c *txnClient) add(tps ...cluster.TopicPartition) error {
	return c.retry("add partitions", func(ctx context.Context, n *cluster.Node) error {
		return n.AddTxnPartitions(ctx, c.producer(), tps)
	})
}

// send produces value v to tp in the transaction (to the partition's
// leader, retrying), returning its offset.
func (c *txnClient) send(tp cluster.TopicPartition, v int64) (int64, error) {
	b := makeTxnBatch(v, c.pid, c.epoch, c.seq[tp])
	deadline := time.Now().Add(20 * time.Second)
	for {
		l := c.tc.leaderOf(tp)
		if l == nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		res, err := l.Produce(ctx, tp, b, -1)
		cancel()
		if errors.Is(err, cluster.ErrDuplicateSequence) {
			err = nil
		}
		if err == nil {
			c.seq[tp]++
			return res.BaseOffset, nil
		}
		if !txnRetriable(err) || time.Now().After(deadline) {
			return -1, fmt.Errorf("send %d to %s/%d: %w", v, tp.Topic, tp.Partition, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *txnClient) end(commit bool) error {
	return c.retry("end", func(ctx context.Context, n *cluster.Node) error {
		return n.EndTxn(ctx, c.producer(), commit)
	})
}

// kafkaCluster is a testCluster whose nodes also serve the Kafka protocol
// on loopback ports, so real clients (franz-go) can drive it; the ports
// stay the same across restarts.
type kafkaCluster struct {
	*testCluster
	mu      sync.Mutex
	addrs   map[uint64]string
	servers map[uint64]*kafkaServer
}

type kafkaServer struct {
	srv    *kafka.Server
	cancel context.CancelFunc
	done   chan struct{}
}

func newKafkaCluster(t testing.TB, n int, mod func(*cluster.Config)) *kafkaCluster {
	kc := &kafkaCluster{addrs: map[uint64]string{}, servers: map[uint64]*kafkaServer{}}
	ports := map[uint64]int32{}
	for i := 1; i <= n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[uint64(i)] = int32(ln.Addr().(*net.TCPAddr).Port)
		kc.addrs[uint64(i)] = ln.Addr().String()
		ln.Close()
	}
	kc.testCluster = newTestCluster(t, n, func(c *cluster.Config) {
		c.KafkaPort = ports[c.NodeID]
		if mod != nil {
			mod(c)
		}
	})
	t.Cleanup(kc.stopAll)
	return kc
}

func (kc *kafkaCluster) start(id uint64) *cluster.Node {
	kc.t.Helper()
	n := kc.testCluster.start(id)
	var ln net.Listener
	var err error
	for range 100 { // the port of a stopped server may linger a moment
		if ln, err = net.Listen("tcp", kc.addrs[id]); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		kc.t.Fatalf("listen %s: %v", kc.addrs[id], err)
	}
	srv, err := kafka.New(kafka.Config{Backend: n, AutoCreateTopics: true, DefaultPartitions: 3, Logger: testLogger(kc.t).With("kafka_node", id)})
	if err != nil {
		kc.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ks := &kafkaServer{srv: srv, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(ks.done); _ = srv.Serve(ctx, ln) }()
	kc.mu.Lock()
	kc.servers[id] = ks
	kc.mu.Unlock()
	return n
}

func (kc *kafkaCluster) startAll() {
	for _, id := range kc.ids {
		kc.start(id)
	}
}

// stop stops node id and its Kafka listener (its clients see their
// connections close, as with a killed broker).
func (kc *kafkaCluster) stop(id uint64) {
	kc.mu.Lock()
	ks := kc.servers[id]
	delete(kc.servers, id)
	kc.mu.Unlock()
	if ks != nil {
		ks.cancel()
		ks.srv.Close()
		<-ks.done
	}
	kc.testCluster.stop(id)
}

func (kc *kafkaCluster) stopAll() {
	for _, id := range kc.ids {
		kc.stop(id)
	}
}

func (kc *kafkaCluster) seeds() []string {
	out := make([]string, 0, len(kc.addrs))
	for _, a := range kc.addrs {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}
