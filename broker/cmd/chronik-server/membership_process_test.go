package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// TestProcessMembership grows a cluster of real processes by a node
// started with raft-cluster --join, through a follower's admin API (which
// forwards to the __meta leader), then removes the __meta leader itself
// through another follower; the removed process stays up but refuses to
// serve, Metadata no longer lists it, and the new node serves every
// acknowledged record.
func TestProcessMembership(t *testing.T) {
	c := newProcCluster(t, 3)
	t.Cleanup(c.close)
	for i := range c.procs {
		c.procs[i] = spawnProc(t, c.bin, quiet(c.args[i])...)
	}
	for _, p := range c.procs {
		waitReady(t, p.admin, 60*time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	adm := kadm.NewClient(client(t, strings.Join(c.seeds, ",")))
	if _, err := adm.CreateTopic(ctx, 3, 3, nil, "members"); err != nil {
		t.Fatal(err)
	}
	acked := map[string]int64{}
	prod := client(t, strings.Join(c.seeds, ","), kgo.DefaultProduceTopic("members"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	defer prod.Close()
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			r := &kgo.Record{Value: []byte(strconv.Itoa(i))}
			if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
			acked[string(r.Value)] = int64(r.Partition)<<32 | r.Offset
		}
	}
	produce(0, 300)

	// Node 4 starts empty with --join and waits.
	ports := freePorts(t, 3)
	dir, err := os.MkdirTemp("", "chronik-join-")
	if err != nil {
		t.Fatal(err)
	}
	c.dirs = append(c.dirs, dir)
	var peers []string
	for i, a := range c.args {
		peers = append(peers, fmt.Sprintf("%d@%s", i+1, argAfter(a, "--raft-addr")))
	}
	raft4 := fmt.Sprintf("127.0.0.1:%d", ports[2])
	args4 := []string{"--kafka-port", strconv.Itoa(ports[0]), "--admin-port", strconv.Itoa(ports[1]),
		"--listen-host", "127.0.0.1", "--advertised-addr", "127.0.0.1", "--node-id", "4", "--data-dir", dir, "--log-level", "info",
		"raft-cluster", "--join", "--raft-addr", raft4, "--peers", strings.Join(peers, ",")}
	p4 := spawnProc(t, c.bin, args4...)
	c.procs = append(c.procs, p4)
	time.Sleep(time.Second)
	if code, _ := httpDo(t, "GET", p4.admin, "/readyz", ""); code == 200 {
		t.Fatal("a node started with --join was ready before it was added")
	}

	leader := c.leaderOf(ctx, "__meta")
	follower := leader%3 + 1
	start := time.Now()
	code, body := httpDo(t, "POST", c.procs[follower-1].admin, "/admin/members",
		fmt.Sprintf(`{"id":4,"raft_addr":%q,"kafka_addr":"127.0.0.1:%d"}`, raft4, ports[0]))
	if code != 200 || !strings.Contains(body, `"state": "voter"`) {
		t.Fatalf("POST /admin/members via follower %d: %d %s", follower, code, body)
	}
	t.Logf("add node 4 (3 nodes, 4 partitions incl. chronik-default, 300 records): %v\nPOST answer: %s", time.Since(start), body)
	waitReady(t, p4.admin, 30*time.Second)
	code, body = httpDo(t, "POST", c.procs[leader-1].admin, "/admin/members", fmt.Sprintf(`{"id":4,"raft_addr":%q}`, raft4))
	if code != 409 || !strings.Contains(body, "id_in_use") {
		t.Fatalf("re-adding 4: %d %s", code, body)
	}
	produce(300, 400)

	// Remove the __meta leader through another node.
	leader = c.leaderOf(ctx, "__meta")
	via := 4
	code, body = httpDo(t, "DELETE", c.procs[via-1].admin, fmt.Sprintf("/admin/members/%d", leader), "")
	if code != 200 || !strings.Contains(body, `"state": "removed"`) {
		t.Fatalf("DELETE /admin/members/%d via node %d: %d %s", leader, via, code, body)
	}
	removed, removedID := c.procs[leader-1], leader
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := status(t, removed.admin)
		code, _ := httpDo(t, "GET", removed.admin, "/readyz", "")
		if st.MemberState == cluster.MemberRemoved && code == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("removed node %d: member_state %q, /readyz %d", leader, st.MemberState, code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, body = httpDo(t, "GET", c.procs[via-1].admin, "/admin/members", "")
	if code != 200 {
		t.Fatalf("GET /admin/members: %d %s", code, body)
	}
	t.Logf("GET /admin/members after removing %d:\n%s", leader, body)
	var rest []string
	for i, s := range c.seeds {
		if i+1 != leader {
			rest = append(rest, s)
		}
	}
	rest = append(rest, fmt.Sprintf("127.0.0.1:%d", ports[0]))
	meta, err := kadm.NewClient(client(t, strings.Join(rest, ","))).BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range meta.Brokers {
		if b.NodeID == int32(leader) {
			t.Fatalf("Metadata still lists removed broker %d: %v", leader, meta.Brokers)
		}
	}
	if len(meta.Brokers) != 3 {
		t.Fatalf("Metadata brokers %v, want 3", meta.Brokers)
	}
	produce(400, 500)

	// Kafka's admin view of the same quorum (KIP-853's DescribeQuorum),
	// asked of the __meta leader.
	leader = c.leaderOf(ctx, "__meta")
	dq := kmsg.NewPtrDescribeQuorumRequest()
	dt := kmsg.NewDescribeQuorumRequestTopic()
	dt.Topic = "__cluster_metadata"
	dt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	dq.Topics = append(dq.Topics, dt)
	dresp, err := dq.RequestWith(ctx, client(t, c.procs[leader-1].kafka))
	if err != nil {
		t.Fatal(err)
	}
	qp := dresp.Topics[0].Partitions[0]
	var voters []int32
	for _, v := range qp.CurrentVoters {
		voters = append(voters, v.ReplicaID)
	}
	if qp.ErrorCode != 0 || qp.LeaderID != int32(leader) || len(voters) != 3 || slices.Contains(voters, int32(removedID)) || !slices.Contains(voters, 4) {
		t.Fatalf("DescribeQuorum on the leader: %+v (voters %v)", qp, voters)
	}

	// Node 4 alone serves everything acknowledged.
	cl := client(t, fmt.Sprintf("127.0.0.1:%d", ports[0]), kgo.ConsumeTopics("members"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	found := map[string]int64{}
	for len(found) < len(acked) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d acknowledged records through node 4", len(found), len(acked))
		}
		fs.EachRecord(func(r *kgo.Record) { found[string(r.Value)] = int64(r.Partition)<<32 | r.Offset })
	}
	for v, at := range acked {
		if found[v] != at {
			t.Fatalf("record %s acknowledged at %x, read at %x", v, at, found[v])
		}
	}
}

func argAfter(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func httpDo(t *testing.T, method, admin, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+admin+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func status(t *testing.T, admin string) cluster.Status {
	t.Helper()
	var st cluster.Status
	resp, err := http.Get("http://" + admin + "/status")
	if err != nil {
		return st
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&st)
	return st
}
