package storage

// This file tells a torn WAL tail from corruption with valid records after
// it, for every write-ahead log pebble replays when the store opens.
//
// Why a check of our own: pebble v1.1 (the version in go.mod) replays every
// WAL but the newest strictly (an unreadable record fails Open), and reads
// the newest one as a crash would leave it: replay stops at the first record
// that does not read (bad checksum, zeroed or truncated chunk) and
// everything after it is dropped without an error or a log line (open.go,
// replayWAL: record.IsInvalidRecord(err) && !strictWALTail is treated as the
// end of the log; strictWALTail is never set for the last WAL, and no option
// changes that). Then Open flushes what was replayed and deletes the WAL, so
// a bit flip in the middle of the newest WAL silently loses every write after
// it, acknowledged ones included, and destroys the evidence.
//
// How: pebble opens exactly the WALs it is about to replay through its
// vfs.FS, so Open gives pebble a file system (walCheckFS) that reads each of
// them first with pebble's own record reader, the one replay uses, and so
// stops where replay would stop. If that is not the end of the file, it looks
// for a complete record of the same log after the stop, the way the record
// format recovers (record.go: "on a format error, the reader moves to the
// next block and looks for the next full or first chunk"): a reader started
// at every later 32 KiB block boundary, and, for the rest of the damaged
// block, at every byte offset. A complete record after the stop means the
// damage is not where writing ended: Open refuses with a *CorruptWALError
// naming the file and both offsets. Nothing complete after the stop is a torn
// tail: pebble cuts it and Open logs at WARN what was cut. Records of an
// earlier incarnation of a recycled WAL carry another log number and never
// count (the reader treats them as the end of the log), nor does the EOF
// trailer pebble writes at Close.
//
// Limits: truncation at a record boundary leaves a shorter log that reads
// cleanly to its end; no file check can see it (the consistency checks of
// OpenRaftLog and broker/cluster catch the cases where what survives
// contradicts itself). A removed WAL is not this file's to see: the sync
// ledger (sync_ledger.go) lists the WALs that must be there. A power loss that persisted later pages
// of unsynced writes but not earlier ones also looks like corruption and is
// refused: refusing is the safe answer when the two cannot be told apart,
// and only writes that were never acknowledged are at stake then.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/record"
	"github.com/cockroachdb/pebble/vfs"
)

// walBlockSize is the record format's block size (pebble/record: "the stream
// is divided into 32KiB blocks"; chunks never cross a block boundary, so a
// block boundary is always the start of a chunk).
const walBlockSize = 32 << 10

// CorruptWALError is a write-ahead log that is damaged where records follow
// the damage, so the damage is not a torn tail. errors.Is(err, ErrCorrupt)
// holds for it.
type CorruptWALError struct {
	// File is the WAL's path.
	File string
	// Offset is the byte offset of the first record that does not read:
	// where pebble's replay would stop.
	Offset int64
	// ValidAt is the offset where a reader started after Offset found a
	// complete record of this log (-1 when Err is pebble's own refusal).
	ValidAt int64
	// Err is the record reader's error at Offset.
	Err error
}

func (e *CorruptWALError) Error() string {
	if e.ValidAt < 0 {
		return fmt.Sprintf("pebble WAL %s is unreadable from offset %d (%v) and is not the newest WAL: %v", e.File, e.Offset, e.Err, ErrCorrupt)
	}
	return fmt.Sprintf("pebble WAL %s is corrupt at offset %d (%v) but a complete record follows at offset %d, so this is not a torn tail: %v", e.File, e.Offset, e.Err, e.ValidAt, ErrCorrupt)
}

// Unwrap makes errors.Is(err, ErrCorrupt) hold and exposes the reader's error.
func (e *CorruptWALError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }

// walScan is what scanWAL found in one WAL.
type walScan struct {
	// records is the number of complete records before stop.
	records int
	// stop is the offset of the first record that does not read; size
	// when the log reads to its end.
	stop int64
	// stopErr is the reader's error at stop, nil when the log is whole.
	stopErr error
	// validAt is where a complete record after stop was found, -1 if none.
	validAt int64
}

// errForeignChunk is the stop of a log whose reader met a chunk of another
// log number (how the record format ends a recycled WAL, and how it reads
// the EOF trailer) although complete records of this log follow: a damaged
// log-number field, which pebble's replay takes for the end of the log.
var errForeignChunk = errors.New("pebble/record: the log ends early at a chunk of another log number, but records of this log follow")

