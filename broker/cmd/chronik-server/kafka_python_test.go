package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestKafkaPython drives the broker with kafka-python, Debian's
// python3-kafka (2.0.2 on bookworm), a pure-Python client nobody else here
// runs, with its default settings: no api_version, so every client first
// probes the broker (ApiVersions v0 and, pipelined on the same connection,
// Metadata v0) and infers a Kafka release from the answer. The steps, each
// a new Python process (testdata/kafka_python_compat.py): admin
// create/list/describe, produce with acks=all, a consumer group member
// that reads, commits and leaves, a second member that must start at the
// commits, and a full read that must return every acknowledged record at
// its acknowledged offset. On a 3-node raft-cluster the leader of the
// topic's first partition is SIGKILLed in the middle of a produce.
//
// The test fails, not skips, when kafka-python cannot be imported:
// `apt-get install -y python3-kafka` (.ci/run does it).
func TestKafkaPython(t *testing.T) {
	py := kafkaPython(t)
	t.Run("standalone", func(t *testing.T) {
		b := startBroker(t, testOptions(t.TempDir()))
		defer b.stop(t)
		kafkaPythonScenario(t, py, []string{b.kafka}, nil)
	})
	t.Run("raft-cluster", func(t *testing.T) {
		c := startProcCluster(t, 3)
		t.Cleanup(c.close)
		kafkaPythonScenario(t, py, c.seeds, func(ctx context.Context, topic string) int {
			leader := c.leaderOf(ctx, topic+"/0")
			if leader < 1 {
				t.Fatalf("no leader of %s/0 in /status", topic)
			}
			p := c.procs[leader-1]
			p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
			c.procs[leader-1] = nil
			return leader
		})
	})
}

// kafkaPython returns a Python interpreter that can import kafka-python:
// Debian's own first (python3-kafka installs for it), then python3 on
// PATH.
func kafkaPython(t *testing.T) string {
	tried := []string{"/usr/bin/python3", "python3"}
	for _, py := range tried {
		if err := exec.Command(py, "-c", "import kafka").Run(); err == nil {
			return py
		}
	}
	t.Fatalf("kafka-python is not importable by %v: install Debian's python3-kafka (apt-get install -y python3-kafka; .ci/run installs it)", tried)
	return ""
}

// pyRecord is [value, partition, offset] as the script prints it (plus,
// for acknowledgements, the wall-clock time in seconds).
type pyRecord []float64

func (r pyRecord) value() int64     { return int64(r[0]) }
func (r pyRecord) partition() int32 { return int32(r[1]) }
func (r pyRecord) offset() int64    { return int64(r[2]) }
func (r pyRecord) at() time.Time    { return time.UnixMilli(int64(r[3] * 1000)) }

type pyOut struct {
	// admin
	Listed    bool
	Again     string
	Described []struct {
		Topic      string
		Error      int
		Partitions int
	}
	Probed string
	// produce
	Acked  []pyRecord
	Failed [][]any
	// group, read
	Records   []pyRecord
	Committed map[string]int64
	Ends      map[string]int64
}

