package nemesis

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
)

// StoredFile is one regular file of a node's data directory, as
// CorruptStore lists it: Name relative to the data directory.
type StoredFile struct {
	Name string
	Size int64
}

// Corruption plan bounds.
const (
	// maxFlips is the most bytes one flip-bits damages (each one bit).
	maxFlips = 4
	// maxTruncate is the most bytes truncate-wal cuts off the tail: a cut
	// inside the last records, where a write torn by a crash would end.
	maxTruncate = 4 << 10
)

// ErrNothingToCorrupt: the data directory holds no file to damage.
var ErrNothingToCorrupt = errors.New("nemesis: no stored file to corrupt")

// PlanCorruption chooses, from c.Seed alone, what CorruptStore does to
// files: the file, and for flip-bits the offsets and bits (Offsets and
// Masks), for truncate-wal the new size (SizeAfter). truncate-wal cuts
// the newest pebble WAL (the highest-numbered *.log); without one it
// flips bits in a random file instead and says so in Note. Empty files
// and pebble's LOCK (which holds no data) are never chosen.
func PlanCorruption(c Corruption, files []StoredFile) (Corrupted, error) {
	rng := rand.New(rand.NewPCG(c.Seed, 0x636f7272))
	var pool, wals []StoredFile
	for _, f := range files {
		if f.Size == 0 || path.Base(f.Name) == "LOCK" {
			continue
		}
		pool = append(pool, f)
		if strings.HasSuffix(f.Name, ".log") {
			wals = append(wals, f)
		}
	}
	if len(pool) == 0 {
		return Corrupted{}, ErrNothingToCorrupt
	}
	slices.SortFunc(pool, func(a, b StoredFile) int { return cmp.Compare(a.Name, b.Name) })
	out := Corrupted{Kind: c.Kind}
	kind := c.Kind
	if kind == CorruptTruncateWAL && len(wals) == 0 {
		kind, out.Note = CorruptFlip, "no WAL with data to truncate: bits flipped instead"
	}
	switch kind {
	case CorruptTruncateWAL:
		// Pebble numbers files in creation order with zero-padded names,
		// so the greatest name is the newest WAL.
		f := slices.MaxFunc(wals, func(a, b StoredFile) int { return cmp.Compare(a.Name, b.Name) })
		cut := 1 + rng.Int64N(min(f.Size, maxTruncate))
		out.File, out.SizeBefore, out.SizeAfter = f.Name, f.Size, f.Size-cut
	case CorruptFlip, CorruptRemove:
		f := pool[rng.IntN(len(pool))]
		out.File, out.SizeBefore, out.SizeAfter = f.Name, f.Size, f.Size
		if kind == CorruptRemove {
			out.SizeAfter = -1
			break
		}
		n := 1 + rng.IntN(maxFlips)
		for range n {
			off := rng.Int64N(f.Size)
			if slices.Contains(out.Offsets, off) {
				continue
			}
			out.Offsets = append(out.Offsets, off)
			out.Masks = append(out.Masks, 1<<rng.IntN(8))
		}
	default:
		return Corrupted{}, fmt.Errorf("unknown corruption %q (want any of %v)", c.Kind, CorruptKinds)
	}
	return out, nil
}

// Apply returns data damaged as planned (flips and truncation; a removal
// is the caller's). data is modified in place.
func (p Corrupted) Apply(data []byte) ([]byte, error) {
	if int64(len(data)) != p.SizeBefore {
		return nil, fmt.Errorf("corrupt %s: file is %d bytes, the plan was made for %d", p.File, len(data), p.SizeBefore)
	}
	for i, off := range p.Offsets {
		data[off] ^= byte(p.Masks[i])
	}
	if p.SizeAfter >= 0 && p.SizeAfter < int64(len(data)) {
		data = data[:p.SizeAfter]
	}
	return data, nil
}
