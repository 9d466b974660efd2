/*
Package cluster is the replicated core of chronik-server: a multi-Raft node
built on go.etcd.io/raft/v3 (RawNode), with one Raft group for the cluster
metadata (__meta, group id 1) and one group per topic-partition, all stored
in one pebble database per node and carried over one peer connection per
node pair. *Node implements broker/kafka's Backend; the Kafka layer calls it
only through that interface and the types of api.go.

# Usage

	n, err := cluster.New(cfg)      // opens the store, loads every group
	err = n.Start(ctx)              // listener first, then groups tick
	defer n.Stop()
	select { case err := <-n.Fatal(): ... }  // storage failure or seeded bug

Standalone mode is the same code path with a single voter.

# Words

In this package a "group" is a Raft group (type raftGroup): __meta or one
topic-partition, each with its own log, state machine and goroutine. Kafka
consumer groups exist here only as committed offsets in the __meta state
machine and are always called consumer groups (backend_offsets.go). The
"cluster" of this package's name is the set of nodes replicating one
another; the harness's docker.Cluster and nemesis.Cluster are other things
(the containers a test deploys, and the faults' view of them).

# Files

  - node.go: Node, New/Start/Stop, peer message dispatch, group creation
    and removal (reconcileGroups).

  - raft_group.go: one Raft group's lifecycle and event loop; ready.go:
    the Ready steps below; propose.go: proposals and their waiters;
    read_only.go: ReadIndex reads (read_stuck.go: why a reader gave up);
    raft_storage.go: the raft.Storage
    adapter that serves snapshots from the live state machine.

  - meta_sm.go, partition_sm.go: the two state machines.

  - backend_topics.go, backend_partitions.go, backend_offsets.go: the
    Backend methods broker/kafka calls; node_status.go: readiness and
    /status.

  - leadership.go, registration.go, unsafe_spec.go, snapshot_stale.go:
    preferred leaders, broker registration, the seeded bugs' speculative
    view and stale partition snapshots.

  - metrics.go: /metrics, including the counters a chaos run reads to
    say what it exercised (snapshots sent and applied, compactions,
    refused duplicates, rejected produces, follower reads, commits).

  - crashpoints.go, powerloss.go: the crash points and the power loss of
    the chaos harness's crash and power-loss faults (below).

  - raft_events.go: the Raft events (state loaded at start, a new term or
    vote persisted, an election won) logged at info level with attributes
    of their own, which the harness's raft-safety checker reads.

  - Membership (below): membership.go (the records in __meta),
    confchange.go (a group's ConfState and the apply path of
    configuration changes), member_reconcile.go (the reconciler that
    drives every group toward the records), members_api.go and
    members_node.go (the operations the admin and Kafka APIs call, the
    node's side of the records), removed_node.go (refusing removed
    members, and refusing itself once removed).

  - The RecordBatch header layout shared with broker/kafka is
    broker/recordbatch.

# Groups and bootstrap

Every group is bootstrapped from a snapshot at index 1, term 1, that
every replica writes alike on first creation: __meta's ConfState lists the
--peers ids plus this node; a partition group's lists the configuration
__meta recorded when its topic was created (the member voters, with
joining members as learners; topics created before membership was
recorded use the bootstrap voters). All replicas thus start identical;
every later change of a group's configuration is a configuration-change
entry of its own log (see Membership). A node started with Config.Join
never bootstraps __meta: it starts with an empty configuration and waits
for the leader's snapshot.

Partition groups are created when a topic's creation applies in __meta: on
every node, for every topic of the command, with group ids assigned from a
counter at apply time (deterministic on every replica). The __meta apply
hook creates the groups before the proposer is answered, so CreateTopics
returns only once the local groups exist. Messages for a group that does
not exist yet on the receiver are buffered (bounded) and delivered when the
group is created.

# The Ready loop

Each group runs one goroutine that drives its RawNode. The RawNode is
guarded by a mutex that is held only to call into raft, NOT during the
fsync or the apply: proposers keep proposing while a Ready is being
persisted (raft allows Propose and Step between Ready and Advance), so the
next Ready carries every proposal that arrived meanwhile. After every tick,
inbound message batch or proposal wake-up, the goroutine drains Ready in
this order:

 1. Send the leader's MsgApp and MsgHeartbeat messages. A leader may
    replicate before its own write (Raft thesis 10.2.1): raft counts the
    leader toward the commit quorum only after Advance, which follows the
    fsync, so nothing is acknowledged early and the leader's and the
    followers' disk writes overlap.
 2. Persist HardState, Entries and a received Snapshot in ONE pebble batch,
    fsynced unless raft says MustSync is false (only the commit index
    changed, which a quorum can always recover). This MUST happen BEFORE
    sending the remaining Messages: a vote or an append acknowledgement
    promises the receiver that the state is durable; sending first would
    let a crash break the promise (two votes in one term, or an
    acknowledged entry lost from a quorum). A snapshot's state machine data
    is written in the same batch, so the log never points past state that
    is not on disk. Pebble coalesces concurrent synced commits of all
    groups into one WAL fsync (group commit), which is why one goroutine
    per group does not multiply fsyncs. Then send the other messages
    (non-blocking; the transport drops on overload and raft retransmits). A
    MsgSnap is reported as finished at once: the transport is
    fire-and-forget, and a lost snapshot shows up as a rejected append that
    triggers a new one.
 3. Apply CommittedEntries to the state machine in one pebble batch that
    also records the applied index, so a restart resumes exactly after the
    last applied entry. This batch is not fsynced: the entries are durable
    in the log and are re-applied after a crash. Log compaction syncs
    first (a synced pebble commit syncs every earlier write).
 4. Hand ReadStates to waiting readers, then Advance.

Proposals carry a unique 64-bit id (node id, random boot value, counter);
the proposer waits on a channel keyed by that id, fulfilled when the entry
applies on the proposer's node. When the proposer's node loses leadership,
its pending proposals fail with ErrTimeout: their outcome is unknown, they
may still commit.

# Reads

Fetch, ListOffsets and FetchOffsets are linearizable (read_only.go):
readers queue, one ReadIndex round (ReadOnlySafe: the leader confirms
leadership with a heartbeat quorum) serves every reader waiting at that
moment, and each reader proceeds once the local state machine applied the
read index.
Followers serve reads the same way (raft forwards ReadIndex to the leader).
CheckQuorum and PreVote are on, so a leader cut off from the majority steps
down and can neither commit nor confirm a read; its readers get
ErrNotLeader after a bounded wait instead of a stale high watermark.
A reader that gives up logs (WARN "linearizable read gave up", at most
every 5 s per group) where it stopped: no leader known, the round
unanswered, or the read index not yet applied here, or the group not
ticking at all.

# State machines

__meta holds brokers, topics (with partition group ids), consumer-group
offsets, the producer-id counter and the transaction coordinator's state
as one JSON document, rewritten with
each applied batch (fine for the project's scale). A partition stores
record batches keyed by base offset; offsets are assigned at apply time
(rewriting the batch's baseOffset and partitionLeaderEpoch, neither covered
by the CRC), and idempotent-producer state (epoch, last 5 batches'
sequence ranges and offsets) is checked at apply time so every replica
decides duplicates alike. The high watermark is the applied next offset.
Stored batches are validated (CRC, offsets contiguous, the state's next
offset where the batches end) when a partition loads; corrupt data is
refused with an error naming the store, key and offset (storage.ErrCorrupt).

# Consistency at start

Before a group's RawNode exists, its store must be one this node could
have written: storage.Open checks the WALs, storage.OpenRaftLog the log
against the hard state, and newRaftGroup the state machine's applied index
against both (applied <= commit, applied >= the compaction point; raft
would panic on the first). Any contradiction means the disk lost or damaged
writes that were durable, and a node that started anyway could come back
with an older hard state and a shorter log than it acknowledged, vote again
in a term, or serve a prefix of a partition as if it were all of it. New
fails with storage.ErrCorrupt instead.

# Transactions

Kafka transactions (KIP-98) with the partition verification of KIP-890
part 1, for clients of Kafka 3.x (the producer keeps its epoch across
transactions; KIP-890 part 2 is not offered). Files: txn_sm.go (state),
txn_backend.go (requests), txn_coordinator.go (markers, timeouts),
txn_partition.go (the partition side).

Coordinator state lives in __meta, not in a Raft group of its own: the
transaction coordinator is the __meta leader, as the group coordinator
is, and one txnMeta per transactional id (producer id, epoch, state,
serial, partitions, groups, pending offsets) is replicated with the rest of
__meta. The reasons: a commit decision and the consumer-group offsets it
makes visible (TxnOffsetCommit) are then ONE Raft entry, where Kafka needs
a marker to its __consumer_offsets partition; producer ids already come
from the __meta counter; and every node has the state, so any node can
become coordinator and verify batches locally. The cost is that every
transaction step is a __meta entry and the __meta JSON is rewritten with
each applied batch, acceptable at this project's scale (a dedicated group
would only pay off with many transactional ids).

States, as Kafka names them: Empty -> Ongoing (the first
AddPartitionsToTxn or AddOffsetsToTxn; the serial grows by one) ->
PrepareCommit or PrepareAbort (EndTxn; a commit moves the pending offsets
into the group's offsets in the same entry) -> CompleteCommit or
CompleteAbort (every marker written). InitProducerId bumps the epoch;
with a transaction Ongoing it first fences it: epoch+1 and PrepareAbort,
so the abort markers carry the new epoch and every batch the old instance
still has in flight is refused (INVALID_PRODUCER_EPOCH) wherever they land.
A transaction Ongoing past its timeout is fenced the same way by the
coordinator (txnCoordinator.sweep, every 100 ms on the __meta leader),
keeping the old epoch as LastEpoch so that producer may re-initialise with
it (KIP-588). Every apply reads the proposer's clock from the command, so
replicas agree.

Markers: for a prepared transaction the coordinator proposes a marker
command ('M', with producer id, epoch, serial and the Kafka control batch)
to each partition's Raft group from its own node (raft forwards it to the
partition's leader), retries each until it applied here, then proposes
Complete. EndTxn answers once every marker applied, so a success means the
records are readable (or dropped) on every replica; past 5 s it answers
CONCURRENT_TRANSACTIONS and the client retries. The Complete entry is off
the client's path: the id's next command (the next transaction's first
AddPartitionsToTxn, typically) carries it when this node saw the markers
applied (txnCommand.Completes), a fact that stays true whoever leads. Everything the coordinator
does follows from __meta, so after a failover the new __meta leader finds
the Prepare* states and finishes them; markers are idempotent by serial
(a partition ignores one for a transaction that already ended there), so
two coordinators writing the same ones do no harm.

Verification (KIP-890 part 1): a transactional batch is proposed ('T')
only if this node's __meta replica, after a linearizable read, shows the
producer's transactional id Ongoing at exactly the batch's epoch with the
partition added; the transaction's serial goes into the command. At apply
the partition refuses it (INVALID_TXN_STATE) if a marker for that serial or
a later one is already there: a batch verified in time but appended late
can neither open a transaction nobody will end (a hanging transaction that
would hold the last stable offset forever) nor join the producer's next
one. Kafka guards the same window with a leader-local verification guard;
here the check is in the replicated state, so every replica decides it.

Partition side: each producer's state holds its open transaction (serial,
first offset) and the serial of the last one a marker ended. The last
stable offset is the smallest first offset of an open transaction, else
the high watermark; read_committed Fetch and ListOffsets stop there, and
Fetch adds the aborted transactions (producer id, first offset, marker
offset) overlapping what it returns. That index is derived, not stored: it
is rebuilt on load and on snapshot restore by replaying the stored batches
(transactional batches open a range, an abort marker closes it into the
index), and the open transactions come from the stored producer state.

# Snapshots and compaction

After Config.SnapshotEntries applied entries beyond the last compaction
point plus Config.SnapshotCatchUpEntries, a group compacts its log up to
SnapshotCatchUpEntries below the applied index (CLI --snapshot-entries,
default 10,000, and --snapshot-catchup-entries, default 0: up to the
applied index). A follower whose next entry was compacted away is sent a
snapshot; one lagging by less catches up from the log. raft's
Storage.Snapshot is built from the live state machine at its applied
index, under the state machine's read lock, so state and index agree even
while an apply batch runs. A partition snapshot is its producer state plus
all its batches: fine at test scale, too big for production logs (those
would ship segment files). Chaos runs set both thresholds low so that
restarted and partitioned nodes really catch up by snapshot; /metrics
counts compactions and snapshots sent and applied.

# Leadership

Partition p prefers the (p mod n)-th voter in id order, and since the
preference is a fixed function of the partition transfers converge instead
of looping. A leader transfers leadership to the preferred replica once it
is active and caught up, at most once per five election timeouts: at once
when it never went away (startup placement), and, like Kafka's auto leader
rebalance, only through the node's balancer when it was away and came
back: checked every Config.LeaderImbalanceCheckInterval, once it has been
back a whole interval, while more than Config.LeaderImbalancePercentage
percent of its partitions are led elsewhere, one partition at a time
(leadership.go). A new partition's
preferred replica (and any single-voter group) campaigns as soon as its
group starts instead of waiting an election timeout, and CreateTopics waits
briefly for leaders, so Metadata right after creation names them.

# Registration and readiness

After Start a node proposes its registration (id, host, port) to __meta
until it applies, with exponential backoff capped at 2 s and one log line
per attempt; it never gives up (unless the seeded registration bug is on,
then it reports on Fatal). Ready is registered, a known __meta leader, and
chronik-default created (the __meta leader creates it once it leads). The leader epoch reported
to clients is the Raft term, never lower than one reported before.

# Membership

__meta records the members with their state (joining, voter, leaving,
removed), their addresses, and for a replacement the voter it replaces.
The __meta leader validates a request (AddMember, RemoveMember: unknown
id, id in use or used before — ids are never reused —, another change in
progress, a new voter set without an active majority) and proposes it;
the record is re-validated when it applies. Every Raft group then follows
the records through its own log, driven by whichever node leads it (the
reconciler of member_reconcile.go, one change at a time, restartable
anywhere because it only compares records and configurations):

  - a new member is added to every group as a learner (etcd raft's
    ConfChangeV2; it receives a snapshot, then the log, and counts in no
    quorum), and promoted in a group once caught up there: the leader sees
    it in state Replicate, heard from within the last election timeout,
    with its match index within 128 entries of the leader's last index;
  - voter changes use joint consensus (ConfChangeTransitionJointImplicit:
    raft enters C_old,new and the leader leaves it automatically once the
    entry applies; the reconciler proposes the leave itself if that did
    not happen within three election timeouts); a replacement promotes the
    new member and removes the old one in one joint change;
  - a leader that is leaving transfers leadership first (to the most
    caught-up remaining voter); a removal whose new voter set has no
    active majority waits;
  - __meta is last both ways: it promotes a member only once every
    partition group has it as a voter, removes one only once no partition
    group has it, and then records the final state (voter, removed).

Configuration changes apply in every group's apply path: the resulting
ConfState is written in the apply batch with the applied index (raft
restarts from the ConfState as of Config.Applied and re-applies nothing
below it) and travels in snapshots. Each change carries the membership
version it was made for, so a leader whose __meta view is older waits
instead of undoing it.

A removed member stops serving and says so: once its __meta applies its
removal, or a peer tells it (every node sends removed members a notice
on the control channel, and answers their messages with one), it
persists a mark, logs an ERROR line, stops its Raft groups, reports
member_state "removed" and Ready false, and answers Kafka requests with
ErrRemoved (NOT_LEADER_OR_FOLLOWER / NOT_COORDINATOR). Every node drops
the messages of removed members, so a removed node that comes back with
old data, whose stale configurations may still count it, reaches nobody.

# Seeded bugs

Config.Unsafe switches on deliberate, realistic mistakes (ack before
commit, stale reads, uncommitted reads, no dedup, registration give-up,
forgotten hard state, a replacement applied in one step without joint
consensus, a learner promoted before it caught up, partition snapshots
holding the state of the last compaction under a later index; and for transactions:
the last stable offset taken to be the high watermark, EndTxn answered
once the markers are merely proposed and the transaction completed
without confirming them, batches appended without verification; and for
durability: no fsync, apply before save) with which the chaos harness
shows it catches what
it should (the README's "Detection power"; the CLI's --unsafe-* flags). All
are off by default, logged loudly at start, and listed in Status().Unsafe.

  - NoFsync: the WAL's fsyncs return at once (storage.Options.SkipWALSync),
    so the Raft log and hard state reach the OS page cache and never the
    disk. A SIGKILL keeps the page cache and shows nothing; a power loss of
    a quorum takes acknowledged records (everything since the nodes
    started, until pebble flushes a memtable to a table, which is synced).
  - ApplyBeforeSave: a Ready's committed entries are applied (with the
    applied index, in one unsynced batch) before the Ready's hard state and
    entries are saved. A Ready that carries committed entries usually
    carries only the commit index as hard state, so what the bug reorders
    is the apply batch and that small commit-index record, which pebble
    writes to the WAL in one go: a power cut that tears the write between
    the two leaves an applied index beyond the commit index, and the
    restart refuses the store (storage.ErrCorrupt, exit 3). No acknowledged
    record can be lost by it: commit needs a quorum's fsync, and the leader
    counts itself only after its own save.

# Crash points and power loss

Crash points are named places where an armed crash kills the process at
once, like gofail's panic points in etcd's robustness tests; the admin API
arms them (broker/admin: POST /admin/crash-points, with a count or a
seeded probability). The table, in the order a Ready reaches them
(CrashPoints() and GET /admin/crash-points list it with each point's
description):

	raft-before-save            a Ready with something to persist, early messages sent, nothing saved
	wal-before-sync             pebble wrote WAL records and is about to fsync them (needs FaultFS)
	raft-after-save             the save returned; votes and append acknowledgements not yet sent
	raft-before-apply           the remaining messages sent; committed entries not yet applied
	raft-after-apply            the apply batch committed (not fsynced), proposers answered
	snapshot-while-writing      a received snapshot staged in the save batch, nothing written
	snapshot-after-install      a received snapshot durable and installed, messages not sent
	log-compaction              a compaction decided, its synced batch not yet committed
	offset-commit-before-apply  a committed offset commit about to apply in __meta
	offset-commit-after-apply   its apply batch committed and the committer answered

Names are kebab-case and stable. With ApplyBeforeSave the apply points come
before the save points: each point stays with its step. Reaching a point
that is not armed costs one atomic load.

Config.FaultFS runs the store on storage.FaultFS, which records what
fsyncs made durable and behaves exactly as the plain disk until a fault.
PowerLoss (POST /admin/power-loss), or a crash point armed with
power_loss, halts the store's file system (nothing written after it; a
sync in flight counts for nothing and never returns to its caller, so no
acknowledgement can follow a write the loss then drops), silences the peer
transport, removes from the real disk every write no fsync covered and
every create, rename and remove no directory sync covered (optionally
tearing a write, from a seed), logs one line and exits: ExitPowerLoss (4)
for the admin request, ExitCrashPoint (5) for any crash point. A dead
node's Stop returns at once; in tests Config.Exit replaces os.Exit and a
new node can open the same directory (Halt released the store's lock).
*/
package cluster
