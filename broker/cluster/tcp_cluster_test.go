package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

func freePorts(t *testing.T, n int) []string {
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// Three nodes over the real TCP transport on loopback.
func TestThreeNodesOverTCP(t *testing.T) {
	addrs := freePorts(t, 3)
	dir := t.TempDir()
	var nodes []*cluster.Node
	for i := 1; i <= 3; i++ {
		peers := map[uint64]string{}
		for j := 1; j <= 3; j++ {
			if j != i {
				peers[uint64(j)] = addrs[j-1]
			}
		}
		n, err := cluster.New(cluster.Config{
			NodeID: uint64(i), DataDir: filepath.Join(dir, fmt.Sprint(i)), RaftAddr: addrs[i-1], Peers: peers,
			AdvertisedHost: "127.0.0.1", KafkaPort: 9092, TickInterval: 20 * time.Millisecond, Logger: testLogger(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer n.Stop()
		nodes = append(nodes, n)
	}
	waitFor(t, 10*time.Second, "ready", func() bool {
		for _, n := range nodes {
			if !n.Ready() {
				return false
			}
		}
		return true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if errs := nodes[0].CreateTopics(ctx, []cluster.TopicSpec{{Name: "x", Partitions: 1}}, false); errs[0] != nil {
		t.Fatal(errs[0])
	}
	tp := cluster.TopicPartition{Topic: "x"}
	// Leadership may move to the preferred replica meanwhile: try every
	// node until one accepts.
	for i := range 5 {
		waitFor(t, 10*time.Second, "produce acknowledged", func() bool {
			for _, n := range nodes {
				_, err := n.Produce(ctx, tp, makeBatch(int64(i), 9, 0, int32(i)), -1)
				if err == nil || errors.Is(err, cluster.ErrDuplicateSequence) {
					return true
				}
			}
			return false
		})
	}
	for _, n := range nodes {
		got, hw, err := readAll(ctx, n, tp)
		if err != nil || hw != 5 || len(got) != 5 {
			t.Fatalf("node %d: %v %d %d", n.NodeID(), err, hw, len(got))
		}
	}
}
