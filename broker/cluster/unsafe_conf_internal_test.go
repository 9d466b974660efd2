package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/recordbatch"
	"github.com/chronik-chaos/chronik/broker/transport/memnet"
)

// TestUnsafeDirectConfChangeTwoMajorities replaces voter 3 by node 4 in a
// partition group whose leader (node 1) reaches nodes 2 and 3 only slowly,
// and cuts {1,4} from {2,3} right after the leader applied the swap, before
// 2 and 3 learned that it committed.
//
// Correct (joint consensus): the leader is in C_old,new and needs a
// majority of {1,2,3} and of {1,2,4}: {1,4} commits nothing more, {2,3}
// elect a leader and commit its empty entry; one history.
//
// Unsafe.DirectConfChange: the leader jumped straight to C_new={1,2,4}
// and commits with {1,4}, while {2,3}, still in C_old, elect a leader of
// their own and commit a different entry at the same index: two
// majorities, two committed histories (raft panics when they meet).
func TestUnsafeDirectConfChangeTwoMajorities(t *testing.T) {
	for _, unsafe := range []bool{false, true} {
		t.Run(map[bool]string{false: "correct", true: "unsafe"}[unsafe], func(t *testing.T) {
			violated := runSwapUnderSlowLinks(t, unsafe)
			if violated != unsafe {
				t.Fatalf("two different entries committed at one index: %v, want %v", violated, unsafe)
			}
		})
	}
}

func runSwapUnderSlowLinks(t *testing.T, unsafe bool) bool {
	net := memnet.New(7)
	dir := t.TempDir()
	nodes := map[uint64]*Node{}
	start := func(id uint64, join bool) *Node {
		peers := map[uint64]string{}
		for o := uint64(1); o <= 4; o++ {
			if o != id {
				peers[o] = fmt.Sprintf("mem-%d", o)
			}
		}
		if !join {
			delete(peers, 4)
		}
		cfg := Config{NodeID: id, DataDir: filepath.Join(dir, fmt.Sprint(id)), Peers: peers, Join: join,
			AdvertisedHost: "127.0.0.1", KafkaPort: int32(9000 + id), DefaultPartitions: 1,
			// Elections take a second: the slow links (300 ms) must not
			// depose node 1 before the swap.
			TickInterval: 10 * time.Millisecond, ElectionTicks: 100, HeartbeatTicks: 1,
			Transport: net.Endpoint(id), Logger: testLog()}
		if os.Getenv("CHRONIK_TEST_LOG") != "" {
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test_node", id)
		}
		cfg.Unsafe.DirectConfChange = unsafe
		n, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		nodes[id] = n
		return n
	}
	// Stop without healing: the two histories must never meet in-process.
	defer func() {
		for _, n := range nodes {
			n.Stop()
		}
	}()
	for id := uint64(1); id <= 3; id++ {
		start(id, false)
	}
	until := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	until("ready", 10*time.Second, func() bool { return nodes[1].Ready() && nodes[2].Ready() && nodes[3].Ready() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if errs := nodes[1].CreateTopics(ctx, []TopicSpec{{Name: "swap", Partitions: 1}}, false); errs[0] != nil {
		t.Fatal(errs[0])
	}
	tm, _ := nodes[1].meta.topic("swap")
	gid := tm.RaftGroups[0]
	part := func(id uint64) *raftGroup { return nodes[id].raftGroup(gid) }
	// Partition 0 prefers node 1 as its leader.
	until("node 1 leads the partition", 10*time.Second, func() bool { return part(1) != nil && part(1).isLeader() })
	start(4, true)

	// Node 1's appends reach 2 and 3 late; their answers come back at once.
	net.SetDelay(1, 2, 300*time.Millisecond)
	net.SetDelay(1, 3, 300*time.Millisecond)
	var err error
	until("member 4 added", 20*time.Second, func() bool {
		for _, n := range nodes {
			if n.metaRaft.isLeader() {
				_, err = n.AddMember(ctx, MemberSpec{ID: 4, RaftAddr: "mem-4:1", Replaces: 3})
				return err == nil
			}
		}
		return false
	})
	var swapAt uint64
	until("node 1 applied the swap", 20*time.Second, func() bool {
		rec := part(1).conf.latest()
		if roleIn(rec.cs, 4) == roleVoter {
			swapAt = rec.index
			return true
		}
		return false
	})
	net.Isolate(1, 2, 3)
	net.Isolate(4, 2, 3)
	net.SetDelay(1, 2, 0)
	net.SetDelay(1, 3, 0)

	// {1,4} go on writing; {2,3} elect a leader of their own.
	for v := int64(0); v < 5; v++ {
		pctx, pcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, _ = nodes[1].Produce(pctx, TopicPartition{Topic: "swap"}, testBatch(v), -1)
		pcancel()
	}
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		c1 := part(1).pubCommit.Load()
		for _, id := range []uint64{2, 3} {
			g := part(id)
			if c := g.pubCommit.Load(); c > swapAt && c1 > swapAt {
				t1, err1 := part(1).rlog.Term(swapAt + 1)
				t2, err2 := g.rlog.Term(swapAt + 1)
				if err1 == nil && err2 == nil && t1 != t2 {
					t.Logf("index %d committed on node 1 in term %d and on node %d in term %d", swapAt+1, t1, id, t2)
					return true
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	for id := uint64(1); id <= 4; id++ {
		g := part(id)
		t1, _ := g.rlog.Term(swapAt + 1)
		last, _ := g.rlog.LastIndex()
		t.Logf("node %d: swap at %d, commit %d, last %d, term at %d: %d, role %v lead %d conf %s", id, swapAt, g.pubCommit.Load(), last, swapAt+1, t1, g.pubRole.Load(), g.pubLead.Load(), describeConf(g.confState()))
	}
	return false
}

// testBatch is a RecordBatch v2 with one opaque record carrying v (as
// makeBatch of the external tests builds it).
func testBatch(v int64) Batch {
	rec := binary.BigEndian.AppendUint64(nil, uint64(v))
	raw := make([]byte, recordbatch.HeaderLen, recordbatch.HeaderLen+len(rec))
	raw = append(raw, rec...)
	binary.BigEndian.PutUint32(raw[recordbatch.Length:], uint32(len(raw)-recordbatch.LengthPrefix))
	raw[recordbatch.Magic] = 2
	ts := time.Now().UnixMilli()
	binary.BigEndian.PutUint64(raw[recordbatch.FirstTimestamp:], uint64(ts))
	binary.BigEndian.PutUint64(raw[recordbatch.MaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint64(raw[recordbatch.ProducerID:], ^uint64(0)) // -1: not idempotent
	binary.BigEndian.PutUint32(raw[recordbatch.RecordCount:], 1)
	binary.BigEndian.PutUint32(raw[recordbatch.CRC:], recordbatch.Checksum(raw))
	return Batch{Raw: raw, ProducerID: -1, Records: 1, FirstTimestamp: ts, MaxTimestamp: ts}
}