// scanWAL reads the WAL numbered num (size bytes in f) as pebble's replay
// does and, when the read stops before the end, searches the rest for a
// complete record of the same log.
func scanWAL(f io.ReaderAt, size int64, num pebble.FileNum) (walScan, error) {
	s := walScan{stop: size, validAt: -1}
	rr := record.NewReader(io.NewSectionReader(f, 0, size), num)
	for {
		off := rr.Offset()
		r, err := rr.Next()
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		switch {
		case err == nil:
			s.records++
			continue
		case err == io.EOF:
			// The end of the log, or a flipped log number that reads as
			// the end: only a complete record of this log after it tells.
			if off >= size {
				return s, nil
			}
			validAt, err := findComplete(f, size, off, num)
			if err != nil || validAt < 0 {
				return s, err
			}
			s.stop, s.stopErr, s.validAt = off, errForeignChunk, validAt
			return s, nil
		case record.IsInvalidRecord(err):
			s.stop, s.stopErr = off, err
		default:
			return s, fmt.Errorf("read WAL %06d at offset %d: %w", uint64(num), off, err)
		}
		break
	}
	validAt, err := findComplete(f, size, s.stop, num)
	s.validAt = validAt
	return s, err
}

// findComplete returns the offset of the first complete record of log num
// after stop, or -1. The block of stop is searched at every offset (a chunk
// there may start anywhere), later blocks from their boundary.
func findComplete(f io.ReaderAt, size, stop int64, num pebble.FileNum) (int64, error) {
	tail := make([]byte, size-stop)
	if _, err := f.ReadAt(tail, stop); err != nil && err != io.EOF {
		return -1, fmt.Errorf("read WAL %06d tail at offset %d: %w", uint64(num), stop, err)
	}
	blockEnd := min((stop/walBlockSize+1)*walBlockSize, size)
	var probe recordProbe
	for o := stop + 1; o < blockEnd; o++ {
		if probe.completeRecordAt(tail[o-stop:], num) {
			return o, nil
		}
	}
	for o := blockEnd; o < size; o += walBlockSize {
		if probe.completeRecordAt(tail[o-stop:], num) {
			return o, nil
		}
	}
	return -1, nil
}

// recordProbe starts record readers at chosen offsets. It reuses one reader
// and one byte source (a reader holds a 32 KiB block buffer), so probing
// every offset of a block does not allocate a block per offset.
type recordProbe struct {
	rr  record.Reader
	src bytes.Reader
}

// completeRecordAt reports whether a record reader of log num started at the
// beginning of b reads one complete record. The reader skips the middle and
// last chunks of a record begun before b, and treats another log number as
// the end of the log.
func (p *recordProbe) completeRecordAt(b []byte, num pebble.FileNum) bool {
	p.src.Reset(b)
	p.rr = *record.NewReader(&p.src, num)
	r, err := p.rr.Next()
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, r)
	return err == nil
}

// walNum returns the file number of a WAL path (pebble names them
// NNNNNN.log).
func walNum(name string) (pebble.FileNum, bool) {
	base := filepath.Base(name)
	stem, ok := strings.CutSuffix(base, ".log")
	if !ok || stem == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(stem, 10, 64)
	if err != nil {
		return 0, false
	}
	return pebble.FileNum(n), true
}

// tornTail is a WAL whose replay stops before its end with nothing complete
// after the stop.
type tornTail struct {
	file  string
	stop  int64
	size  int64
	err   error
	valid int // complete records before the stop
}

// walCheckFS is the file system pebble.Open runs on: while checking is on,
// every WAL pebble opens (the ones it replays, oldest first) is scanned
// before pebble reads it. A corrupt one fails pebble's Open with a
// *CorruptWALError; torn tails are collected for the caller to log once Open
// shows which WAL was the last.
type walCheckFS struct {
	vfs.FS

	// checking is on only during pebble.Open: afterwards every Open (of
	// sorted tables) passes straight through.
	checking atomic.Bool
	mu       sync.Mutex
	torn     []tornTail
}

// Open implements vfs.FS.
func (fs *walCheckFS) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.Open(name, opts...)
	if err != nil {
		return f, err
	}
	if !fs.checking.Load() {
		return f, nil
	}
	num, isWAL := walNum(name)
	if !isWAL {
		return f, nil
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat WAL %s: %w", name, err)
	}
	// ReadAt leaves the file position at 0 for pebble's sequential replay.
	s, err := scanWAL(f, st.Size(), num)
	if err != nil {
		f.Close()
		return nil, err
	}
	if s.stopErr == nil {
		return f, nil
	}
	if s.validAt >= 0 {
		f.Close()
		return nil, &CorruptWALError{File: name, Offset: s.stop, ValidAt: s.validAt, Err: s.stopErr}
	}
	fs.mu.Lock()
	fs.torn = append(fs.torn, tornTail{file: name, stop: s.stop, size: st.Size(), err: s.stopErr, valid: s.records})
	fs.mu.Unlock()
	return f, nil
}

// setChecking switches the check on or off and returns the torn tails found
// while it was on.
func (fs *walCheckFS) setChecking(on bool) []tornTail {
	fs.checking.Store(on)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	t := fs.torn
	fs.torn = nil
	return t
}
