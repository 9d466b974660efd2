package storage

// This file is the power loss itself: FaultFS.PowerLoss halts the file
// system and rewrites the real disk to what the last syncs left, and
// reports what it took away.

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/record"
)

// PowerLossReport is what a power loss took from the disk. It is the JSON
// of the admin API's POST /admin/power-loss answer (plus node_id and
// exit_code there), so its field names are a contract.
type PowerLossReport struct {
	// BytesDropped counts the bytes written through the file system that
	// are not on disk after the loss: unsynced writes undone (truncated or
	// reverted to the bytes they overwrote) and the whole content of files
	// whose creation was undone.
	BytesDropped int64 `json:"bytes_dropped"`
	// FilesTruncated counts files that lost unsynced writes and remain.
	FilesTruncated int `json:"files_truncated"`
	// FilesRemoved counts created files (and directories) whose creation
	// no directory sync covered: they are gone.
	FilesRemoved int `json:"files_removed"`
	// RenamesUndone counts renames no directory sync covered: the file is
	// back under its old name (and a file it replaced is back too).
	RenamesUndone int `json:"renames_undone"`
	// RemovesUndone counts removed files no directory sync covered: they
	// are back.
	RemovesUndone int `json:"removes_undone"`
	// TornWrites counts writes kept only in part (with a tear seed).
	TornWrites int `json:"torn_writes"`
	// TearSeed is the seed of the tear choices, when one was given.
	TearSeed *int64 `json:"tear_seed,omitempty"`
	// Files lists each file the loss changed, in the order undone.
	Files []FileLoss `json:"files"`
	// Errors lists what could not be undone (the disk then holds more
	// than the synced state: the loss was milder than asked).
	Errors []string `json:"errors,omitempty"`
}

// FileLoss is what a power loss did to one file.
type FileLoss struct {
	// File is the path relative to the data directory.
	File string `json:"file"`
	// Action is "writes-dropped", "create-undone", "remove-undone" or
	// "rename-undone".
	Action string `json:"action"`
	// BytesDropped is this file's share of PowerLossReport.BytesDropped.
	BytesDropped int64 `json:"bytes_dropped,omitempty"`
	// SizeBefore and SizeAfter are the file's sizes around the loss
	// (writes-dropped only).
	SizeBefore *int64 `json:"size_before,omitempty"`
	SizeAfter  *int64 `json:"size_after,omitempty"`
	// TornAt is the offset where a torn write's surviving part ends.
	TornAt *int64 `json:"torn_at,omitempty"`
	// From is, for rename-undone, the name the file is back under
	// (File is the name the rename gave it).
	From string `json:"from,omitempty"`
}

