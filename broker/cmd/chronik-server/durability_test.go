package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// exitCode waits for p to exit and returns its exit code.
func exitCode(t *testing.T, p *proc, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		t.Fatalf("broker still running %v after the fault:\n%s", d, p.logs())
	}
	return p.cmd.ProcessState.ExitCode()
}

// logLines returns p's log lines containing msg="msg".
func logLines(p *proc, msg string) []string {
	var out []string
	for _, l := range strings.Split(p.logs(), "\n") {
		if strings.Contains(l, `msg="`+msg+`"`) {
			out = append(out, l)
		}
	}
	return out
}

// POST /admin/power-loss through the binary: the answer reports what was
// dropped, one log line says the same, the process exits 4, and a restart
// finds every acknowledged record; with --unsafe-no-fsync the same power
// loss takes acknowledged records away, and a SIGKILL does not (the page
// cache keeps them): the bug is what the power-loss fault exists for.
func TestPowerLossThroughTheBinary(t *testing.T) {
	bin := buildBinary(t)
	for _, c := range []struct {
		name    string
		flags   []string
		kill    bool // SIGKILL instead of the power loss
		wantAll bool
	}{
		{"correct", nil, false, true},
		{"no-fsync", []string{"--unsafe-no-fsync"}, false, false},
		{"no-fsync-sigkill", []string{"--unsafe-no-fsync"}, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"--kafka-port", "0", "--admin-port", "0", "--listen-host", "127.0.0.1",
				"--advertised-addr", "127.0.0.1", "--data-dir", dir, "--fault-fs"}, c.flags...)
			args = append(args, "standalone")
			p := spawnProc(t, bin, args...)
			t.Cleanup(func() { p.cmd.Process.Kill(); <-p.exited })
			waitReady(t, p.admin, 30*time.Second)
			const n = 500
			produceSeq(t, p.kafka, "pl", n)
			if c.kill {
				p.cmd.Process.Kill()
				<-p.exited
				p2 := startProc(t, bin, args...)
				if got := countRecords(t, p2.kafka, "pl", n); got != n {
					t.Fatalf("%d of %d acknowledged records after SIGKILL", got, n)
				}
				return
			}

			resp, err := http.Post("http://"+p.admin+"/admin/power-loss?tear-seed=3", "", nil)
			if err != nil {
				t.Fatalf("power loss request: %v\n%s", err, p.logs())
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("power loss: %d %s", resp.StatusCode, body)
			}
			var ans struct {
				NodeID       int   `json:"node_id"`
				ExitCode     int   `json:"exit_code"`
				BytesDropped int64 `json:"bytes_dropped"`
				TearSeed     int64 `json:"tear_seed"`
			}
			if err := json.Unmarshal(body, &ans); err != nil || ans.NodeID != 1 || ans.ExitCode != exitPowerLoss || ans.TearSeed != 3 {
				t.Fatalf("answer %s: %v", body, err)
			}
			if code := exitCode(t, p, 10*time.Second); code != exitPowerLoss {
				t.Fatalf("exit %d after the power loss, want %d:\n%s", code, exitPowerLoss, p.logs())
			}
			lines := logLines(p, "power loss: dropped every write no fsync covered")
			if len(lines) != 1 || !strings.Contains(lines[0], "bytes_dropped="+strconv.FormatInt(ans.BytesDropped, 10)+" ") {
				t.Fatalf("power loss log lines %q, answer %s", lines, body)
			}
			t.Logf("answer: %s", bytes.TrimSpace(body))
			t.Logf("log: %s", lines[0])

			p2 := startProc(t, bin, args...)
			got := countRecords(t, p2.kafka, "pl", n)
			switch {
			case c.wantAll && got != n:
				t.Fatalf("%d of %d acknowledged records after the power loss", got, n)
			case !c.wantAll && got == n:
				t.Fatalf("no-fsync kept all %d records through a power loss that dropped %d bytes", n, ans.BytesDropped)
			}
			t.Logf("%d of %d acknowledged records after the power loss", got, n)
		})
	}
}

var crashLineRE = regexp.MustCompile(`msg="crash point reached" .*point=raft-after-apply reached=(\d+) power_loss=true .*exit_code=5`)

// A crash point armed through the admin API kills the process with exit 5
// and one log line naming it; the restarted node has every acknowledged
// record.
func TestCrashPointThroughTheBinary(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	args := []string{"--kafka-port", "0", "--admin-port", "0", "--listen-host", "127.0.0.1",
		"--advertised-addr", "127.0.0.1", "--data-dir", dir, "--fault-fs", "standalone"}
	p := spawnProc(t, bin, args...)
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.exited })
	waitReady(t, p.admin, 30*time.Second)
	produceSeq(t, p.kafka, "cp", 10)
	arm := `{"point": "raft-after-apply", "count": 40, "power_loss": true, "tear_seed": 1}`
	resp, err := http.Post("http://"+p.admin+"/admin/crash-points", "application/json", strings.NewReader(arm))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"count": 40`) {
		t.Fatalf("arm: %d %s", resp.StatusCode, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := client(t, p.kafka, kgo.DefaultProduceTopic("cp"), kgo.RecordRetries(2), kgo.RecordDeliveryTimeout(5*time.Second), kgo.ProducerLinger(0))
	var mu sync.Mutex
	acked := map[string]int64{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100000 {
			r := &kgo.Record{Value: []byte("c-" + strconv.Itoa(i))}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				return
			}
			mu.Lock()
			acked[string(r.Value)] = r.Offset
			mu.Unlock()
		}
	}()
	select {
	case <-p.exited:
	case <-done:
	case <-time.After(time.Minute):
	}
	// kgo retries a record to a broker that is gone until the client
	// closes; Close fails it.
	cl.Close()
	<-done
	if code := exitCode(t, p, 10*time.Second); code != exitCrashPoint {
		t.Fatalf("exit %d, want %d:\n%s", code, exitCrashPoint, p.logs())
	}
	lines := logLines(p, "crash point reached")
	if len(lines) != 1 || !crashLineRE.MatchString(lines[0]) {
		t.Fatalf("crash point log lines %q", lines)
	}
	t.Logf("log: %s", lines[0])

	p2 := startProc(t, bin, args...)
	got := consumeAll(ctx, t, p2.kafka, "cp", 1, 10+len(acked))
	for v, off := range acked {
		if g, ok := got[v]; !ok || g != off {
			t.Fatalf("record %s acknowledged at offset %d, after the crash at %d (present %v)", v, off, g, ok)
		}
	}
	t.Logf("%d records acknowledged before the crash point, all there after restart", len(acked))
}
