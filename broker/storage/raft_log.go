package storage

import (
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Tail cache bounds: the leader reads recent entries again to send them to
// followers, so the tail is served from memory; older entries come from
// pebble.
const (
	cacheMaxEntries = 2048
	cacheMaxBytes   = 8 << 20
)

// RaftLog is the durable raft.Storage of one Raft group. Raft calls its
// read methods from the group's goroutine; Save and Compact are called from
// the same goroutine, so the mutex only guards against status readers.
type RaftLog struct {
	db    *DB
	group uint64

	mu       sync.Mutex
	hs       *pb.HardState
	snap     *pb.SnapshotMetadata // last compaction point: first = snap.Index+1
	last     uint64
	cache    []*pb.Entry // contiguous, ends at last (may be empty)
	cacheLen int
}

// OpenRaftLog loads group's log state. A group never written before has an
// empty log with snapshot index 0 (see Bootstrap).
func OpenRaftLog(db *DB, group uint64) (*RaftLog, error) {
	l := &RaftLog{db: db, group: group, hs: &pb.HardState{}, snap: pb.EnsureSnapshotMetadata(nil)}
	if v, ok, err := db.GetCopy(hardStateKey(group)); err != nil {
		return nil, fmt.Errorf("load hard state of group %d: %w", group, err)
	} else if ok {
		if err := proto.Unmarshal(v, l.hs); err != nil {
			return nil, fmt.Errorf("decode hard state of group %d (key %x): %w", group, hardStateKey(group), err)
		}
	}
	if v, ok, err := db.GetCopy(snapMetaKey(group)); err != nil {
		return nil, fmt.Errorf("load snapshot metadata of group %d: %w", group, err)
	} else if ok {
		m := &pb.SnapshotMetadata{}
		if err := proto.Unmarshal(v, m); err != nil {
			return nil, fmt.Errorf("decode snapshot metadata of group %d (key %x): %w", group, snapMetaKey(group), err)
		}
		l.snap = pb.EnsureSnapshotMetadata(m)
	}
	l.last = l.snap.GetIndex()
	// Find the last entry: entries are contiguous after the snapshot.
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: entryKey(group, 0), UpperBound: append(groupPrefix(group), kindEntry+1)})
	if err != nil {
		return nil, fmt.Errorf("scan log of group %d: %w", group, err)
	}
	if it.Last() {
		if idx := parseEntryIndex(it.Key()); idx > l.last {
			l.last = idx
		}
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("scan log of group %d: %w", group, err)
	}
	if err := l.checkConsistent(); err != nil {
		return nil, err
	}
	return l, nil
}

// IsNew reports whether the group has never been bootstrapped.
func (l *RaftLog) IsNew() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.snap.GetIndex() == 0 && l.last == 0 && raft.IsEmptyHardState(l.hs)
}

// Bootstrap initialises a new group with a snapshot at index 1, term 1 whose
// ConfState lists voters. Every replica does this identically, so no
// configuration-change entry is ever written to the log (the metadata apply
// path would otherwise have to skip them).
func (l *RaftLog) Bootstrap(voters []uint64) error {
	meta := &pb.SnapshotMetadata{Index: new(uint64(1)), Term: new(uint64(1)), ConfState: pb.EnsureConfState(&pb.ConfState{Voters: voters})}
	hs := &pb.HardState{Term: new(uint64(1)), Vote: new(uint64(0)), Commit: new(uint64(1))}
	return l.Save(hs, nil, meta, nil, true)
}

// HardState returns a copy of the persisted hard state.
func (l *RaftLog) HardState() *pb.HardState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return proto.Clone(l.hs).(*pb.HardState)
}

// SetLoadedHardState replaces the in-memory hard state before raft reads it
// (used by the forget-hard-state seeded bug to drop term and vote).
func (l *RaftLog) SetLoadedHardState(hs *pb.HardState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hs = hs
}

// SnapshotMetadata returns the last compaction point.
func (l *RaftLog) SnapshotMetadata() *pb.SnapshotMetadata {
	l.mu.Lock()
	defer l.mu.Unlock()
	return proto.Clone(l.snap).(*pb.SnapshotMetadata)
}

// InitialState implements raft.Storage.
func (l *RaftLog) InitialState() (*pb.HardState, *pb.ConfState, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return proto.Clone(l.hs).(*pb.HardState), proto.Clone(pb.EnsureConfState(l.snap.GetConfState())).(*pb.ConfState), nil
}

// FirstIndex implements raft.Storage.
func (l *RaftLog) FirstIndex() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.snap.GetIndex() + 1, nil
}

// LastIndex implements raft.Storage.
func (l *RaftLog) LastIndex() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last, nil
}

