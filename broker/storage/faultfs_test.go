package storage

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/record"
	"github.com/cockroachdb/pebble/vfs"
)

// faultOps is a test's handle on a FaultFS in a fresh directory.
type faultOps struct {
	t     *testing.T
	fs    *FaultFS
	dir   string
	files map[string]vfs.File
}

func (o *faultOps) path(name string) string { return filepath.Join(o.dir, name) }

func (o *faultOps) create(name string) {
	f, err := o.fs.Create(o.path(name))
	if err != nil {
		o.t.Fatal(err)
	}
	o.files[name] = f
}

func (o *faultOps) reuse(from, to string) {
	f, err := o.fs.ReuseForWrite(o.path(from), o.path(to))
	if err != nil {
		o.t.Fatal(err)
	}
	o.files[to] = f
}

func (o *faultOps) write(name, data string) {
	if _, err := o.files[name].Write([]byte(data)); err != nil {
		o.t.Fatal(err)
	}
}

func (o *faultOps) sync(name string) {
	if err := o.files[name].Sync(); err != nil {
		o.t.Fatal(err)
	}
}

func (o *faultOps) syncData(name string) {
	if err := o.files[name].SyncData(); err != nil {
		o.t.Fatal(err)
	}
}

func (o *faultOps) syncDir() {
	d, err := o.fs.OpenDir(o.dir)
	if err != nil {
		o.t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		o.t.Fatal(err)
	}
}

func (o *faultOps) rename(from, to string) {
	if err := o.fs.Rename(o.path(from), o.path(to)); err != nil {
		o.t.Fatal(err)
	}
}

func (o *faultOps) remove(name string) {
	if err := o.fs.Remove(o.path(name)); err != nil {
		o.t.Fatal(err)
	}
}

