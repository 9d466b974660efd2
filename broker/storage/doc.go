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
  - The sync ledger (sync_ledger.go, the file chronik-sync-ledger) records
    what pebble fsynced: each manifest's length at its last fsync and the
    WALs that completed an fsync and that pebble has not removed. Open
    refuses, with a *CorruptFileError naming the file, a manifest that
    does not read record by record up to its synced length (pebble would
    take a damaged record for a torn tail and drop the flushes and
    compactions after it) and a listed WAL that is missing (pebble would
    open an earlier store: amnesia). A manifest tail after its last fsync
    is what a crash leaves, and is left to pebble. A missing ledger is
    recreated with a WARN (the store opens unchecked that once); one
    damaged slot of it (a torn write) is read from the other with a WARN;
    both damaged is refused.
  - A newest OPTIONS file pebble does not accept (options_check.go) is
    refused with a *CorruptFileError: pebble writes it atomically, so no
    crash leaves a damaged one.
  - Truncation of the newest WAL at a record boundary leaves an earlier
    store that reads cleanly and is consistent: no check here can see it
    (TestWALDamageAtOpen documents what then opens).

# Fault injection (faultfs.go, faultfs_reset.go, skip_sync.go)

OpenWith with Options.FaultFS runs pebble on FaultFS, a vfs.FS over the
real disk that writes through at once and records, per file, the size at
its last completed sync and the bytes each later write overwrote, and, per
directory, the creates, renames and removes its last sync did not cover.
FaultFS.PowerLoss halts it and rewrites the disk to that synced state
(optionally tearing writes, from a seed) and reports what it dropped;
FaultFS.Halt alone freezes it, as a crash does. Why on the real disk and
not pebble's vfs.NewStrictMem with ResetToSyncedState, which has the same
semantics: what survives must be on the disk the next process opens (the
chaos harness restarts a container). faultfs.go's comment gives the model
operation by operation, including pebble's WAL recycling and directory
syncs. The undo area DIR/faultfs-undo, hidden from pebble, holds removed
files until their directory is synced; it is empty after a power loss and
deleted when the next FaultFS starts.

Options.SkipWALSync is the seeded no-fsync bug: WAL fsyncs return at once.

Nothing of the node's durable state is written outside pebble: the data
directory holds pebble's files, the sync ledger (which holds no data, only
what Open checks pebble's files against) and, with a FaultFS,
faultfs-undo.

# Why pebble

BenchmarkAppend (storage_bench_test.go) appends Raft entries with fsync
from several concurrent groups into pebble and into bbolt. Pebble's commit
pipeline merges concurrent synced commits into one WAL write and fsync,
while bbolt serialises writers and syncs every transaction, so pebble's
throughput grows with the number of groups and bbolt's stays at the fsync
rate. The measured figures are in the benchmark file's comment.
*/
package storage