// Term implements raft.Storage.
func (l *RaftLog) Term(i uint64) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i == l.snap.GetIndex() {
		return l.snap.GetTerm(), nil
	}
	if i < l.snap.GetIndex() {
		return 0, raft.ErrCompacted
	}
	if i > l.last {
		return 0, raft.ErrUnavailable
	}
	if e := l.cached(i); e != nil {
		return e.GetTerm(), nil
	}
	e, err := l.load(i)
	if err != nil {
		return 0, err
	}
	return e.GetTerm(), nil
}

// Entries implements raft.Storage.
func (l *RaftLog) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lo <= l.snap.GetIndex() {
		return nil, raft.ErrCompacted
	}
	if hi > l.last+1 {
		return nil, fmt.Errorf("entries [%d, %d) of group %d beyond last index %d: %w", lo, hi, l.group, l.last, raft.ErrUnavailable)
	}
	var out []*pb.Entry
	var size uint64
	add := func(e *pb.Entry) bool {
		s := uint64(proto.Size(e))
		if len(out) > 0 && size+s > maxSize {
			return false
		}
		size += s
		out = append(out, e)
		return true
	}
	i := lo
	// From pebble below the cache.
	if c := l.cacheStart(); c == 0 || lo < c {
		end := hi
		if c != 0 && c < end {
			end = c
		}
		it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: entryKey(l.group, lo), UpperBound: entryKey(l.group, end)})
		if err != nil {
			return nil, fmt.Errorf("read entries of group %d: %w", l.group, err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			e := &pb.Entry{}
			if err := proto.Unmarshal(it.Value(), e); err != nil {
				it.Close()
				return nil, fmt.Errorf("decode entry of group %d at key %x: %w", l.group, it.Key(), err)
			}
			if e.GetIndex() != i {
				it.Close()
				return nil, fmt.Errorf("group %d log hole: want index %d, found %d (key %x)", l.group, i, e.GetIndex(), it.Key())
			}
			if !add(e) {
				it.Close()
				return out, nil
			}
			i++
		}
		if err := it.Close(); err != nil {
			return nil, fmt.Errorf("read entries of group %d: %w", l.group, err)
		}
	}
	for ; i < hi; i++ {
		e := l.cached(i)
		if e == nil {
			return nil, fmt.Errorf("group %d entry %d missing: %w", l.group, i, raft.ErrUnavailable)
		}
		if !add(e) {
			break
		}
	}
	return out, nil
}

func (l *RaftLog) cacheStart() uint64 {
	if len(l.cache) == 0 {
		return 0
	}
	return l.cache[0].GetIndex()
}

func (l *RaftLog) cached(i uint64) *pb.Entry {
	c := l.cacheStart()
	if c == 0 || i < c || i > l.last {
		return nil
	}
	return l.cache[i-c]
}

func (l *RaftLog) load(i uint64) (*pb.Entry, error) {
	v, ok, err := l.db.GetCopy(entryKey(l.group, i))
	if err != nil {
		return nil, fmt.Errorf("read entry %d of group %d: %w", i, l.group, err)
	}
	if !ok {
		return nil, fmt.Errorf("group %d entry %d: %w", l.group, i, raft.ErrUnavailable)
	}
	e := &pb.Entry{}
	if err := proto.Unmarshal(v, e); err != nil {
		return nil, fmt.Errorf("decode entry %d of group %d (key %x): %w", i, l.group, entryKey(l.group, i), err)
	}
	return e, nil
}

// Snapshot implements raft.Storage with metadata only; broker/cluster wraps
// RaftLog to attach the state machine's data.
func (l *RaftLog) Snapshot() (*pb.Snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return &pb.Snapshot{Metadata: proto.Clone(l.snap).(*pb.SnapshotMetadata)}, nil
}

