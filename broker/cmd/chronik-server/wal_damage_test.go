package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/record"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestWALDamageThroughTheBinary is the standalone repro of silently lost
// acknowledged records, run against the real binary: 20,000 acks=all
// records, a clean stop, then one kind of damage to the store's pebble WALs
// per case and a restart. Corruption with valid records after it, a removed
// WAL, a damaged manifest record below the manifest's synced length and a
// damaged OPTIONS must be refused (exit 3, one log line naming the file),
// never served in part; a torn tail is cut with a WARN line naming the
// file; damage no file check can see is documented by what the broker then
// serves.
func TestWALDamageThroughTheBinary(t *testing.T) {
	const records = 20000
	bin := buildBinary(t)
	src := t.TempDir()
	args := func(dir string) []string {
		return []string{"--kafka-port", "0", "--admin-port", "0", "--listen-host", "127.0.0.1",
			"--advertised-addr", "127.0.0.1", "--data-dir", dir, "standalone"}
	}
	p := startProc(t, bin, args(src)...)
	produceSeq(t, p.kafka, "cz", records)
	if got := countRecords(t, p.kafka, "cz", records); got != records {
		t.Fatalf("read back %d of %d acknowledged records before any damage", got, records)
	}
	stopProc(t, p)
	wals, _ := filepath.Glob(filepath.Join(src, "*.log"))
	slices.Sort(wals)
	ssts, _ := filepath.Glob(filepath.Join(src, "*.sst"))
	t.Logf("store after %d records: WALs %v, %d sorted tables", records, baseNames(wals), len(ssts))
	if len(wals) < 2 || len(ssts) > 0 {
		// Pebble's first memtables are small and are not flushed while
		// they add up to less than half of MemTableSize, so this workload
		// leaves two live WALs (the layout of the original report).
		t.Fatalf("precondition: want at least 2 WALs and no sorted table, have %v and %v", wals, ssts)
	}
	newest, older := filepath.Base(wals[len(wals)-1]), filepath.Base(wals[len(wals)-2])
	current, err := os.ReadFile(filepath.Join(src, "CURRENT"))
	if err != nil {
		t.Fatal(err)
	}
	manifest := strings.TrimSpace(string(current))
	optionsFiles, _ := filepath.Glob(filepath.Join(src, "OPTIONS-*"))
	if len(optionsFiles) != 1 {
		t.Fatalf("precondition: want one OPTIONS file, have %v", optionsFiles)
	}
	options := filepath.Base(optionsFiles[0])

	type want struct {
		refused bool
		file    string // named by the refusal or the torn-tail warning
		served  func(n int) bool
		doc     string
	}
	all := func(n int) bool { return n == records }
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   want
	}{
		{"no damage", func(*testing.T, string) {}, want{served: all, doc: "nothing to repair"}},
		{"four bytes flipped mid newest WAL (the original report: 6,365 of 20,000 served)", func(t *testing.T, dir string) {
			path := filepath.Join(dir, newest)
			offs := []int64{100000, 100001, 100002, 200000}
			if size := sizeOf(t, path); size <= 200000 {
				offs = []int64{size / 3, size/3 + 1, size/3 + 2, size / 2}
			}
			flipAt(t, path, offs...)
		}, want{refused: true, file: newest}},
		{"bit flip in an older WAL", func(t *testing.T, dir string) {
			path := filepath.Join(dir, older)
			flipAt(t, path, sizeOf(t, path)/2)
		}, want{refused: true, file: older}},
		{"torn tail of the newest WAL", func(t *testing.T, dir string) {
			path := filepath.Join(dir, newest)
			starts := walRecordStarts(t, path)
			last := starts[len(starts)-1]
			if err := os.Truncate(path, last+(sizeOf(t, path)-last)/2); err != nil {
				t.Fatal(err)
			}
		}, want{file: newest, served: all,
			doc: "after a clean stop the last WAL record is an apply batch (a stored batch and the partition state), which the restart re-applies from the Raft log"}},
		{"newest WAL removed (the sync ledger lists it)", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, newest)); err != nil {
				t.Fatal(err)
			}
		}, want{refused: true, file: newest}},
		{"bit flipped in the newest MANIFEST's last record", func(t *testing.T, dir string) {
			path := filepath.Join(dir, manifest)
			starts := manifestRecordStarts(t, path)
			flipAt(t, path, starts[len(starts)-1]+10)
		}, want{refused: true, file: manifest}},
		{"OPTIONS comparer name flipped (leveldb -> levelDb, chaos seed 109)", func(t *testing.T, dir string) {
			path := filepath.Join(dir, options)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			i := strings.Index(string(b), "leveldb.BytewiseComparator")
			if i < 0 {
				t.Fatalf("precondition: no comparer name in %s", path)
			}
			flipAt(t, path, int64(i+5))
		}, want{refused: true, file: options}},
		{"newest WAL truncated at a record boundary", func(t *testing.T, dir string) {
			path := filepath.Join(dir, newest)
			starts := walRecordStarts(t, path)
			// Cut the last tenth of the records: far enough back to take
			// acknowledged produce entries, not only the final applies.
			if err := os.Truncate(path, starts[len(starts)*9/10]); err != nil {
				t.Fatal(err)
			}
		}, want{served: func(n int) bool { return n < records },
			doc: "undetectable by any file check: the log reads cleanly to its new end"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, src, dir)
			tt.damage(t, dir)
			if tt.want.refused {
				code, logs := runToExit(t, bin, 60*time.Second, args(dir)...)
				var refusals, errorLines []string
				for _, l := range logs {
					if strings.Contains(l, `msg="`+refusalMsg+`"`) {
						refusals = append(refusals, l)
					}
					if strings.Contains(l, "level=ERROR") {
						errorLines = append(errorLines, l)
					}
					if strings.Contains(l, "chronik-server serving") {
						t.Fatalf("served a damaged store:\n%s", strings.Join(logs, "\n"))
					}
				}
				if code != exitCorruptStore || len(refusals) != 1 || !strings.Contains(refusals[0], "file="+filepath.Join(dir, tt.want.file)) || !strings.Contains(refusals[0], "level=ERROR") {
					t.Fatalf("exit %d with refusal lines %q, want exit %d and one line naming %s:\n%s", code, refusals, exitCorruptStore, tt.want.file, strings.Join(logs, "\n"))
				}
				if len(errorLines) != 1 {
					t.Fatalf("want the refusal as the only ERROR line, have %q", errorLines)
				}
				t.Logf("exit %d after %d log lines: %s", code, len(logs), refusals[0])
				return
			}
			p := startProc(t, bin, args(dir)...)
			served := countRecords(t, p.kafka, "cz", records)
			logs := p.logs()
			stopProc(t, p)
			warned := strings.Contains(logs, `msg="cut the torn tail of the newest pebble WAL"`)
			switch {
			case tt.want.file != "" && (!warned || !strings.Contains(logs, "file="+filepath.Join(dir, tt.want.file))):
				t.Fatalf("no torn-tail warning naming %s:\n%s", tt.want.file, logs)
			case tt.want.file == "" && warned:
				t.Fatalf("unexpected torn-tail warning:\n%s", logs)
			case !tt.want.served(served):
				t.Fatalf("served %d of %d acknowledged records (%s)", served, records, tt.want.doc)
			}
			t.Logf("started and served %d of %d acknowledged records; %s", served, records, tt.want.doc)
		})
	}
}

