package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkCluster3RestartRetries measures what producers see when a
// restarted node gets its preferred partitions back: a 3-node cluster, a
// topic of 6 partitions (two preferred by each node), one franz-go producer
// with its default settings (idempotent, acks=all) sending to every
// partition in a loop; node 2 is SIGKILLed, restarted after 3 s, and the
// run continues until node 2 leads both of its preferred partitions again
// (bounded by 3 minutes). From the restart on, every produce response
// error franz-go logs for a partition opens a retry episode that the
// partition's next acknowledgement closes.
//
// Reported: retry-ms (the episodes' total over all partitions),
// max-episode-ms, episodes, the errors by code, moveback-s (restart to
// node 2 leading both partitions) and p99/max produce latency after the
// restart (a retried record's latency includes its retries, and franz-go
// waits up to its metadata min age, 5 s, before asking for metadata
// again when an error names no new leader). CHRONIK_BENCH_BROKER_ARGS adds flags to every node (for
// example "--leader-imbalance-check-interval=2s").
func BenchmarkCluster3RestartRetries(b *testing.B) {
	extra := strings.Fields(os.Getenv("CHRONIK_BENCH_BROKER_ARGS"))
	for range b.N {
		r := restartRetries(b, extra)
		b.ReportMetric(float64(r.total.Milliseconds()), "retry-ms")
		b.ReportMetric(float64(r.maxEpisode.Milliseconds()), "max-episode-ms")
		b.ReportMetric(float64(r.episodes), "episodes")
		b.ReportMetric(r.moveBack.Seconds(), "moveback-s")
		b.ReportMetric(float64(r.p99.Milliseconds()), "p99-ms")
		b.ReportMetric(float64(r.maxLat.Milliseconds()), "max-lat-ms")
		b.Logf("errors after the restart: %v; episodes per partition: %v", r.errs, r.perPartition)
	}
}

type retryResult struct {
	total, maxEpisode, moveBack, p99, maxLat time.Duration
	episodes                                 int
	errs                                     map[string]int
	perPartition                             map[int32][]time.Duration
}

// retryLog is a kgo.Logger that notes, per partition, when franz-go got
// a produce response error for it while watching is on. franz-go retries
// those errors without logging each one, except in its debug summary of
// every produce response ("produced", to: "topic[p{retrying@...(CODE: ...)},
// p{move:leader:epoch@...}, ...]"), which is parsed here.
type retryLog struct {
	mu       sync.Mutex
	watching bool
	open     map[int32]time.Time // partition -> first error of the episode
	errs     map[string]int
	done     map[int32][]time.Duration
}

// producedRE matches one partition's failed entry in the summary: a retry
// with its error code, or a KIP-951 move to the leader the broker named.
var producedRE = regexp.MustCompile(`(\d+)\{(?:retrying@[^(]*\(([A-Z_]+)|(move):)`)

func (l *retryLog) Level() kgo.LogLevel { return kgo.LogLevelDebug }

func (l *retryLog) Log(_ kgo.LogLevel, msg string, kv ...any) {
	if msg != "produced" {
		return
	}
	var to string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == "to" {
			to, _ = kv[i+1].(string)
		}
	}
	ms := producedRE.FindAllStringSubmatch(to, -1)
	if len(ms) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.watching {
		return
	}
	for _, m := range ms {
		p, _ := strconv.Atoi(m[1])
		code := m[2]
		if m[3] != "" {
			code = "NOT_LEADER_FOR_PARTITION (moved by the hint)"
		}
		l.errs[code]++
		if _, ok := l.open[int32(p)]; !ok {
			l.open[int32(p)] = time.Now()
		}
	}
}

// acked closes partition p's episode.
func (l *retryLog) acked(p int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.open[p]; ok {
		l.done[p] = append(l.done[p], time.Since(t))
		delete(l.open, p)
	}
}