// Save persists one Ready's durable parts in a single synced pebble batch:
// hs (nil or empty: unchanged), the entries (truncating any conflicting
// tail), and a received snapshot's metadata (replacing the whole log).
// extra, when set, adds state machine writes to the same batch, so a
// snapshot's state and the log that points past it land atomically.
//
// sync=false is for Readys whose only change is the commit index (raft's
// MustSync false): commit can be recovered from a quorum, so it need not
// be fsynced before messages go out.
func (l *RaftLog) Save(hs *pb.HardState, ents []*pb.Entry, snap *pb.SnapshotMetadata, extra func(*pebble.Batch) error, sync bool) error {
	b := l.db.NewBatch()
	defer b.Close()
	l.mu.Lock()
	last := l.last
	l.mu.Unlock()
	if snap != nil && snap.GetIndex() > 0 {
		// A snapshot replaces the whole log.
		if err := b.DeleteRange(entryKey(l.group, 0), append(groupPrefix(l.group), kindEntry+1), nil); err != nil {
			return err
		}
		v, err := proto.Marshal(snap)
		if err != nil {
			return fmt.Errorf("encode snapshot metadata: %w", err)
		}
		if err := b.Set(snapMetaKey(l.group), v, nil); err != nil {
			return err
		}
		last = snap.GetIndex()
	}
	if len(ents) > 0 {
		first := ents[0].GetIndex()
		if first <= last {
			// Raft replaces a conflicting uncommitted tail.
			if err := b.DeleteRange(entryKey(l.group, first), entryKey(l.group, last+1), nil); err != nil {
				return err
			}
		}
		for _, e := range ents {
			if err := setEntry(b, entryKey(l.group, e.GetIndex()), e); err != nil {
				return err
			}
		}
	}
	if hs != nil && !raft.IsEmptyHardState(hs) {
		v, err := proto.Marshal(hs)
		if err != nil {
			return fmt.Errorf("encode hard state: %w", err)
		}
		if err := b.Set(hardStateKey(l.group), v, nil); err != nil {
			return err
		}
	}
	if extra != nil {
		if err := extra(b); err != nil {
			return err
		}
	}
	if b.Empty() {
		return nil
	}
	opts := pebble.Sync
	if !sync {
		opts = pebble.NoSync
	}
	if err := b.Commit(opts); err != nil {
		return fmt.Errorf("commit raft state of group %d: %w", l.group, err)
	}
	// Only now that the write is durable does the in-memory view change.
	l.mu.Lock()
	defer l.mu.Unlock()
	if snap != nil && snap.GetIndex() > 0 {
		l.snap = proto.Clone(snap).(*pb.SnapshotMetadata)
		l.last = snap.GetIndex()
		l.cache, l.cacheLen = nil, 0
	}
	if len(ents) > 0 {
		first := ents[0].GetIndex()
		if c := l.cacheStart(); c != 0 && first <= l.last {
			if first <= c {
				l.cache, l.cacheLen = nil, 0
			} else {
				l.cache = l.cache[: first-c : first-c]
				l.cacheLen = 0
				for _, e := range l.cache {
					l.cacheLen += len(e.GetData())
				}
			}
		}
		if c := l.cacheStart(); c != 0 && c+uint64(len(l.cache)) != first {
			l.cache, l.cacheLen = nil, 0
		}
		for _, e := range ents {
			l.cache = append(l.cache, e)
			l.cacheLen += len(e.GetData())
		}
		l.last = ents[len(ents)-1].GetIndex()
		l.trimCache()
	}
	if hs != nil && !raft.IsEmptyHardState(hs) {
		l.hs = proto.Clone(hs).(*pb.HardState)
	}
	return nil
}

// setEntry stages e at key, encoded straight into the batch: a produce
// entry carries a whole record batch, and encoding it into a buffer of its
// own first meant one more copy of it per entry.
func setEntry(b *pebble.Batch, key []byte, e *pb.Entry) error {
	n := proto.Size(e)
	op := b.SetDeferred(len(key), n)
	copy(op.Key, key)
	v, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(op.Value[:0], e)
	if err != nil {
		return fmt.Errorf("encode entry %d: %w", e.GetIndex(), err)
	}
	if len(v) != n {
		return fmt.Errorf("encode entry %d: %d bytes, sized %d", e.GetIndex(), len(v), n)
	}
	return op.Finish()
}

func (l *RaftLog) trimCache() {
	n := 0
	for len(l.cache)-n > cacheMaxEntries || (l.cacheLen > cacheMaxBytes && len(l.cache)-n > 1) {
		l.cacheLen -= len(l.cache[n].GetData())
		n++
	}
	if n > 0 {
		l.cache = append([]*pb.Entry(nil), l.cache[n:]...)
	}
}

// Compact discards entries up to and including index, recording index as
// the new compaction point. The caller must have durably applied index
// (state machine data synced) first.
func (l *RaftLog) Compact(index uint64, cs *pb.ConfState) error {
	l.mu.Lock()
	snapIdx, last := l.snap.GetIndex(), l.last
	l.mu.Unlock()
	if index <= snapIdx {
		return nil
	}
	if index > last {
		return fmt.Errorf("compact group %d to %d beyond last index %d", l.group, index, last)
	}
	term, err := l.Term(index)
	if err != nil {
		return fmt.Errorf("compact group %d: %w", l.group, err)
	}
	meta := &pb.SnapshotMetadata{Index: new(index), Term: new(term), ConfState: proto.Clone(pb.EnsureConfState(cs)).(*pb.ConfState)}
	v, err := proto.Marshal(meta)
	if err != nil {
		return fmt.Errorf("encode snapshot metadata: %w", err)
	}
	b := l.db.NewBatch()
	defer b.Close()
	if err := b.Set(snapMetaKey(l.group), v, nil); err != nil {
		return err
	}
	if err := b.DeleteRange(entryKey(l.group, 0), entryKey(l.group, index+1), nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("compact group %d: %w", l.group, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.snap = meta
	if c := l.cacheStart(); c != 0 && c <= index {
		if index >= l.last {
			l.cache, l.cacheLen = nil, 0
		} else {
			l.cache = append([]*pb.Entry(nil), l.cache[index+1-c:]...)
			l.cacheLen = 0
			for _, e := range l.cache {
				l.cacheLen += len(e.GetData())
			}
		}
	}
	return nil
}
