package storage

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// ErrCorrupt marks stored data that fails validation at open or load: a
// damaged WAL (CorruptWALError), a Raft log that contradicts its hard state,
// a stored batch whose CRC does not match. The broker refuses to start on it
// rather than serve what is left.
var ErrCorrupt = errors.New("storage: corrupt data")

// checkConsistent refuses a log that cannot be what this node wrote: the
// hard state, the compaction point and the entries are persisted together in
// one batch per Ready, in WAL order, so any crash leaves them consistent,
// and a contradiction means the store lost or damaged writes it had made
// durable (a WAL removed from the middle, a sorted table lost). raft would
// panic on some of these (a commit index beyond the log); others it would
// serve silently (a hole in the log, a log term above the persisted term,
// which lets this node vote again in a term it already voted in).
func (l *RaftLog) checkConsistent() error {
	snap, hs, last := l.snap.GetIndex(), l.hs, l.last
	bad := func(format string, args ...any) error {
		return fmt.Errorf("raft log of group %d: %s: %w", l.group, fmt.Sprintf(format, args...), ErrCorrupt)
	}
	if raft.IsEmptyHardState(hs) {
		if snap > 0 || last > 0 {
			return bad("no hard state, but a log (compaction point %d, last index %d)", snap, last)
		}
		return nil
	}
	if c := hs.GetCommit(); c < snap || c > last {
		return bad("commit index %d outside the log [%d, %d] (compaction point, last index)", c, snap, last)
	}
	if last == snap {
		if t := l.snap.GetTerm(); t > hs.GetTerm() {
			return bad("compaction point term %d above the hard state's term %d", t, hs.GetTerm())
		}
		return nil
	}
	// Entries are contiguous from snap+1 to last: count the keys in that
	// range (values are not decoded, so this costs one key scan).
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: entryKey(l.group, 0), UpperBound: append(groupPrefix(l.group), kindEntry+1)})
	if err != nil {
		return fmt.Errorf("scan log of group %d: %w", l.group, err)
	}
	want := snap + 1
	for ok := it.First(); ok; ok = it.Next() {
		if idx := parseEntryIndex(it.Key()); idx != want {
			it.Close()
			return bad("log hole: entry %d missing, next stored entry is %d (compaction point %d, last index %d)", want, idx, snap, last)
		}
		want++
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("scan log of group %d: %w", l.group, err)
	}
	v, ok, err := l.db.GetCopy(entryKey(l.group, last))
	if err != nil || !ok {
		return fmt.Errorf("read last entry %d of group %d: %v", last, l.group, err)
	}
	e := &pb.Entry{}
	if err := proto.Unmarshal(v, e); err != nil {
		return bad("last entry %d does not decode: %v", last, err)
	}
	if e.GetIndex() != last {
		return bad("entry key %d holds entry %d", last, e.GetIndex())
	}
	if e.GetTerm() > hs.GetTerm() {
		return bad("last entry %d has term %d, above the hard state's term %d", last, e.GetTerm(), hs.GetTerm())
	}
	return nil
}
