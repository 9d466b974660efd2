package storage

import "fmt"

// CorruptFileError is a stored file other than a WAL's damaged record (a
// *CorruptWALError) that the store cannot be trusted with: a manifest that
// does not read up to the length pebble synced, a WAL that received synced
// writes and is gone, an OPTIONS file pebble cannot accept, a damaged sync
// ledger (sync_ledger.go). errors.Is(err, ErrCorrupt) holds for it.
type CorruptFileError struct {
	// File is the damaged or missing file's path.
	File string
	// Offset is where in File the damage starts, -1 when it is the file
	// as a whole (missing, or unreadable as a whole).
	Offset int64
	// Err says what is wrong.
	Err error
}

func (e *CorruptFileError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("%s: %v: %v", e.File, e.Err, ErrCorrupt)
	}
	return fmt.Sprintf("%s at offset %d: %v: %v", e.File, e.Offset, e.Err, ErrCorrupt)
}

// Unwrap makes errors.Is(err, ErrCorrupt) hold and exposes the cause.
func (e *CorruptFileError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }
