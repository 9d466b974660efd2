package main

import (
	"context"
	"encoding/json"
	"net/http"

	"fmt"
	"github.com/chronik-chaos/chronik/broker/cluster"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A three-node raft-cluster of real chronik-server processes on loopback
// ports, for the cluster benchmarks (the README's "Measured figures").

type procCluster struct {
	bin   string
	dirs  []string
	args  [][]string
	procs []*proc
	seeds []string
	mu    sync.Mutex
}

// freePorts reserves n distinct loopback ports (closed again before use:
// a small race another process could win, acceptable in tests).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

func startProcCluster(t testing.TB, nodes int) *procCluster {
	t.Helper()
	c := newProcCluster(t, nodes)
	// Start all nodes at once: each waits for /readyz, which needs a quorum.
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.procs[i] = startProcQuiet(t, c.bin, c.args[i]...)
		}()
	}
	wg.Wait()
	return c
}

// newProcCluster prepares ports, data dirs and arguments of a cluster of
// nodes without starting any.
func newProcCluster(t testing.TB, nodes int) *procCluster {
	t.Helper()
	c := &procCluster{bin: buildBinary(t)}
	ports := freePorts(t, 3*nodes)
	kafkaP, adminP, raftP := ports[:nodes], ports[nodes:2*nodes], ports[2*nodes:]
	for i := range nodes {
		dir, err := os.MkdirTemp("", "chronik-cluster-")
		if err != nil {
			t.Fatal(err)
		}
		c.dirs = append(c.dirs, dir)
		var peers []string
		for j := range nodes {
			if j != i {
				peers = append(peers, fmt.Sprintf("%d@127.0.0.1:%d", j+1, raftP[j]))
			}
		}
		c.args = append(c.args, []string{
			"--kafka-port", strconv.Itoa(kafkaP[i]), "--admin-port", strconv.Itoa(adminP[i]),
			"--listen-host", "127.0.0.1", "--advertised-addr", "127.0.0.1",
			"--node-id", strconv.Itoa(i + 1), "--data-dir", dir, "--log-level", "warn",
			"raft-cluster", "--raft-addr", fmt.Sprintf("127.0.0.1:%d", raftP[i]), "--peers", strings.Join(peers, ","),
		})
		c.seeds = append(c.seeds, fmt.Sprintf("127.0.0.1:%d", kafkaP[i]))
	}
	c.procs = make([]*proc, nodes)
	return c
}

// startProcQuiet is startProc for processes that log at warn: the serving
// line is at info, so readiness is polled on the admin port instead.
func startProcQuiet(t testing.TB, bin string, args ...string) *proc {
	args2 := append([]string(nil), args...)
	for i, a := range args2 {
		if a == "--log-level" {
			args2[i+1] = "info"
		}
	}
	p := spawnProc(t, bin, args2...)
	waitReady(t, p.admin, 60*time.Second)
	return p
}

func (c *procCluster) close() {
	for _, p := range c.procs {
		if p != nil {
			p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
		}
	}
	for _, d := range c.dirs {
		os.RemoveAll(d)
	}
}

var (
	cluster3Once sync.Once
	cluster3     *procCluster
)

func sharedCluster3(b *testing.B) *procCluster {
	cluster3Once.Do(func() { cluster3 = startProcCluster(b, 3) })
	if cluster3 == nil {
		b.Fatal("cluster did not start")
	}
	return cluster3
}

func newKfake3(b *testing.B) []string {
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c.ListenAddrs()
}

// BenchmarkCluster3ProduceThroughput: three raft-cluster processes (every
// partition on all three, acks=all = Raft commit) vs a three-broker kfake.
func BenchmarkCluster3ProduceThroughput(b *testing.B) {
	c := sharedCluster3(b)
	kf := newKfake3(b)
	b.ReportAllocs()
	b.ResetTimer()
	cr := produceRate(b, strings.Join(c.seeds, ","), b.N)
	kr := produceRate(b, strings.Join(kf, ","), b.N)
	b.ReportMetric(cr, "chronik-rec/s")
	b.ReportMetric(kr, "kfake-rec/s")
	b.ReportMetric(cr/kr, "ratio")
}

// BenchmarkCluster3ProduceSyncLatency: ProduceSync p50/p99 on the 3-node
// cluster and on kfake.
func BenchmarkCluster3ProduceSyncLatency(b *testing.B) {
	c := sharedCluster3(b)
	kf := newKfake3(b)
	b.ReportAllocs()
	b.ResetTimer()
	cl := syncLatencies(b, strings.Join(c.seeds, ","), b.N)
	k := syncLatencies(b, strings.Join(kf, ","), b.N)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(quantile(cl, 0.5)), "chronik-p50-ms")
	b.ReportMetric(ms(quantile(cl, 0.99)), "chronik-p99-ms")
	b.ReportMetric(ms(quantile(k, 0.5)), "kfake-p50-ms")
	b.ReportMetric(ms(quantile(k, 0.99)), "kfake-p99-ms")
}

// BenchmarkCluster3Failover SIGKILLs the leader of a partition ten times
// and measures, each time, how long until a produce to that partition is
// acknowledged again (by the new leader). The killed node is restarted
// before the next kill. One iteration does all ten kills.
func BenchmarkCluster3Failover(b *testing.B) {
	for range b.N {
		c := startProcCluster(b, 3)
		times := failovers(b, c, 10)
		c.close()
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		b.ReportMetric(float64(times[len(times)/2])/1e6, "median-ms")
		b.ReportMetric(float64(times[len(times)-1])/1e6, "max-ms")
		b.Logf("failover times: %v", times)
	}
}

func failovers(b *testing.B, c *procCluster, kills int) []time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	seeds := strings.Join(c.seeds, ",")
	adm := kadm.NewClient(client(b, seeds))
	defer adm.Close()
	if _, err := adm.CreateTopic(ctx, 1, 3, nil, "failover"); err != nil {
		b.Fatal(err)
	}
	prod := client(b, seeds, kgo.DefaultProduceTopic("failover"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }),
		kgo.MetadataMinAge(10*time.Millisecond))
	defer prod.Close()
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("warm")}).FirstErr(); err != nil {
		b.Fatal(err)
	}
	var out []time.Duration
	for k := range kills {
		// Let leadership settle (the restarted node may take its preferred
		// partitions back), then kill the node that leads right now.
		time.Sleep(time.Second)
		leader := c.leaderOf(ctx, "failover/0")
		if leader < 1 {
			b.Fatal("no leader of failover/0 found in /status")
		}
		victim := c.procs[leader-1]
		start := time.Now()
		victim.cmd.Process.Signal(syscall.SIGKILL)
		<-victim.exited
		for {
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			err := prod.ProduceSync(pctx, &kgo.Record{Value: []byte(strconv.Itoa(k))}).FirstErr()
			pcancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				b.Fatalf("no produce acknowledged after killing node %d: %v", leader, err)
			}
		}
		out = append(out, time.Since(start))
		c.procs[leader-1] = startProcQuiet(b, c.bin, c.args[leader-1]...)
	}
	return out
}

// leaderOf asks every node's /status which one leads the Raft group name
// (a "topic/partition"); -1 when none says so.
func (c *procCluster) leaderOf(ctx context.Context, name string) int {
	for ctx.Err() == nil {
		for i, p := range c.procs {
			resp, err := http.Get("http://" + p.admin + "/status")
			if err != nil {
				continue
			}
			var st cluster.Status
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if err != nil {
				continue
			}
			for _, g := range st.RaftGroups {
				if g.Name == name && g.Role == "StateLeader" {
					return i + 1
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return -1
}