// produceSeq produces the values 1..n to topic with acks=all (franz-go's
// default, idempotent) and fails unless every record is acknowledged.
func produceSeq(t *testing.T, addr, topic string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := client(t, addr, kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(), kgo.ProducerBatchMaxBytes(16<<10))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := 1; i <= n; i++ {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Value: []byte(strconv.Itoa(i))}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				firstErr = cmp(firstErr, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("produce: %v", firstErr)
	}
}

func cmp(have, err error) error {
	if have != nil {
		return have
	}
	return err
}

// countRecords reads topic's partition 0 from the start up to its high
// watermark (at most want records) and returns how many records it read.
func countRecords(t *testing.T, addr, topic string, want int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := client(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	end, ok := ends.Lookup(topic, 0)
	if !ok || end.Err != nil {
		t.Fatalf("end offset of %s/0: %v", topic, end.Err)
	}
	hw := int(min(end.Offset, int64(want)))
	seen := 0
	for seen < hw {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records below the high watermark: %v", seen, hw, ctx.Err())
		}
		seen += fs.NumRecords()
	}
	return seen
}

// stopProc stops a broker with SIGTERM and fails unless it exits 0.
func stopProc(t *testing.T, p *proc) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("broker did not stop within 30s of SIGTERM:\n%s", p.logs())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, p.logs())
	}
}

// runToExit runs the binary until it exits (killing it after d) and returns
// its exit code and log lines.
func runToExit(t *testing.T, bin string, d time.Duration, args ...string) (int, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("broker still running after %v:\n%s", d, out)
	}
	return cmd.ProcessState.ExitCode(), strings.Split(strings.TrimSpace(string(out)), "\n")
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			t.Fatalf("unexpected directory %s in the store", e.Name())
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sizeOf(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func flipAt(t *testing.T, path string, offs ...int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range offs {
		b[o] ^= 0xff
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// manifestRecordStarts lists a manifest's record offsets (the record format
// without log numbers).
func manifestRecordStarts(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rr := record.NewReader(f, 0)
	var out []int64
	for {
		off := rr.Offset()
		r, err := rr.Next()
		if err == io.EOF {
			return out
		}
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		if err != nil {
			t.Fatalf("read %s at %d: %v", path, off, err)
		}
		out = append(out, off)
	}
}

// walRecordStarts lists a WAL's record offsets with pebble's record reader.
func walRecordStarts(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	num, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(path), ".log"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	rr := record.NewReader(f, pebble.FileNum(num))
	var out []int64
	for {
		off := rr.Offset()
		r, err := rr.Next()
		if err == io.EOF {
			return out
		}
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		if err != nil {
			t.Fatalf("read %s at %d: %v", path, off, err)
		}
		out = append(out, off)
	}
}

func baseNames(paths []string) string {
	var b []string
	for _, p := range paths {
		st, _ := os.Stat(p)
		b = append(b, fmt.Sprintf("%s (%d bytes)", filepath.Base(p), st.Size()))
	}
	return strings.Join(b, ", ")
}
