package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// buildBinary compiles chronik-server into a temporary directory once per
// test binary run.
var (
	buildOnce sync.Once
	builtPath string
	buildErr  error
)

func buildBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "chronik-server-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtPath = filepath.Join(dir, "chronik-server")
		out, err := exec.Command("go", "build", "-o", builtPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtPath
}

// proc is a chronik-server child process.
type proc struct {
	cmd          *exec.Cmd
	kafka, admin string
	exited       chan struct{}
	logMu        sync.Mutex
	log          []string
}

var servingRE = regexp.MustCompile(`msg="chronik-server serving".* kafka=(\S+) admin=(\S+)`)

// startProc starts the binary with args and waits for its serving line;
// the process is killed when t ends.
func startProc(t testing.TB, bin string, args ...string) *proc {
	t.Helper()
	p := spawnProc(t, bin, args...)
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
	waitReady(t, p.admin, 30*time.Second)
	return p
}

// spawnProc starts the binary and waits for its serving line only (not
// for /readyz: a lone raft-cluster node cannot be ready). The caller kills
// it.
func spawnProc(t testing.TB, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	// If the test binary dies (a timeout panic), the broker dies with it
	// instead of living on as an orphan.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.logMu.Lock()
			p.log = append(p.log, line)
			p.logMu.Unlock()
			if m := servingRE.FindStringSubmatch(line); m != nil {
				select {
				case found <- [2]string{m[1], m[2]}:
				default:
				}
			}
		}
		p.cmd.Wait()
		close(p.exited)
	}()
	select {
	case a := <-found:
		p.kafka, p.admin = a[0], a[1]
	case <-p.exited:
		t.Fatalf("chronik-server exited before serving:\n%s", p.logs())
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("chronik-server did not serve within 30s:\n%s", p.logs())
	}
	return p
}

func (p *proc) logs() string {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	s := ""
	for _, l := range p.log {
		s += l + "\n"
	}
	return s
}

// TestCrashKeepsAcknowledgedRecords SIGKILLs a child broker in the middle
// of an idempotent acks=all produce stream and checks, after a restart
// from the same data dir, that every record the client saw acknowledged is
// there, at the offset it was acknowledged with.
func TestCrashKeepsAcknowledgedRecords(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	args := []string{"--kafka-port", "0", "--admin-port", "0", "--listen-host", "127.0.0.1",
		"--advertised-addr", "127.0.0.1", "--data-dir", dir, "standalone"}
	p := startProc(t, bin, args...)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prod := client(t, p.kafka, kgo.DefaultProduceTopic("crash"), kgo.AllowAutoTopicCreation(), kgo.RecordRetries(3), kgo.ProducerBatchMaxBytes(4096),
		kgo.RetryTimeout(3*time.Second), kgo.RecordDeliveryTimeout(5*time.Second))
	var (
		mu    sync.Mutex
		acked = map[string]int64{}
		wg    sync.WaitGroup
	)
	const killAfter = 3000
	killed := make(chan struct{})
	var killOnce sync.Once
	var errOnce sync.Once
	var firstErr error
	for i := 0; ; i++ {
		select {
		case <-killed:
		default:
			wg.Add(1)
			prod.Produce(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}, func(r *kgo.Record, err error) {
				defer wg.Done()
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				mu.Lock()
				acked[string(r.Value)] = r.Offset
				n := len(acked)
				mu.Unlock()
				if n >= killAfter {
					killOnce.Do(func() {
						p.cmd.Process.Signal(syscall.SIGKILL)
						close(killed)
					})
				}
			})
			if i < 200000 {
				continue
			}
		}
		break
	}
	killOnce.Do(func() { // never reached killAfter acks: fail below
		p.cmd.Process.Signal(syscall.SIGKILL)
		close(killed)
	})
	<-p.exited
	prod.Close() // fails what is still buffered
	wg.Wait()
	mu.Lock()
	n := len(acked)
	mu.Unlock()
	if n < killAfter {
		t.Fatalf("only %d records acknowledged before the kill (first error: %v)\n%s", n, firstErr, p.logs())
	}
	t.Logf("%d records acknowledged before SIGKILL", n)

	p2 := startProc(t, bin, args...)
	cl := client(t, p2.kafka, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"crash": {0: kgo.NewOffset().AtStart()}}))
	found := map[string]int64{}
	missing := func() int {
		c := 0
		for v := range acked {
			if _, ok := found[v]; !ok {
				c++
			}
		}
		return c
	}
	for missing() > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d acknowledged records missing after restart", missing())
		}
		fs.EachRecord(func(r *kgo.Record) { found[string(r.Value)] = r.Offset })
	}
	for v, off := range acked {
		if found[v] != off {
			t.Fatalf("record %s acknowledged at offset %d, found at %d", v, off, found[v])
		}
	}
}
