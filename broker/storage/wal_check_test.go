package storage_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/record"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/chronik-chaos/chronik/broker/storage"
)

const walTestGroup = 9

// writeWALs writes n Raft entries of 1 KiB to group walTestGroup, one
// synced Ready (hard state and entry) at a time, and closes the store. n is
// chosen so that pebble's first, small memtables rotate the WAL before any
// flush (pebble flushes once the queued memtables reach half of
// MemTableSize): every WAL on disk is then one pebble replays.
func writeWALs(t *testing.T, dir string, n uint64) {
	t.Helper()
	db, l := openLog(t, dir)
	if err := l.Bootstrap([]uint64{1}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{0x5a}, 1024)
	for i := uint64(2); i < 2+n; i++ {
		e := &pb.Entry{Index: new(i), Term: new(uint64(1)), Data: data}
		if err := l.Save(&pb.HardState{Term: new(uint64(1)), Commit: new(i)}, []*pb.Entry{e}, nil, nil, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// walFiles lists the store's WALs, oldest first.
func walFiles(t *testing.T, dir string) []string {
	t.Helper()
	wals, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	slices.Sort(wals)
	if ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst")); len(ssts) > 0 {
		t.Fatalf("precondition: pebble flushed (%v), so not every WAL is live", ssts)
	}
	return wals
}

// recordStarts returns the offset of every record of a WAL, read with
// pebble's record reader (the one its replay uses).
func recordStarts(t *testing.T, path string) []int64 {
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
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		out = append(out, off)
	}
}

func flipBytes(t *testing.T, path string, offs ...int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, o := range offs {
		b := []byte{0}
		if _, err := f.ReadAt(b, o); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0xff
		if _, err := f.WriteAt(b, o); err != nil {
			t.Fatal(err)
		}
	}
}

func truncateTo(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// walWarnings returns the torn-tail warnings in a JSON log.
func walWarnings(t *testing.T, logs *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if line == "" || json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if m["msg"] == "cut the torn tail of the newest pebble WAL" {
			out = append(out, m)
		}
	}
	return out
}

// TestWALDamageAtOpen damages the WALs of a store in every way that could
// silently lose acknowledged writes, and checks what Open does: a
// torn tail of the newest WAL is cut and logged at WARN; corruption with
// complete records after it, in any WAL, is refused with an error naming
// the file and offset; a removed WAL is refused (the sync ledger lists it:
// TestStoreFileDamageAtOpen checks the file named); damage no file check
// can see (a truncation at a record boundary) is documented by what the
// store then holds.
func TestWALDamageAtOpen(t *testing.T) {
	const n = 400
	type layout struct {
		older, newest             string
		olderStarts, newestStarts []int64
		olderSize, newestSize     int64
	}
	type outcome struct {
		refused bool
		// file and offset of a refusal (a *CorruptWALError) or a torn-tail
		// warning; validAfter: a refusal because records follow.
		file       func(layout) string
		offset     func(layout) int64
		validAfter bool
		// last is the last Raft index the reopened log holds.
		last func(layout) uint64
	}
	newest := func(l layout) string { return l.newest }
	older := func(l layout) string { return l.older }
	tests := []struct {
		name   string
		damage func(t *testing.T, l layout)
		want   outcome
	}{
		{"no damage", func(t *testing.T, l layout) {},
			outcome{last: func(layout) uint64 { return n + 1 }}},
		{"torn tail of the newest WAL", func(t *testing.T, l layout) {
			truncateTo(t, l.newest, l.newestStarts[len(l.newestStarts)-1]+500)
		}, outcome{file: newest, offset: func(l layout) int64 { return l.newestStarts[len(l.newestStarts)-1] },
			last: func(layout) uint64 { return n }}},
		{"bit flip mid newest WAL, complete records after it", func(t *testing.T, l layout) {
			r := l.newestStarts[len(l.newestStarts)/2]
			flipBytes(t, l.newest, r+20, r+21, r+22, r+300)
		}, outcome{refused: true, validAfter: true, file: newest, offset: func(l layout) int64 { return l.newestStarts[len(l.newestStarts)/2] }}},
		{"bit flip in the newest WAL's last block, a complete record after it in the block", func(t *testing.T, l layout) {
			flipBytes(t, l.newest, lastBlockVictim(t, l.newestStarts, l.newestSize)+40)
		}, outcome{refused: true, validAfter: true, file: newest, offset: func(l layout) int64 { return lastBlockVictim(t, l.newestStarts, l.newestSize) }}},
		// Bytes 7-10 of a chunk header are its log number: a flip there
		// reads as the end of the log (a recycled WAL's stale tail), so
		// pebble's replay stops without an error.
		{"bit flip in the newest WAL's first log number, records after it", func(t *testing.T, l layout) {
			flipBytes(t, l.newest, 7)
		}, outcome{refused: true, validAfter: true, file: newest, offset: func(layout) int64 { return 0 }}},
		{"bit flip in a later record's log number in the newest WAL", func(t *testing.T, l layout) {
			flipBytes(t, l.newest, l.newestStarts[len(l.newestStarts)/2]+8)
		}, outcome{refused: true, validAfter: true, file: newest, offset: func(l layout) int64 { return l.newestStarts[len(l.newestStarts)/2] }}},
		{"bit flip in an older WAL", func(t *testing.T, l layout) {
			r := l.olderStarts[len(l.olderStarts)/2]
			flipBytes(t, l.older, r+20, r+21, r+22, r+300)
		}, outcome{refused: true, validAfter: true, file: older, offset: func(l layout) int64 { return l.olderStarts[len(l.olderStarts)/2] }}},
		{"torn tail of an older WAL (pebble replays older WALs strictly)", func(t *testing.T, l layout) {
			truncateTo(t, l.older, l.olderStarts[len(l.olderStarts)-1]+500)
		}, outcome{refused: true, file: older, offset: func(l layout) int64 { return l.olderStarts[len(l.olderStarts)-1] }}},
		{"older WAL removed: the log has a hole", func(t *testing.T, l layout) {
			if err := os.Remove(l.older); err != nil {
				t.Fatal(err)
			}
		}, outcome{refused: true}},
		// What is left reads cleanly and is consistent, as if the store
		// had stopped earlier; the sync ledger lists the WAL as synced
		// and never removed by pebble.
		{"newest WAL removed", func(t *testing.T, l layout) {
			if err := os.Remove(l.newest); err != nil {
				t.Fatal(err)
			}
		}, outcome{refused: true}},
		// No file check can see the next one: the store opens with a
		// shorter log (acknowledged writes gone).
		{"truncated at a record boundary (undetectable: an earlier, consistent state)", func(t *testing.T, l layout) {
			truncateTo(t, l.newest, l.newestStarts[len(l.newestStarts)-1])
		}, outcome{last: func(layout) uint64 { return n }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeWALs(t, dir, n)
			wals := walFiles(t, dir)
			if len(wals) != 2 {
				t.Fatalf("precondition: want 2 live WALs, have %v", wals)
			}
			l := layout{older: wals[0], newest: wals[1], olderStarts: recordStarts(t, wals[0]), newestStarts: recordStarts(t, wals[1])}
			l.olderSize, l.newestSize = fileSize(t, wals[0]), fileSize(t, wals[1])
			if got := uint64(len(l.olderStarts) + len(l.newestStarts)); got != n+1 {
				t.Fatalf("precondition: %d records in the WALs, want %d (one per Save)", got, n+1)
			}
			tt.damage(t, l)

			var logs bytes.Buffer
			db, err := storage.Open(dir, slog.New(slog.NewJSONHandler(&logs, nil)))
			var rl *storage.RaftLog
			if err == nil {
				defer db.Close()
				rl, err = storage.OpenRaftLog(db, walTestGroup)
			}
			warns := walWarnings(t, &logs)
			if tt.want.refused {
				if err == nil {
					t.Fatal("opened a damaged store")
				}
				if !errors.Is(err, storage.ErrCorrupt) {
					t.Fatalf("refusal is not ErrCorrupt: %v", err)
				}
				if tt.want.file != nil {
					var cw *storage.CorruptWALError
					if !errors.As(err, &cw) {
						t.Fatalf("refusal names no WAL: %v", err)
					}
					if cw.File != tt.want.file(l) || cw.Offset != tt.want.offset(l) {
						t.Fatalf("refusal names %s offset %d, want %s offset %d: %v", cw.File, cw.Offset, tt.want.file(l), tt.want.offset(l), err)
					}
					if tt.want.validAfter != (cw.ValidAt > cw.Offset) {
						t.Fatalf("valid record after the damage: %d (offset %d), want %v", cw.ValidAt, cw.Offset, tt.want.validAfter)
					}
					if !strings.Contains(err.Error(), cw.File) || !strings.Contains(err.Error(), strconv.FormatInt(cw.Offset, 10)) {
						t.Fatalf("error text does not name file and offset: %v", err)
					}
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if last, _ := rl.LastIndex(); last != tt.want.last(l) {
				t.Fatalf("last index %d, want %d", last, tt.want.last(l))
			}
			switch {
			case tt.want.file == nil && len(warns) > 0:
				t.Fatalf("unexpected warnings: %v", warns)
			case tt.want.file != nil && len(warns) != 1:
				t.Fatalf("want one torn-tail warning, got %v\n%s", warns, logs.String())
			case tt.want.file != nil:
				w := warns[0]
				if w["level"] != "WARN" || w["file"] != tt.want.file(l) || int64(w["offset"].(float64)) != tt.want.offset(l) || w["bytes_cut"].(float64) <= 0 {
					t.Fatalf("warning %v, want file %s offset %d", w, tt.want.file(l), tt.want.offset(l))
				}
				t.Logf("warned: %v", w)
			}
		})
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// lastBlockVictim returns the start of a record in the WAL's last 32 KiB
// block that has another complete record after it in the same block.
func lastBlockVictim(t *testing.T, starts []int64, size int64) int64 {
	t.Helper()
	const block = 32 << 10
	lastBlock := (size - 1) / block * block
	for i := len(starts) - 2; i >= 0; i-- {
		if starts[i] >= lastBlock && starts[i]%block != 0 {
			return starts[i]
		}
	}
	t.Fatalf("precondition: no record with a successor in the last block (size %d, starts %v)", size, starts[len(starts)-3:])
	return 0
}
