/*
Package storage is the node's durable store: one pebble database per node
(github.com/cockroachdb/pebble) shared by every Raft group, and RaftLog, a
raft.Storage of one group on top of it.

# Layout

Every key starts with the group id, so a group's log, hard state, snapshot
metadata and state machine data form one contiguous range (see keys.go):
removing a topic is one DeleteRange, and scanning a log is one iterator.

# Caller contract

RaftLog's read methods are called by raft on the group's goroutine; Save
and Compact are called by the same goroutine. Save writes a Ready's hard
state, entries (truncating a conflicting tail) and received snapshot
metadata in one synced batch, plus any state machine writes the caller adds
to it, and only then updates the in-memory view (last index, tail cache).
Compact may only be called with an index the state machine has applied.

# Invariants

  - Entries are contiguous from SnapshotMetadata().Index+1 to LastIndex.
  - A group never written reports IsNew; Bootstrap gives it a snapshot at
    index 1, term 1 listing the voters, so no conf-change entry is needed.
  - The tail cache mirrors the newest entries (bounded by count and bytes);
    older entries are read from pebble.

# Damage at open

Open refuses a store it cannot trust rather than serve what is left of it;
every refusal satisfies errors.Is(err, ErrCorrupt), and the broker exits on
it (chronik-server's exit code 3).

  - Every WAL pebble replays is read first with pebble's record reader
    (wal_check.go, which says why pebble's own replay is not enough). A
    record that does not read with a complete record of the same log after
    it is corruption: refused with a *CorruptWALError naming the file and
    the offset. Nothing complete after it is a torn tail (a crash in the
    middle of the last write): pebble's replay cuts it, and Open logs
    "cut the torn tail of the newest pebble WAL" at WARN with file, offset,
    bytes_cut, records_kept and reason. Pebble itself refuses an unreadable
    older WAL; Open reports that too as a *CorruptWALError.
  - OpenRaftLog refuses a log that contradicts its hard state: no hard
    state but a log, a commit index outside [compaction point, last
    index], a hole in the entries, a last entry's term above the hard
    state's term. The error names the group and the numbers.
  - Truncation of the newest WAL at a record boundary, or its removal,
    leaves an earlier store that reads cleanly and is consistent: no check
    here can see it (TestWALDamageAtOpen documents what then opens).

# Why pebble

BenchmarkAppend (storage_bench_test.go) appends Raft entries with fsync
from several concurrent groups into pebble and into bbolt. Pebble's commit
pipeline merges concurrent synced commits into one WAL write and fsync,
while bbolt serialises writers and syncs every transaction, so pebble's
throughput grows with the number of groups and bbolt's stays at the fsync
rate. The measured figures are in the benchmark file's comment.
*/
package storage