// Summary is the report's files as one log attribute:
// "000004.log writes-dropped 5230, MANIFEST-000001 create-undone".
func (r PowerLossReport) Summary() string {
	parts := make([]string, 0, len(r.Files))
	for _, f := range r.Files {
		s := f.File + " " + f.Action
		switch {
		case f.Action == "rename-undone":
			s = f.File + " rename-undone back to " + f.From
		case f.BytesDropped > 0:
			s += fmt.Sprintf(" %d", f.BytesDropped)
		}
		if f.TornAt != nil {
			s += fmt.Sprintf(" torn at %d", *f.TornAt)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// PowerLoss halts the file system (see Halt), then makes the real disk
// hold only what completed syncs made durable: every unsynced write and
// every create, rename and remove no directory sync covered is undone.
//
// With tearSeed, each file that lost writes instead keeps a prefix of its
// unsynced bytes, cut at a point drawn from the seed (files in path order),
// as a power cut in the middle of writing leaves it. In a pebble WAL the
// seed picks, uniformly, which of the unsynced records is the first one
// lost, and the cut falls strictly inside it: replay cuts a torn record, so
// every cut is worth the record boundary before it, and a cut drawn
// uniformly over bytes would nearly always fall in the largest record and
// reach few of the prefixes a restart can meet (one pebble write holds the
// batches of many commits: group commit). In any other file the seed picks
// a write and a point inside it. A second call returns the
// first call's report. The caller must not use the store afterwards: the
// process is meant to exit, as after a power cut.
func (fs *FaultFS) PowerLoss(tearSeed *int64) (PowerLossReport, error) {
	fs.lossOnce.Do(func() {
		fs.loss.Files = []FileLoss{}
		fs.Halt()
		// Halt holds every lock for good: the disk is ours alone.
		var rng *rand.Rand
		if tearSeed != nil {
			rng = rand.New(rand.NewSource(*tearSeed))
			fs.loss.TearSeed = new(*tearSeed)
		}
		fs.resetLocked(rng)
		if len(fs.loss.Errors) > 0 {
			fs.lossErr = fmt.Errorf("power loss left %d changes in place: %s", len(fs.loss.Errors), strings.Join(fs.loss.Errors, "; "))
		}
	})
	return fs.loss, fs.lossErr
}

func (fs *FaultFS) rel(p string) string {
	if r, err := filepath.Rel(fs.dir, p); err == nil {
		return r
	}
	return p
}

// resetLocked undoes, with every lock held: first each surviving file's
// unsynced writes, then the pending directory operations, newest first.
func (fs *FaultFS) resetLocked(rng *rand.Rand) {
	r := &fs.loss
	fail := func(format string, args ...any) { r.Errors = append(r.Errors, fmt.Sprintf(format, args...)) }
	gone := map[*faultState]bool{}
	for _, op := range fs.pending {
		if op.kind == opCreate && op.st != nil {
			gone[op.st] = true
		}
	}
	for _, st := range fs.statesLocked() {
		if gone[st] || len(st.writes) == 0 {
			continue
		}
		fl, err := dropWrites(st, rng)
		if err != nil {
			fail("%s: %v", fs.rel(st.path), err)
			continue
		}
		// The name pebble knew: a removed file in the undo area is
		// reported under the name it gets back.
		fl.File = fs.rel(fs.knownName(st.path))
		r.BytesDropped += fl.BytesDropped
		r.FilesTruncated++
		if fl.TornAt != nil {
			r.TornWrites++
		}
		r.Files = append(r.Files, fl)
	}
	for i := len(fs.pending) - 1; i >= 0; i-- {
		op := fs.pending[i]
		switch op.kind {
		case opCreate, opMkdir:
			var size int64
			if op.st != nil {
				size = op.st.size
			}
			if err := os.RemoveAll(op.path); err != nil {
				fail("undo create of %s: %v", fs.rel(op.path), err)
				continue
			}
			r.FilesRemoved++
			r.BytesDropped += size
			r.Files = append(r.Files, FileLoss{File: fs.rel(op.path), Action: "create-undone", BytesDropped: size})
		case opRemove:
			if err := os.Rename(op.undo, op.path); err != nil {
				fail("undo remove of %s: %v", fs.rel(op.path), err)
				continue
			}
			r.RemovesUndone++
			r.Files = append(r.Files, FileLoss{File: fs.rel(op.path), Action: "remove-undone"})
		case opRename:
			if err := os.Rename(op.path, op.from); err != nil {
				fail("undo rename of %s to %s: %v", fs.rel(op.from), fs.rel(op.path), err)
				continue
			}
			if op.undo != "" {
				if err := os.Rename(op.undo, op.path); err != nil {
					fail("restore %s replaced by a rename: %v", fs.rel(op.path), err)
				}
			}
			r.RenamesUndone++
			r.Files = append(r.Files, FileLoss{File: fs.rel(op.path), Action: "rename-undone", From: fs.rel(op.from)})
		}
	}
	fs.pending = nil
}

// knownName maps a path in the undo area back to the name the file had.
func (fs *FaultFS) knownName(p string) string {
	for i := len(fs.pending) - 1; i >= 0; i-- {
		if op := fs.pending[i]; op.undo == p {
			return op.path
		}
	}
	return p
}

// dropWrites undoes st's unsynced writes on disk, newest first: bytes that
// overwrote older ones get them back, then the file is cut to the synced
// size. With rng, the file keeps its unsynced bytes up to a seeded point
// (see PowerLoss and chooseTear).
func dropWrites(st *faultState, rng *rand.Rand) (FileLoss, error) {
	fl := FileLoss{Action: "writes-dropped", SizeBefore: new(st.size)}
	ws := st.writes
	// Writes [0, keep) survive whole, ws[torn] its first cut bytes.
	keep, torn, cut := 0, -1, int64(0)
	if rng != nil {
		if keep, torn, cut = chooseTear(st, rng); keep > 0 || torn >= 0 {
			at := ws[keep].off
			if torn >= 0 {
				at += cut
			}
			fl.TornAt = &at
		}
	}
	end := st.synced
	for _, w := range ws[:keep] {
		end = max(end, w.off+w.n)
	}
	if torn >= 0 {
		end = max(end, ws[torn].off+cut)
	}
	f, err := os.OpenFile(st.path, os.O_WRONLY, 0)
	if err != nil {
		return fl, err
	}
	defer f.Close()
	for i := len(ws) - 1; i >= keep; i-- {
		w := ws[i]
		from := int64(0)
		if i == torn {
			from = cut
		}
		fl.BytesDropped += w.n - from
		if int64(len(w.old)) > from {
			if _, err := f.WriteAt(w.old[from:], w.off+from); err != nil {
				return fl, fmt.Errorf("restore %d overwritten bytes at %d: %w", int64(len(w.old))-from, w.off+from, err)
			}
		}
	}
	if end < st.size {
		if err := f.Truncate(end); err != nil {
			return fl, fmt.Errorf("truncate to %d: %w", end, err)
		}
	}
	after := min(st.size, end)
	fl.SizeAfter = &after
	st.size, st.synced, st.writes = after, after, nil
	return fl, nil
}

// chooseTear draws where a power cut tears st's unsynced writes: writes
// [0, keep) survive whole and ws[torn] (torn = keep, or -1) its first cut
// bytes. A WAL is torn inside a record drawn uniformly from those its
// unsynced writes hold; another file inside a write drawn uniformly (of
// those of at least two bytes). keep = 0, torn = -1: nothing kept.
func chooseTear(st *faultState, rng *rand.Rand) (keep, torn int, cut int64) {
	ws := st.writes
	if at, ok := walTearPoint(st.path, ws, rng); ok {
		for i, w := range ws {
			switch {
			case at == w.off:
				return i, -1, 0
			case at > w.off && at < w.off+w.n:
				return i, i, at - w.off
			}
		}
	}
	var tearable []int
	for i, w := range ws {
		if w.n >= 2 {
			tearable = append(tearable, i)
		}
	}
	if len(tearable) == 0 {
		return 0, -1, 0
	}
	k := tearable[rng.Intn(len(tearable))]
	return k, k, 1 + rng.Int63n(ws[k].n-1)
}

// walTearPoint returns an offset strictly inside a record of WAL path that
// lies in the range its unsynced writes cover, the record drawn uniformly;
// false when path is no WAL or no whole record lies there. Pebble writes a
// WAL sequentially and only whole records, so the unsynced range starts at
// a record boundary.
func walTearPoint(path string, ws []faultWrite, rng *rand.Rand) (int64, bool) {
	num, isWAL := walNum(path)
	if !isWAL || len(ws) == 0 {
		return 0, false
	}
	lo, hi := ws[0].off, ws[0].off+ws[0].n
	for _, w := range ws[1:] {
		lo, hi = min(lo, w.off), max(hi, w.off+w.n)
	}
	data, err := os.ReadFile(path)
	if err != nil || int64(len(data)) < hi {
		return 0, false
	}
	// Reading stops at the end of what was written (or at the first
	// record of the log's earlier incarnation, in a recycled file).
	type span struct{ start, end int64 }
	var recs []span
	rr := record.NewReader(bytes.NewReader(data[:hi]), pebble.FileNum(num))
	for {
		start := rr.Offset()
		r, err := rr.Next()
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		if err != nil {
			break
		}
		if end := rr.Offset(); start >= lo && end-start >= 2 {
			recs = append(recs, span{start, end})
		}
	}
	if len(recs) == 0 {
		return 0, false
	}
	r := recs[rng.Intn(len(recs))]
	return r.start + 1 + rng.Int63n(r.end-r.start-1), true
}
