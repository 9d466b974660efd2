package memnet_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/chronik-chaos/chronik/broker/transport"
	"github.com/chronik-chaos/chronik/broker/transport/memnet"
)

func TestLinkFaults(t *testing.T) {
	tests := []struct {
		name       string
		fault      func(n *memnet.Network)
		send       int
		wantMin    int
		wantMax    int
		minLatency time.Duration
	}{
		{"healthy", func(*memnet.Network) {}, 100, 100, 100, 0},
		{"cut", func(n *memnet.Network) { n.Cut(1, 2) }, 100, 0, 0, 0},
		{"drop half", func(n *memnet.Network) { n.SetDrop(1, 2, 0.5) }, 400, 120, 280, 0},
		{"delay", func(n *memnet.Network) { n.SetDelay(1, 2, 100*time.Millisecond) }, 10, 10, 10, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := memnet.New(7)
			a, b := n.Endpoint(1), n.Endpoint(2)
			var got atomic.Int64
			if err := a.Start(context.Background(), func(uint64, []transport.GroupMessage) {}); err != nil {
				t.Fatal(err)
			}
			if err := b.Start(context.Background(), func(_ uint64, m []transport.GroupMessage) { got.Add(int64(len(m))) }); err != nil {
				t.Fatal(err)
			}
			defer a.Stop()
			defer b.Stop()
			tt.fault(n)
			start := time.Now()
			for range tt.send {
				a.Send(2, []transport.GroupMessage{{Group: 1, Msg: &pb.Message{To: new(uint64(2))}}})
			}
			deadline := time.Now().Add(2 * time.Second)
			for got.Load() < int64(tt.wantMin) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond)
			if g := got.Load(); g < int64(tt.wantMin) || g > int64(tt.wantMax) {
				t.Fatalf("delivered %d, want %d..%d", g, tt.wantMin, tt.wantMax)
			}
			if tt.minLatency > 0 && time.Since(start) < tt.minLatency {
				t.Fatal("delay not applied")
			}
		})
	}
}