// newFaultOps writes pre into a fresh directory (files that exist before
// the FaultFS starts, hence durable) and starts a FaultFS on it.
func newFaultOps(t *testing.T, pre map[string]string) *faultOps {
	dir := t.TempDir()
	for name, data := range pre {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ffs, err := NewFaultFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &faultOps{t: t, fs: ffs, dir: dir, files: map[string]vfs.File{}}
}

// diskContents reads dir as name -> content (directories as "name/"),
// without the undo area.
func diskContents(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == faultUndoDir {
			return filepath.SkipDir
		}
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// What survives a power loss after each combination of create, write,
// sync, directory sync, rename and remove (no tear).
func TestFaultFSPowerLossKeepsOnlySynced(t *testing.T) {
	o100, n50, m20 := strings.Repeat("o", 100), strings.Repeat("n", 50), strings.Repeat("m", 20)
	cases := []struct {
		name string
		pre  map[string]string
		ops  func(o *faultOps)
		want map[string]string
		// report checks a few counters of the report.
		removed, restored, renames int
	}{
		{name: "files present at start are durable", pre: map[string]string{"a": "x"},
			ops: func(o *faultOps) {}, want: map[string]string{"a": "x"}},
		{name: "unsynced create and write: the file is gone",
			ops:  func(o *faultOps) { o.create("a"); o.write("a", "hello") },
			want: map[string]string{}, removed: 1},
		{name: "synced data but unsynced create: the file is gone",
			ops:  func(o *faultOps) { o.create("a"); o.write("a", "hello"); o.sync("a") },
			want: map[string]string{}, removed: 1},
		{name: "synced create, unsynced data: the file is empty",
			ops:  func(o *faultOps) { o.create("a"); o.syncDir(); o.write("a", "hello") },
			want: map[string]string{"a": ""}},
		{name: "synced create and data survive",
			ops:  func(o *faultOps) { o.create("a"); o.write("a", "hello"); o.sync("a"); o.syncDir() },
			want: map[string]string{"a": "hello"}},
		{name: "a sync covers the writes before it only",
			ops: func(o *faultOps) {
				o.create("a")
				o.syncDir()
				o.write("a", "one")
				o.sync("a")
				o.write("a", "two")
			},
			want: map[string]string{"a": "one"}},
		{name: "SyncData is a sync",
			ops: func(o *faultOps) {
				o.create("a")
				o.syncDir()
				o.write("a", "one")
				o.syncData("a")
				o.write("a", "two")
			},
			want: map[string]string{"a": "one"}},
		{name: "a directory sync covers the operations before it only",
			ops:  func(o *faultOps) { o.create("a"); o.syncDir(); o.rename("a", "b") },
			want: map[string]string{"a": ""}, renames: 1},
		{name: "unsynced remove: the file is back", pre: map[string]string{"a": "old"},
			ops:  func(o *faultOps) { o.remove("a") },
			want: map[string]string{"a": "old"}, restored: 1},
		{name: "synced remove", pre: map[string]string{"a": "old"},
			ops:  func(o *faultOps) { o.remove("a"); o.syncDir() },
			want: map[string]string{}},
		{name: "unsynced rename is undone", pre: map[string]string{"a": "x"},
			ops:  func(o *faultOps) { o.rename("a", "b") },
			want: map[string]string{"a": "x"}, renames: 1},
		{name: "unsynced rename over a file: both are back", pre: map[string]string{"a": "x", "b": "y"},
			ops:  func(o *faultOps) { o.rename("a", "b") },
			want: map[string]string{"a": "x", "b": "y"}, renames: 1},
		{name: "synced rename over a file", pre: map[string]string{"a": "x", "b": "y"},
			ops:  func(o *faultOps) { o.rename("a", "b"); o.syncDir() },
			want: map[string]string{"b": "x"}},
		{name: "create over an existing file, unsynced: the old one is back", pre: map[string]string{"a": "old"},
			ops:  func(o *faultOps) { o.create("a"); o.write("a", "new"); o.sync("a") },
			want: map[string]string{"a": "old"}, removed: 1, restored: 1},
		{name: "create, then remove, unsynced: nothing",
			ops:  func(o *faultOps) { o.create("a"); o.write("a", "x"); o.remove("a") },
			want: map[string]string{}, removed: 1, restored: 1},
		{name: "a removed open file loses its unsynced writes too",
			ops: func(o *faultOps) {
				o.create("a")
				o.syncDir()
				o.write("a", "one")
				o.sync("a")
				o.remove("a")
				o.write("a", "two")
			},
			want: map[string]string{"a": "one"}, restored: 1},
		{name: "recycled file: unsynced overwrites get the old bytes back", pre: map[string]string{"a": o100},
			ops: func(o *faultOps) {
				o.reuse("a", "b")
				o.write("b", n50)
				o.sync("b")
				o.syncDir()
				o.write("b", m20)
			},
			want: map[string]string{"b": n50 + o100[50:]}},
		{name: "recycled file, rename unsynced: synced data under the old name", pre: map[string]string{"a": o100},
			ops: func(o *faultOps) {
				o.reuse("a", "b")
				o.write("b", n50)
				o.sync("b")
				o.write("b", m20)
			},
			want: map[string]string{"a": n50 + o100[50:]}, renames: 1},
		{name: "recycled file written past its end", pre: map[string]string{"a": "oooo"},
			ops: func(o *faultOps) {
				o.reuse("a", "b")
				o.syncDir()
				o.write("b", "nn")
				o.sync("b")
				o.write("b", "mmmmmm")
			},
			want: map[string]string{"b": "nnoo"}},
		{name: "unsynced link is undone", pre: map[string]string{"a": "x"},
			ops: func(o *faultOps) {
				if err := o.fs.Link(o.path("a"), o.path("b")); err != nil {
					o.t.Fatal(err)
				}
			},
			want: map[string]string{"a": "x"}, removed: 1},
		{name: "unsynced directory is gone",
			ops: func(o *faultOps) {
				if err := o.fs.MkdirAll(o.path("sub/deeper"), 0o755); err != nil {
					o.t.Fatal(err)
				}
			},
			want: map[string]string{}, removed: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := newFaultOps(t, c.pre)
			c.ops(o)
			rep, err := o.fs.PowerLoss(nil)
			if err != nil {
				t.Fatalf("power loss: %v (report %+v)", err, rep)
			}
			if got := diskContents(t, o.dir); !equalMaps(got, c.want) {
				t.Fatalf("after the power loss the disk holds %q, want %q (report %s)", got, c.want, rep.Summary())
			}
			if rep.FilesRemoved != c.removed || rep.RemovesUndone != c.restored || rep.RenamesUndone != c.renames {
				t.Fatalf("report: removed %d restored %d renames %d, want %d %d %d (%s)",
					rep.FilesRemoved, rep.RemovesUndone, rep.RenamesUndone, c.removed, c.restored, c.renames, rep.Summary())
			}
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// With a tear seed a file keeps its unsynced writes up to a point strictly
// inside one of them; the report says where, the same seed gives the same
// result and other seeds other points.
func TestFaultFSTornWrite(t *testing.T) {
	synced, w1, w2 := "SYNCED", strings.Repeat("1", 100), strings.Repeat("2", 100)
	run := func(t *testing.T, seed int64) (string, PowerLossReport) {
		o := newFaultOps(t, nil)
		o.create("a")
		o.syncDir()
		o.write("a", synced)
		o.sync("a")
		o.write("a", w1)
		o.write("a", w2)
		rep, err := o.fs.PowerLoss(&seed)
		if err != nil {
			t.Fatal(err)
		}
		return diskContents(t, o.dir)["a"], rep
	}
	all := synced + w1 + w2
	cuts := map[int64]bool{}
	for seed := range int64(16) {
		got, rep := run(t, seed)
		if again, _ := run(t, seed); again != got {
			t.Fatalf("seed %d: %q then %q", seed, got, again)
		}
		if rep.TearSeed == nil || *rep.TearSeed != seed {
			t.Fatalf("seed %d: report tear seed %v", seed, rep.TearSeed)
		}
		if rep.TornWrites != 1 {
			t.Fatalf("seed %d: %d torn writes, want 1 (%s)", seed, rep.TornWrites, rep.Summary())
		}
		at := *rep.Files[0].TornAt
		cuts[at] = true
		if got != all[:at] {
			t.Fatalf("seed %d: torn at %d but the file holds %d bytes", seed, at, len(got))
		}
		if off := at - int64(len(synced)); off <= 0 || off == 100 || off >= 200 {
			t.Fatalf("seed %d: torn at %d, not inside a write", seed, at)
		}
		if rep.BytesDropped != int64(len(all))-at {
			t.Fatalf("seed %d: %d bytes dropped, want %d", seed, rep.BytesDropped, int64(len(all))-at)
		}
	}
	if len(cuts) < 4 {
		t.Fatalf("16 seeds tore at only %d points: the seeded choice barely varies", len(cuts))
	}
}

// After Halt nothing reaches the disk: calls block instead.
func TestFaultFSHaltBlocks(t *testing.T) {
	o := newFaultOps(t, nil)
	o.create("a")
	o.syncDir()
	o.write("a", "before")
	o.fs.Halt()
	done := make(chan struct{})
	go func() {
		o.files["a"].Write([]byte("after"))
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("a write after Halt returned")
	case <-time.After(200 * time.Millisecond):
	}
	if got := diskContents(t, o.dir)["a"]; got != "before" {
		t.Fatalf("after Halt the file holds %q", got)
	}
	// A power loss after a halt still drops what was not synced.
	rep, err := o.fs.PowerLoss(nil)
	if err != nil || rep.BytesDropped != int64(len("before")) {
		t.Fatalf("power loss after halt: %v, %+v", err, rep)
	}
	if got := diskContents(t, o.dir)["a"]; got != "" {
		t.Fatalf("after the power loss the file holds %q", got)
	}
}

// Pebble on a FaultFS: after a power loss a fresh pebble on the plain disk
// finds every key of a synced commit and none written after the last sync,
// across flushes and WAL recycling (the reused WAL's old bytes come back).
func TestFaultFSUnderPebble(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenWith(dir, nil, Options{FaultFS: true})
	if err != nil {
		t.Fatal(err)
	}
	set := func(i int, o *pebble.WriteOptions) {
		if err := db.Set(fmt.Appendf(nil, "k%05d", i), bytes.Repeat([]byte{'v'}, 1000), o); err != nil {
			t.Fatal(err)
		}
	}
	// Two flushes make the first WAL obsolete and the next rotation
	// reuses it.
	i := 0
	for round := range 3 {
		for range 200 {
			set(i, pebble.Sync)
			i++
		}
		if round < 2 {
			if err := db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	syncedUpTo := i
	for range 50 {
		set(i, pebble.NoSync)
		i++
	}
	// Let pebble's flush loop hand the unsynced writes to the file system.
	time.Sleep(50 * time.Millisecond)
	db.Fault.mu.Lock()
	recycled := false
	for _, st := range db.Fault.files {
		st.mu.Lock()
		for _, w := range st.writes {
			recycled = recycled || w.old != nil
		}
		st.mu.Unlock()
	}
	db.Fault.mu.Unlock()
	rep, err := db.Fault.PowerLoss(nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.BytesDropped == 0 {
		t.Fatalf("nothing dropped after 50 unsynced writes: %+v", rep)
	}
	if !recycled {
		t.Fatal("pebble wrote the unsynced keys to a new WAL, not a recycled one: the test no longer covers overwritten bytes coming back")
	}
	re, err := Open(dir, nil)
	if err != nil {
		t.Fatalf("reopen after the power loss: %v (report %s)", err, rep.Summary())
	}
	defer re.Close()
	for k := range i {
		_, ok, err := re.GetCopy(fmt.Appendf(nil, "k%05d", k))
		if err != nil {
			t.Fatal(err)
		}
		if k < syncedUpTo && !ok {
			t.Fatalf("synced key %d lost (report %s)", k, rep.Summary())
		}
		if k >= syncedUpTo && ok {
			t.Fatalf("unsynced key %d survived a power loss that dropped %d bytes", k, rep.BytesDropped)
		}
	}
}

// Until a fault fires, pebble on a FaultFS writes the same files with the
// same bytes as on the plain disk (the undo area aside, which pebble never
// sees).
func TestFaultFSWritesWhatTheDiskWrites(t *testing.T) {
	// One flush only: with several, pebble's background flushes and WAL
	// rotations interleave differently from run to run, numbering files
	// differently on any disk.
	write := func(db *DB) {
		for round := range 3 {
			b := db.NewBatch()
			for i := range 300 {
				b.Set(fmt.Appendf(nil, "r%d-k%05d", round, i), bytes.Repeat([]byte{byte(i)}, 200), nil)
			}
			if err := b.Commit(pebble.Sync); err != nil {
				t.Fatal(err)
			}
			b.Close()
			if err := db.DeleteRange(fmt.Appendf(nil, "r%d-k00100", round), fmt.Appendf(nil, "r%d-k00200", round), pebble.NoSync); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := db.Set([]byte("after-flush"), []byte("v"), pebble.Sync); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	plainDir, faultDir := t.TempDir(), t.TempDir()
	plain, err := Open(plainDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	write(plain)
	faulty, err := OpenWith(faultDir, nil, Options{FaultFS: true})
	if err != nil {
		t.Fatal(err)
	}
	write(faulty)
	a, b := diskContents(t, plainDir), diskContents(t, faultDir)
	names := func(m map[string]string) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(names(a), names(b)) {
		t.Fatalf("files differ:\nplain %v\nfault %v", names(a), names(b))
	}
	for name, data := range a {
		if strings.HasPrefix(name, "MANIFEST-") {
			// A MANIFEST records each table's creation time in seconds:
			// two runs may straddle a second. Its size is fixed.
			if len(b[name]) != len(data) {
				t.Errorf("%s: %d bytes on the plain disk, %d on the fault fs", name, len(data), len(b[name]))
			}
			continue
		}
		if b[name] != data {
			t.Errorf("%s: %d bytes on the plain disk, %d on the fault fs, contents differ", name, len(data), len(b[name]))
		}
	}
}

// In a WAL, a tear keeps the synced records and a prefix of the unsynced
// ones: the seed picks the first record lost (any of them, the small ones
// too) and the cut falls strictly inside it.
func TestFaultFSTornWALKeepsARecordPrefix(t *testing.T) {
	sizes := []int{10, 500, 20, 3000, 50}
	firstLost := map[int]bool{}
	for seed := range int64(40) {
		o := newFaultOps(t, nil)
		o.create("000007.log")
		o.syncDir()
		w := record.NewWriter(o.files["000007.log"])
		put := func(tag byte, n int) {
			rw, err := w.Next()
			if err != nil {
				t.Fatal(err)
			}
			rw.Write(bytes.Repeat([]byte{tag}, n))
		}
		for i := range 3 {
			put(byte('a'+i), 100)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		o.sync("000007.log")
		// One write (one Flush) holding five records, not synced.
		for i, n := range sizes {
			put(byte('A'+i), n)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		rep, err := o.fs.PowerLoss(&seed)
		if err != nil {
			t.Fatal(err)
		}
		data := diskContents(t, o.dir)["000007.log"]
		rr := record.NewReader(strings.NewReader(data), 7)
		var got []int
		for {
			r, err := rr.Next()
			if err != nil {
				break
			}
			b, err := io.ReadAll(r)
			if err != nil {
				break
			}
			got = append(got, len(b))
		}
		if len(got) < 3 || len(got) > 3+len(sizes)-1 {
			t.Fatalf("seed %d: %d records survive, want the 3 synced and at most %d more", seed, len(got), len(sizes)-1)
		}
		for i, n := range got[3:] {
			if n != sizes[i] {
				t.Fatalf("seed %d: record %d has %d bytes, want %d: not a prefix", seed, 3+i, n, sizes[i])
			}
		}
		if rep.TornWrites != 1 || rep.Files[0].TornAt == nil || *rep.Files[0].TornAt != int64(len(data)) {
			t.Fatalf("seed %d: report %s, file %d bytes", seed, rep.Summary(), len(data))
		}
		firstLost[len(got)-3] = true
	}
	if len(firstLost) < len(sizes) {
		t.Fatalf("40 seeds lost first only records %v of 0..%d", firstLost, len(sizes)-1)
	}
}

// BeforeWALSync runs before a WAL fsync, when the records are written but
// not durable; a hook that halts the file system stops the sync, and a
// power loss then drops what it would have made durable.
func TestFaultFSBeforeWALSync(t *testing.T) {
	o := newFaultOps(t, nil)
	o.create("000003.log")
	o.create("OTHER")
	o.syncDir()
	var calls []string
	o.fs.SetBeforeWALSync(func() { calls = append(calls, "wal") })
	o.write("OTHER", "x")
	o.sync("OTHER")
	o.write("000003.log", "synced")
	o.sync("000003.log")
	if len(calls) != 1 {
		t.Fatalf("hook ran %d times for one WAL sync and one other sync", len(calls))
	}
	o.fs.SetBeforeWALSync(o.fs.Halt)
	o.write("000003.log", "written")
	done := make(chan struct{})
	go func() {
		o.files["000003.log"].Sync()
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("a sync returned after the hook halted the file system")
	case <-time.After(200 * time.Millisecond):
	}
	rep, err := o.fs.PowerLoss(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := diskContents(t, o.dir)["000003.log"]; got != "synced" || rep.BytesDropped != int64(len("written")) {
		t.Fatalf("after the power loss the WAL holds %q (report %s)", got, rep.Summary())
	}
}
