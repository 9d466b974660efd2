package storage_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/record"

	"github.com/chronik-chaos/chronik/broker/storage"
)

// TestStoreFileDamageAtOpen damages the files around pebble's WALs (the
// MANIFEST, OPTIONS, the sync ledger) and removes WALs, and checks what
// Open does: damage no crash or power loss can leave is refused with a
// *storage.CorruptFileError naming the file; what a crash legitimately
// leaves (a torn manifest tail after its last fsync, a torn ledger slot) and
// harmless removals open, every synced entry still there.
func TestStoreFileDamageAtOpen(t *testing.T) {
	const n = 400
	type want struct {
		refused bool
		file    func(dir string) string // named by the refusal (or the WARN line when opened)
		offset  func(dir string) int64  // of the refusal; nil: not checked
		warn    string                  // a WARN message the open logs
	}
	manifest := func(dir string) string {
		b, err := os.ReadFile(filepath.Join(dir, "CURRENT"))
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, strings.TrimSpace(string(b)))
	}
	options := func(dir string) string {
		m, _ := filepath.Glob(filepath.Join(dir, "OPTIONS-*"))
		if len(m) != 1 {
			t.Fatalf("precondition: want one OPTIONS file, have %v", m)
		}
		return m[0]
	}
	ledger := func(dir string) string { return filepath.Join(dir, storage.LedgerFile) }
	newestWAL := func(dir string) string { w := walFiles(t, dir); return w[len(w)-1] }
	olderWAL := func(dir string) string { return walFiles(t, dir)[0] }
	lastRecord := func(dir string) int64 { s := manifestRecordStarts(t, manifest(dir)); return s[len(s)-1] }
	tests := []struct {
		name string
		// flushed: the store was reopened once after writing, so pebble
		// replayed the WALs into a sorted table that only the manifest's
		// last edit records; otherwise the entries are in two live WALs.
		flushed bool
		damage  func(t *testing.T, dir string)
		want    want
	}{
		{"no damage, live WALs", false, func(*testing.T, string) {}, want{}},
		{"no damage, flushed", true, func(*testing.T, string) {}, want{}},
		// Defect 1: pebble reads a manifest record that fails its checksum
		// as the end of the manifest; here that drops the edit holding
		// the only table, and the store opened empty.
		{"bit flipped in the newest MANIFEST's last record", true, func(t *testing.T, dir string) {
			flipBytes(t, manifest(dir), lastRecord(dir)+10)
		}, want{refused: true, file: manifest, offset: lastRecord}},
		{"bit flipped in the MANIFEST's first record", true, func(t *testing.T, dir string) {
			flipBytes(t, manifest(dir), 10)
		}, want{refused: true, file: manifest, offset: func(string) int64 { return 0 }}},
		{"MANIFEST cut at its last record boundary", true, func(t *testing.T, dir string) {
			truncateTo(t, manifest(dir), lastRecord(dir))
		}, want{refused: true, file: manifest, offset: lastRecord}},
		{"torn MANIFEST tail after its last fsync (a crash mid-write)", true, func(t *testing.T, dir string) {
			// The first 20 bytes of a copy of the first record: a chunk
			// whose header promises more than the file holds, as a
			// crash in the middle of pebble's next edit leaves it.
			b, err := os.ReadFile(manifest(dir))
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(manifest(dir), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write(b[:20]); err != nil {
				t.Fatal(err)
			}
		}, want{}},
		// Defect 3: the WALs that hold the entries are gone.
		{"newest WAL removed", false, func(t *testing.T, dir string) {
			if err := os.Remove(newestWAL(dir)); err != nil {
				t.Fatal(err)
			}
		}, want{refused: true, file: newestWAL}},
		{"older WAL removed", false, func(t *testing.T, dir string) {
			if err := os.Remove(olderWAL(dir)); err != nil {
				t.Fatal(err)
			}
		}, want{refused: true, file: olderWAL}},
		// Defect 2.
		{"OPTIONS comparer name flipped (leveldb -> levelDb, chaos seed 109)", true, func(t *testing.T, dir string) {
			flipAtString(t, options(dir), "leveldb.BytewiseComparator", 5, 0x20)
		}, want{refused: true, file: options}},
		{"OPTIONS line made unparsable", true, func(t *testing.T, dir string) {
			flipAtString(t, options(dir), "strict_wal_tail=", len("strict_wal_tail"), 0x01)
		}, want{refused: true, file: options}},
		{"OPTIONS removed (pebble writes a new one)", true, func(t *testing.T, dir string) {
			if err := os.Remove(options(dir)); err != nil {
				t.Fatal(err)
			}
		}, want{}},
		{"sync ledger removed (opens unchecked, a new one started)", false, func(t *testing.T, dir string) {
			if err := os.Remove(ledger(dir)); err != nil {
				t.Fatal(err)
			}
		}, want{file: ledger, warn: "the store has no sync ledger"}},
		{"one sync ledger slot damaged (what a torn ledger write leaves)", false, func(t *testing.T, dir string) {
			flipBytes(t, ledger(dir), 8)
		}, want{file: ledger, warn: "one slot of the sync ledger is damaged"}},
		{"both sync ledger slots damaged", false, func(t *testing.T, dir string) {
			flipBytes(t, ledger(dir), 8, 1024+8)
		}, want{refused: true, file: ledger}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeWALs(t, dir, n)
			if tt.flushed {
				db, l := openLog(t, dir)
				if last, _ := l.LastIndex(); last != n+1 {
					t.Fatalf("precondition: last index %d after the reopen, want %d", last, n+1)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			}
			// The file and offset are taken before the damage (which may
			// remove the file).
			var wantFile string
			if tt.want.file != nil {
				wantFile = tt.want.file(dir)
			}
			var wantOffset int64 = -1
			if tt.want.offset != nil {
				wantOffset = tt.want.offset(dir)
			}
			tt.damage(t, dir)

			var logs bytes.Buffer
			db, err := storage.Open(dir, slog.New(slog.NewJSONHandler(&logs, nil)))
			if tt.want.refused {
				if err == nil {
					db.Close()
					t.Fatal("opened a damaged store")
				}
				var cf *storage.CorruptFileError
				if !errors.Is(err, storage.ErrCorrupt) || !errors.As(err, &cf) {
					t.Fatalf("not refused as a corrupt file: %v", err)
				}
				if cf.File != wantFile || cf.Offset != wantOffset || !strings.Contains(err.Error(), wantFile) {
					t.Fatalf("refusal names %s offset %d, want %s offset %d: %v", cf.File, cf.Offset, wantFile, wantOffset, err)
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			defer db.Close()
			l, err := storage.OpenRaftLog(db, walTestGroup)
			if err != nil {
				t.Fatal(err)
			}
			if last, _ := l.LastIndex(); last != n+1 {
				t.Fatalf("last index %d, want %d: synced entries lost", last, n+1)
			}
			warns := logLines(t, &logs, "WARN")
			switch {
			case tt.want.warn == "" && len(warns) > 0:
				t.Fatalf("unexpected warnings: %v", warns)
			case tt.want.warn != "" && (len(warns) != 1 || !strings.HasPrefix(warns[0]["msg"].(string), tt.want.warn) || warns[0]["file"] != wantFile):
				t.Fatalf("want one warning %q naming %s, have %v", tt.want.warn, wantFile, warns)
			case tt.want.warn != "":
				t.Logf("warned: %v", warns[0])
			}
		})
	}
}

// TestOnlyWALRemovedIsRefused: the store of a node that never flushed has
// its whole state in one WAL; without it pebble opens an empty store (a
// node with no hard state votes and acknowledges again: amnesia).
func TestOnlyWALRemovedIsRefused(t *testing.T) {
	dir := t.TempDir()
	writeWALs(t, dir, 3)
	wals := walFiles(t, dir)
	if len(wals) != 1 {
		t.Fatalf("precondition: want one WAL, have %v", wals)
	}
	if err := os.Remove(wals[0]); err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(dir, nil)
	if err == nil {
		db.Close()
		t.Fatal("opened a store whose only WAL is gone")
	}
	var cf *storage.CorruptFileError
	if !errors.As(err, &cf) || cf.File != wals[0] || !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("want a refusal naming %s, have %v", wals[0], err)
	}
	t.Logf("refused: %v", err)
}

// manifestRecordStarts lists the offsets of a manifest's records (the
// record format without log numbers).
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
			t.Fatalf("read manifest %s at %d: %v", path, off, err)
		}
		out = append(out, off)
	}
}

// flipAtString xors mask into the byte at index i of the first occurrence
// of s in the file.
func flipAtString(t *testing.T, path, s string, i int, mask byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(b, []byte(s))
	if at < 0 {
		t.Fatalf("precondition: %q not in %s", s, path)
	}
	b[at+i] ^= mask
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// logLines returns the JSON log lines of a level.
func logLines(t *testing.T, logs *bytes.Buffer, level string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if line == "" || json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if m["level"] == level {
			out = append(out, m)
		}
	}
	return out
}