func restartRetries(b *testing.B, extra []string) retryResult {
	c := newProcCluster(b, 3)
	defer c.close()
	for i := range c.args {
		// Global options go before the subcommand.
		at := len(c.args[i]) - 5
		c.args[i] = append(append(append([]string(nil), c.args[i][:at]...), extra...), c.args[i][at:]...)
	}
	var wg sync.WaitGroup
	for i := range c.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.procs[i] = startProcQuiet(b, c.bin, c.args[i]...)
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	seeds := strings.Join(c.seeds, ",")
	adm := kadm.NewClient(client(b, seeds))
	defer adm.Close()
	const topic, parts = "moveback", 6
	if _, err := adm.CreateTopic(ctx, parts, 3, nil, topic); err != nil {
		b.Fatal(err)
	}
	log := &retryLog{open: map[int32]time.Time{}, errs: map[string]int{}, done: map[int32][]time.Duration{}}
	prod := client(b, seeds, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.WithLogger(log))
	defer prod.Close()

	var (
		latMu     sync.Mutex
		lats      []time.Duration
		recording bool
		restartAt time.Time
		warm      sync.WaitGroup // every partition acknowledged once
		acks      [parts]atomic.Int64
	)
	warm.Add(parts)
	stop := make(chan struct{})
	var pwg sync.WaitGroup
	for p := range int32(parts) {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			first := true
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				err := prod.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte(fmt.Sprint(i))}).FirstErr()
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					continue
				}
				log.acked(p)
				acks[p].Add(1)
				if first {
					first = false
					warm.Done()
				}
				latMu.Lock()
				if recording && start.After(restartAt) {
					lats = append(lats, time.Since(start))
				}
				latMu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	warm.Wait()
	// Leadership settles on the preferred replicas first.
	waitLeaders(ctx, b, c, topic, parts, func(p, leader int) bool { return leader == p%3+1 })

	victim := 2
	c.procs[victim-1].cmd.Process.Signal(syscall.SIGKILL)
	<-c.procs[victim-1].exited
	c.procs[victim-1] = nil
	waitLeaders(ctx, b, c, topic, parts, func(_, leader int) bool { return leader > 0 && leader != victim })
	// Every partition acknowledges again (the kill's own retries are
	// over) before the restart.
	for p := range parts {
		n := acks[p].Load()
		for acks[p].Load() < n+2 {
			if ctx.Err() != nil {
				b.Fatalf("partition %d never acknowledged again after the kill", p)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(3 * time.Second)

	restart := time.Now()
	latMu.Lock()
	restartAt = restart
	latMu.Unlock()
	log.mu.Lock()
	log.watching = true
	log.mu.Unlock()
	latMu.Lock()
	recording = true
	latMu.Unlock()
	c.procs[victim-1] = startProcQuiet(b, c.bin, c.args[victim-1]...)
	waitLeaders(ctx, b, c, topic, parts, func(p, leader int) bool { return p%3+1 != victim || leader == victim })
	moveBack := time.Since(restart)
	// Let the last episodes close.
	time.Sleep(2 * time.Second)
	close(stop)
	pwg.Wait()

	log.mu.Lock()
	defer log.mu.Unlock()
	r := retryResult{moveBack: moveBack, errs: log.errs, perPartition: log.done}
	for p, t := range log.open {
		r.perPartition[p] = append(r.perPartition[p], time.Since(t))
	}
	for _, eps := range r.perPartition {
		for _, d := range eps {
			r.total += d
			r.maxEpisode = max(r.maxEpisode, d)
			r.episodes++
		}
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	if len(lats) > 0 {
		r.p99, r.maxLat = lats[len(lats)*99/100], lats[len(lats)-1]
	}
	return r
}

// waitLeaders polls /status until ok(partition, leader) holds for every
// partition of topic (leader -1: none found).
func waitLeaders(ctx context.Context, b *testing.B, c *procCluster, topic string, parts int, ok func(p, leader int) bool) {
	b.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		all := true
		for p := range parts {
			if !ok(p, c.leaderNow(fmt.Sprintf("%s/%d", topic, p))) {
				all = false
				break
			}
		}
		if all {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("leaders of %s did not reach the wanted placement in 3 minutes", topic)
}

// leaderNow asks the running nodes' /status once which one leads the Raft
// group name; -1 when none says so.
func (c *procCluster) leaderNow(name string) int {
	for i, p := range c.procs {
		if p == nil {
			continue
		}
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
	return -1
}
