package transport_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/chronik-chaos/chronik/broker/transport"
)

func msg(to, from, index uint64) *pb.Message {
	return &pb.Message{Type: pb.MessageType_MsgApp.Enum(), To: new(to), From: new(from), Index: new(index),
		Entries: []*pb.Entry{{Index: new(index + 1), Term: new(uint64(1)), Data: []byte("x")}}}
}

func TestFrameRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		msgs []transport.GroupMessage
	}{
		{"empty", nil},
		{"one", []transport.GroupMessage{{Group: 1, Msg: msg(2, 1, 5)}}},
		{"several groups", []transport.GroupMessage{{Group: 1, Msg: msg(2, 1, 5)}, {Group: 77, Msg: msg(2, 1, 9)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := transport.AppendFrame(nil, 1, tt.msgs)
			if err != nil {
				t.Fatal(err)
			}
			from, got, _, err := transport.ReadFrame(bytes.NewReader(b), nil)
			if err != nil || from != 1 || len(got) != len(tt.msgs) {
				t.Fatalf("from %d n %d err %v", from, len(got), err)
			}
			for i := range got {
				if got[i].Group != tt.msgs[i].Group || got[i].Msg.GetIndex() != tt.msgs[i].Msg.GetIndex() {
					t.Fatalf("message %d differs", i)
				}
			}
		})
	}
	t.Run("oversized frame refused", func(t *testing.T) {
		b := []byte{0xff, 0xff, 0xff, 0xff}
		if _, _, _, err := transport.ReadFrame(bytes.NewReader(b), nil); err == nil {
			t.Fatal("accepted a 4 GiB frame")
		}
	})
}

type inbox struct {
	mu   sync.Mutex
	got  []transport.GroupMessage
	from []uint64
}

func (in *inbox) handle(from uint64, msgs []transport.GroupMessage) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.got = append(in.got, msgs...)
	for range msgs {
		in.from = append(in.from, from)
	}
}

func (in *inbox) count() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.got)
}

func freeAddrs(t *testing.T, n int) []string {
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ln.Addr().String())
		ln.Close()
	}
	return out
}

func waitCount(t *testing.T, in *inbox, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for in.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d messages, want %d", in.count(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Both directions over the single connection the lower id dials; the
// higher id's messages flow once that connection exists; a restarted peer
// is reconnected; the delay stage holds messages back.
func TestTCPExchangeReconnectDelay(t *testing.T) {
	addrs := freeAddrs(t, 2)
	mk := func(id uint64) (*transport.TCP, *inbox) {
		peers := map[uint64]string{1: addrs[0], 2: addrs[1]}
		delete(peers, id)
		tr := transport.NewTCP(transport.TCPConfig{NodeID: id, ListenAddr: addrs[id-1], Peers: peers})
		in := &inbox{}
		if err := tr.Start(context.Background(), in.handle); err != nil {
			t.Fatal(err)
		}
		return tr, in
	}
	t1, in1 := mk(1)
	defer t1.Stop()
	t2, in2 := mk(2)
	sendUntil := func(tr *transport.TCP, to uint64, in *inbox, n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for in.count() < n && time.Now().Before(deadline) {
			tr.Send(to, []transport.GroupMessage{{Group: 3, Msg: msg(to, 0, 1)}})
			time.Sleep(20 * time.Millisecond)
		}
		waitCount(t, in, n, time.Second)
	}
	sendUntil(t1, 2, in2, 1)
	sendUntil(t2, 1, in1, 1)
	// Reconnect after the peer restarts.
	t2.Stop()
	t2b, in2b := mk(2)
	defer t2b.Stop()
	sendUntil(t1, 2, in2b, 1)

	// The delay stage holds messages back by at least the delay.
	t1.SetDelay(300 * time.Millisecond)
	if t1.Delay() != 300*time.Millisecond {
		t.Fatal("delay not recorded")
	}
	n := in2b.count()
	sent := time.Now()
	t1.Send(2, []transport.GroupMessage{{Group: 3, Msg: msg(2, 1, 1)}})
	time.Sleep(150 * time.Millisecond)
	if in2b.count() != n {
		t.Fatal("delayed message arrived early")
	}
	waitCount(t, in2b, n+1, 2*time.Second)
	if time.Since(sent) < 300*time.Millisecond {
		t.Fatal("delay not applied")
	}
}

// A peer added at run time (a member added through the admin API) becomes
// reachable in both directions, whichever side dials; a connection from
// a peer nobody added is refused until it is added.
func TestTCPAddPeer(t *testing.T) {
	for _, joinerID := range []uint64{2, 1} { // the joiner dials, or is dialled
		t.Run(fmt.Sprintf("joiner-%d", joinerID), func(t *testing.T) {
			addrs := freeAddrs(t, 2)
			member := 3 - joinerID
			// The member knows nobody; the joiner knows the member
			// (its --peers).
			tm := transport.NewTCP(transport.TCPConfig{NodeID: member, ListenAddr: addrs[member-1]})
			inM := &inbox{}
			if err := tm.Start(context.Background(), inM.handle); err != nil {
				t.Fatal(err)
			}
			defer tm.Stop()
			tj := transport.NewTCP(transport.TCPConfig{NodeID: joinerID, ListenAddr: addrs[joinerID-1], Peers: map[uint64]string{member: addrs[member-1]}})
			inJ := &inbox{}
			if err := tj.Start(context.Background(), inJ.handle); err != nil {
				t.Fatal(err)
			}
			defer tj.Stop()
			send := func(tr *transport.TCP, to uint64) {
				tr.Send(to, []transport.GroupMessage{{Group: 3, Msg: msg(to, 0, 1)}})
			}
			for range 10 {
				send(tj, member)
				time.Sleep(20 * time.Millisecond)
			}
			if inM.count() != 0 {
				t.Fatal("messages from a peer nobody added were accepted")
			}
			tm.AddPeer(joinerID, addrs[joinerID-1])
			tm.AddPeer(joinerID, addrs[joinerID-1]) // idempotent
			deadline := time.Now().Add(5 * time.Second)
			for (inM.count() == 0 || inJ.count() == 0) && time.Now().Before(deadline) {
				send(tj, member)
				send(tm, joinerID)
				time.Sleep(20 * time.Millisecond)
			}
			if inM.count() == 0 || inJ.count() == 0 {
				t.Fatalf("after AddPeer: member got %d, joiner got %d messages", inM.count(), inJ.count())
			}
		})
	}
}
