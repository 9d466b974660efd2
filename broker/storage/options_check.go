package storage

// This file refuses a damaged OPTIONS file as corruption.
//
// Pebble writes OPTIONS-NNNNNN at every open through a temporary file, an
// fsync, a rename and a directory sync, so no crash or power loss leaves a
// torn one: a newest OPTIONS that pebble cannot accept was damaged on the
// disk (or belongs to a store written with another comparer or merger,
// which must not be opened either). Pebble's Open fails on it with a plain
// error (a comparer name that does not match, a line that does not parse:
// the node exited 1, seen in a chaos run), so Open checks the file first,
// with pebble's own check, and refuses it as corrupt naming the file.
//
// Why refuse rather than repair, although OPTIONS holds no data and pebble
// writes a new one at every open: the check it fails is the one that
// keeps a store from being read with the wrong key order, and a flip
// cannot be told from a real mismatch; Kafka likewise refuses to start on
// a log directory whose meta.properties does not read. A flip in a value
// pebble does not check is not seen (the file has no checksum) and is
// harmless: pebble replaces the file with its own options at the open.
// A removed OPTIONS is not refused: pebble opens without one.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble"
)

// checkOptionsFile refuses the store in dir when its newest OPTIONS file
// (the one pebble validates) fails pebble's check against opts.
func checkOptionsFile(dir string, opts *pebble.Options) error {
	names, err := filepath.Glob(filepath.Join(dir, "OPTIONS-*"))
	if err != nil {
		return fmt.Errorf("list OPTIONS files of %s: %w", dir, err)
	}
	newest, newestNum := "", uint64(0)
	for _, n := range names {
		stem := strings.TrimPrefix(filepath.Base(n), "OPTIONS-")
		num, err := strconv.ParseUint(stem, 10, 64)
		if err != nil || num < newestNum {
			continue
		}
		newest, newestNum = n, num
	}
	if newest == "" {
		return nil
	}
	b, err := os.ReadFile(newest)
	if err != nil {
		return fmt.Errorf("read %s: %w", newest, err)
	}
	if err := opts.EnsureDefaults().Check(string(b)); err != nil {
		return &CorruptFileError{File: newest, Offset: -1, Err: fmt.Errorf("pebble does not accept the OPTIONS file: %w", err)}
	}
	return nil
}