// step runs one step of the script and decodes its answer.
func pyStep(ctx context.Context, t *testing.T, py string, seeds []string, args ...string) pyOut {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	script, err := filepath.Abs(filepath.Join("testdata", "kafka_python_compat.py"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, py, append([]string{script, strings.Join(seeds, ",")}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("kafka-python %v: %v after %v\nstderr:\n%s", args, err, time.Since(start).Round(time.Millisecond), stderr.String())
	}
	var out pyOut
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("kafka-python %v: decode %q: %v", args, stdout.String(), err)
	}
	t.Logf("kafka-python %s: %v", args[0], time.Since(start).Round(time.Millisecond))
	return out
}

// kafkaPythonScenario runs the steps against seeds. With kill set, the
// leader of the topic's partition 0 is killed in the middle of the second
// produce (kill returns the node it killed).
func kafkaPythonScenario(t *testing.T, py string, seeds []string, kill func(ctx context.Context, topic string) int) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	const topic, parts, group, n = "kp", 3, "kp-group", 300
	// kafka-python 2.0.2 infers 2.4.0 from our ApiVersions answer (its
	// newest inference below DescribeAcls); anything older means its
	// probe fell back (the probe's answer was lost or refused).
	const probed = "2.4.0"

	adm := pyStep(ctx, t, py, seeds, "admin", topic, fmt.Sprint(parts))
	if !adm.Listed || adm.Again != "TOPIC_ALREADY_EXISTS" || len(adm.Described) != 1 ||
		adm.Described[0].Error != 0 || adm.Described[0].Partitions != parts || adm.Probed != probed {
		t.Fatalf("admin: %+v, want the topic created once, listed, described with %d partitions, probe %s", adm, parts, probed)
	}

	acked := map[int64]pyRecord{}
	first := pyStep(ctx, t, py, seeds, "produce", topic, "0", fmt.Sprint(n))
	if len(first.Failed) > 0 || len(first.Acked) != n || first.Probed != probed {
		t.Fatalf("produce: %d acked, failed %v, probe %s; want %d acked, probe %s", len(first.Acked), first.Failed, first.Probed, n, probed)
	}
	for _, r := range first.Acked {
		acked[r.value()] = r
	}

	// A member reads everything, commits and leaves.
	g1 := pyStep(ctx, t, py, seeds, "group", topic, group, fmt.Sprint(n))
	if len(g1.Records) != n {
		t.Fatalf("group member read %d records, want %d", len(g1.Records), n)
	}
	checkAcked(t, "group member", g1.Records, acked)
	ends := map[string]int64{}
	for _, r := range first.Acked {
		key := fmt.Sprint(r.partition())
		ends[key] = max(ends[key], r.offset()+1)
	}
	for p, end := range ends {
		if g1.Committed[p] != end {
			t.Fatalf("committed %v, want the end offsets %v", g1.Committed, ends)
		}
	}

	// The second produce, paced; the partition leader dies in the middle.
	var killedAt time.Time
	var wg sync.WaitGroup
	if kill != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Second)
			killedAt = time.Now()
			t.Logf("killed node %d, leader of %s/0", kill(ctx, topic), topic)
		}()
	}
	pace := "0"
	if kill != nil {
		pace = "10" // ms between sends: about 3 s of sends, the kill at 1 s
	}
	second := pyStep(ctx, t, py, seeds, "produce", topic, fmt.Sprint(n), fmt.Sprint(n), pace)
	wg.Wait()
	if kill == nil && len(second.Failed) > 0 {
		t.Fatalf("second produce without faults: failed %v", second.Failed)
	}
	if len(second.Acked) < n/2 {
		t.Fatalf("second produce: only %d of %d acknowledged (failed: %v)", len(second.Acked), n, second.Failed)
	}
	var before, after int
	for _, r := range second.Acked {
		acked[r.value()] = r
		if r.partition() == 0 && kill != nil {
			if r.at().Before(killedAt) {
				before++
			} else {
				after++
			}
		}
	}
	if kill != nil {
		t.Logf("second produce: %d acked (%d failed); partition 0: %d acked before the kill, %d after", len(second.Acked), len(second.Failed), before, after)
		if before == 0 || after == 0 {
			t.Fatalf("partition 0 had %d acknowledgements before the kill and %d after: the kill missed the produce", before, after)
		}
	}

	// A restarted member resumes at the commits: only records of the
	// second produce, every acknowledged one of them.
	var want int
	for v := range acked {
		if v >= n {
			want++
		}
	}
	g2 := pyStep(ctx, t, py, seeds, "group", topic, group, fmt.Sprint(want))
	for _, r := range g2.Records {
		if c, ok := g1.Committed[fmt.Sprint(r.partition())]; ok && r.offset() < c {
			t.Fatalf("resumed member read %v below the committed offset %d", r, c)
		}
	}
	checkAcked(t, "resumed member", g2.Records, acked)
	for v, r := range acked {
		if v >= n && !hasValue(g2.Records, v) {
			t.Fatalf("resumed member never read acknowledged record %v", r)
		}
	}

	// Every acknowledged record, at its offset.
	all := pyStep(ctx, t, py, seeds, "read", topic)
	checkAcked(t, "read", all.Records, acked)
	for v, r := range acked {
		if !hasValue(all.Records, v) {
			t.Fatalf("acknowledged record %v lost", r)
		}
	}
}

// checkAcked fails when a record read sits elsewhere than where its
// acknowledgement said.
func checkAcked(t *testing.T, who string, read []pyRecord, acked map[int64]pyRecord) {
	t.Helper()
	for _, r := range read {
		if a, ok := acked[r.value()]; ok && (a.partition() != r.partition() || a.offset() != r.offset()) {
			t.Fatalf("%s read value %d at %d/%d, acknowledged at %d/%d", who, r.value(), r.partition(), r.offset(), a.partition(), a.offset())
		}
	}
}

func hasValue(rs []pyRecord, v int64) bool {
	for _, r := range rs {
		if r.value() == v {
			return true
		}
	}
	return false
}
