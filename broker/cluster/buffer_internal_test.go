package cluster

import (
	"log/slog"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

// Messages for a group the node has not created yet are kept (bounded) and
// handed to the group when its topic's creation applies.
func TestMessagesForUnknownGroupAreBuffered(t *testing.T) {
	n := &Node{raftGroups: map[uint64]*raftGroup{}, buffered: map[uint64][]*pb.Message{}, log: testLog()}
	tests := []struct {
		name      string
		group     uint64
		count     int
		wantQueue int
	}{
		{"a few", 7, 3, 3},
		{"bounded per group", 8, maxBufferedPerGrp + 50, maxBufferedPerGrp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < tt.count; i++ {
				n.handle(2, []GroupMessage{{Group: tt.group, Msg: &pb.Message{Index: new(uint64(i))}}})
			}
			if got := len(n.buffered[tt.group]); got != tt.wantQueue {
				t.Fatalf("buffered %d, want %d", got, tt.wantQueue)
			}
		})
	}
	t.Run("delivered on creation", func(t *testing.T) {
		g := &raftGroup{recvc: make(chan *pb.Message, 16)}
		n.mu.Lock()
		n.adopt(7, g)
		n.mu.Unlock()
		if _, left := n.buffered[7]; left {
			t.Fatal("buffer kept after adoption")
		}
		if len(g.recvc) != 3 {
			t.Fatalf("delivered %d", len(g.recvc))
		}
		n.handle(2, []GroupMessage{{Group: 7, Msg: &pb.Message{}}})
		if len(g.recvc) != 4 {
			t.Fatal("message for an existing group not delivered directly")
		}
	})
	t.Run("bounded number of groups", func(t *testing.T) {
		for gid := uint64(100); gid < 100+maxBufferedGroups+10; gid++ {
			n.handle(2, []GroupMessage{{Group: gid, Msg: &pb.Message{}}})
		}
		if len(n.buffered) > maxBufferedGroups {
			t.Fatalf("%d groups buffered", len(n.buffered))
		}
	})
}

func testLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
