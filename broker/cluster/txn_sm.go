package cluster

import (
	"maps"
	"math"
	"slices"
	"strings"
)

// The transaction coordinator's state, part of the __meta state machine:
// one txnMeta per transactional id, changed only by txnCommand entries, so
// every replica (and so every future coordinator) knows each transaction's
// producer, epoch, state and partitions. Kafka keeps the same facts in its
// __transaction_state topic; here they sit next to the consumer-group
// offsets that a transaction commits, so a commit decision and the offsets
// it makes visible are one Raft entry (see doc.go, "Transactions").

// txnMeta is one transactional id (Kafka's TransactionMetadata).
type txnMeta struct {
	ProducerID int64 `json:"pid"`
	Epoch      int16 `json:"epoch"`
	// LastEpoch is the epoch a producer may still re-initialise with to
	// get the current one: its own epoch after a timeout abort bumped it
	// (KIP-588), or the epoch before a re-initialisation (so that a retry
	// of it does not bump twice). -1: none.
	LastEpoch int16  `json:"last_epoch"`
	TimeoutMs int32  `json:"timeout_ms"`
	State     string `json:"state"`
	// Serial numbers this id's transactions: it grows by one when a
	// transaction begins. Transactional batches and markers carry it, so
	// a partition never confuses two transactions of one epoch (the
	// clients of Kafka 3.x keep their epoch across transactions).
	Serial     uint64           `json:"serial"`
	Partitions []TopicPartition `json:"partitions,omitempty"`
	Groups     []string         `json:"groups,omitempty"`
	// Pending holds TxnOffsetCommit offsets (consumer group -> topic ->
	// partition) until the commit decision makes them group offsets.
	Pending  map[string]map[string]map[int32]OffsetCommit `json:"pending,omitempty"`
	StartMs  int64                                        `json:"start_ms"`
	UpdateMs int64                                        `json:"update_ms"`
}

// txnCommand is the Txn part of a metaCommand with Op opTxn. NowMs is the
// proposer's clock: applies never read one, so replicas agree.
type txnCommand struct {
	Kind       string                            `json:"kind"`
	ID         string                            `json:"id"`
	ProducerID int64                             `json:"pid"`
	Epoch      int16                             `json:"epoch"`
	TimeoutMs  int32                             `json:"timeout_ms,omitempty"`
	Partitions []TopicPartition                  `json:"partitions,omitempty"`
	Group      string                            `json:"group,omitempty"`
	Offsets    map[string]map[int32]OffsetCommit `json:"offsets,omitempty"`
	Commit     bool                              `json:"commit,omitempty"`
	Serial     uint64                            `json:"serial,omitempty"`
	// Completes, on the commands that begin a transaction (init, add
	// partitions, add offsets), is the serial of the id's prepared
	// transaction whose markers the proposer has seen applied: the
	// command completes it first, saving the separate complete entry
	// on the way from one transaction to the next.
	Completes uint64 `json:"completes,omitempty"`
	NowMs     int64  `json:"now_ms"`
}

const opTxn = "txn"

// Kinds of txnCommand.
const (
	txnInit     = "init"           // InitProducerId with a transactional id
	txnAdd      = "add_partitions" // AddPartitionsToTxn
	txnAddGroup = "add_offsets"    // AddOffsetsToTxn
	txnOffsets  = "txn_offsets"    // TxnOffsetCommit
	txnEnd      = "end"            // EndTxn: Ongoing -> Prepare*
	txnComplete = "complete"       // every marker written: Prepare* -> Complete*
	txnTimeout  = "timeout"        // the coordinator aborts an expired transaction
)

// txnOutcome is what a txnCommand's apply returns to its proposer (errors
// are returned as such).
type txnOutcome struct {
	ProducerID int64
	Epoch      int16
	Serial     uint64
	State      string
	// Busy: the transaction Serial is writing its markers (or has just
	// been fenced and must); the proposer waits for it and retries.
	Busy bool
	// Done: EndTxn of a transaction that already completed as asked (a
	// client retry).
	Done bool
}

func (t *txnMeta) outcome() txnOutcome {
	return txnOutcome{ProducerID: t.ProducerID, Epoch: t.Epoch, Serial: t.Serial, State: t.State}
}

func isPrepare(state string) bool { return state == TxnPrepareCommit || state == TxnPrepareAbort }

// applyTxn applies one transaction command to st.
func (st *metaState) applyTxn(c *txnCommand) any {
	if c == nil || c.ID == "" {
		return ErrInvalidTxnState
	}
	if st.Txns == nil {
		st.Txns = map[string]*txnMeta{}
	}
	switch c.Kind {
	case txnInit:
		return st.applyTxnInit(c)
	case txnComplete:
		t := st.Txns[c.ID]
		if t == nil || !t.complete(c.Serial, c.NowMs) {
			return nil // a late duplicate: another coordinator completed it
		}
		return t.outcome()
	case txnTimeout:
		t := st.Txns[c.ID]
		if t == nil || t.State != TxnOngoing || t.Serial != c.Serial || c.NowMs-t.StartMs < int64(t.TimeoutMs) {
			return nil
		}
		// The producer keeps the right to recover with its epoch
		// (KIP-588); everything it still sends with it is fenced.
		t.fence(c.NowMs, t.Epoch)
		return t.outcome()
	}
	t := st.Txns[c.ID]
	if t != nil && c.Completes != 0 {
		t.complete(c.Completes, c.NowMs)
	}
	switch {
	case t == nil || t.ProducerID != c.ProducerID:
		return ErrInvalidProducerIDMapping
	case t.Epoch != c.Epoch:
		return ErrProducerFenced
	}
	switch c.Kind {
	case txnAdd, txnAddGroup:
		if isPrepare(t.State) {
			return txnOutcome{Busy: true, Serial: t.Serial, State: t.State}
		}
		if t.State != TxnOngoing {
			t.Serial++
			t.State, t.StartMs = TxnOngoing, c.NowMs
			t.Partitions, t.Groups, t.Pending = nil, nil, nil
		}
		for _, tp := range c.Partitions {
			if !slices.Contains(t.Partitions, tp) {
				t.Partitions = append(t.Partitions, tp)
			}
		}
		slices.SortFunc(t.Partitions, compareTP)
		if c.Kind == txnAddGroup && !slices.Contains(t.Groups, c.Group) {
			t.Groups = append(t.Groups, c.Group)
		}
		t.UpdateMs = c.NowMs
		return t.outcome()
	case txnOffsets:
		if t.State != TxnOngoing || !slices.Contains(t.Groups, c.Group) {
			return ErrInvalidTxnState
		}
		if t.Pending == nil {
			t.Pending = map[string]map[string]map[int32]OffsetCommit{}
		}
		mergeOffsets(t.Pending, c.Group, c.Offsets)
		return t.outcome()
	case txnEnd:
		return st.applyTxnEnd(t, c)
	}
	return ErrInvalidTxnState
}

func (st *metaState) applyTxnInit(c *txnCommand) any {
	t := st.Txns[c.ID]
	if t != nil && c.Completes != 0 {
		t.complete(c.Completes, c.NowMs)
	}
	if t == nil {
		if c.ProducerID >= 0 {
			return ErrInvalidProducerIDMapping
		}
		st.NextProducerID++
		t = &txnMeta{ProducerID: st.NextProducerID, LastEpoch: -1, TimeoutMs: c.TimeoutMs, State: TxnEmpty, StartMs: -1, UpdateMs: c.NowMs}
		st.Txns[c.ID] = t
		return t.outcome()
	}
	if c.ProducerID >= 0 {
		if c.ProducerID != t.ProducerID {
			return ErrInvalidProducerIDMapping
		}
		if c.Epoch != t.Epoch && c.Epoch != t.LastEpoch {
			return ErrProducerFenced
		}
	}
	switch {
	case isPrepare(t.State):
		return txnOutcome{Busy: true, Serial: t.Serial, State: t.State}
	case t.State == TxnOngoing:
		// A new producer instance (or a recovering one, KIP-360) takes
		// over: the open transaction is aborted with a bumped epoch,
		// which fences every batch the old instance still has in
		// flight at every partition the markers reach.
		last := int16(-1)
		if c.ProducerID >= 0 {
			last = c.Epoch
		}
		t.fence(c.NowMs, last)
		o := t.outcome()
		o.Busy = true
		return o
	case c.ProducerID >= 0 && c.Epoch == t.LastEpoch && c.Epoch != t.Epoch:
		// A retried re-initialisation, or the producer a timeout fenced:
		// it gets the epoch already minted for it.
		t.TimeoutMs, t.UpdateMs = c.TimeoutMs, c.NowMs
		return t.outcome()
	}
	if t.Epoch >= math.MaxInt16-1 {
		// Epochs are exhausted: a fresh producer id, as Kafka does.
		st.NextProducerID++
		t.ProducerID, t.Epoch = st.NextProducerID, 0
	} else {
		t.Epoch++
	}
	t.LastEpoch = -1
	if c.ProducerID >= 0 {
		t.LastEpoch = c.Epoch
	}
	t.TimeoutMs, t.State, t.StartMs, t.UpdateMs = c.TimeoutMs, TxnEmpty, -1, c.NowMs
	return t.outcome()
}

func (st *metaState) applyTxnEnd(t *txnMeta, c *txnCommand) any {
	want := map[bool]string{true: TxnPrepareCommit, false: TxnPrepareAbort}[c.Commit]
	done := map[bool]string{true: TxnCompleteCommit, false: TxnCompleteAbort}[c.Commit]
	switch t.State {
	case TxnOngoing:
		t.State, t.UpdateMs = want, c.NowMs
		if c.Commit {
			// The commit decision is the moment the transaction's
			// offsets become the group's: the same entry, so no reader
			// of __meta ever sees one without the other.
			for group, byTopic := range t.Pending {
				g := groupOffsetsOf(st.Offsets, group)
				for topic, parts := range byTopic {
					if st.Topics[topic] != nil {
						maps.Copy(offsetsOf(g, topic), parts)
					}
				}
			}
		}
		t.Pending = nil
		return t.outcome()
	case want:
		return t.outcome() // a retry while the markers are written
	case done:
		o := t.outcome()
		o.Done = true
		return o
	}
	return ErrInvalidTxnState
}

// complete moves prepared transaction serial to its Complete state; false
// when t is not preparing that transaction (already completed).
func (t *txnMeta) complete(serial uint64, nowMs int64) bool {
	if t.Serial != serial || !isPrepare(t.State) {
		return false
	}
	t.State = map[string]string{TxnPrepareCommit: TxnCompleteCommit, TxnPrepareAbort: TxnCompleteAbort}[t.State]
	t.Partitions, t.Groups, t.Pending, t.UpdateMs = nil, nil, nil, nowMs
	return true
}

// fence bumps the epoch (keeping the maximum when it cannot grow) and
// starts aborting the ongoing transaction; last becomes LastEpoch.
func (t *txnMeta) fence(nowMs int64, last int16) {
	if t.Epoch < math.MaxInt16 {
		t.Epoch++
	}
	t.LastEpoch = last
	t.State, t.Pending, t.UpdateMs = TxnPrepareAbort, nil, nowMs
}

func compareTP(a, b TopicPartition) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return int(a.Partition) - int(b.Partition)
}

// Reads (any goroutine) -----------------------------------------------------

// txn returns a copy of one transactional id's state.
func (m *metaSM) txn(id string) (txnMeta, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.st.Txns[id]
	if !ok {
		return txnMeta{}, false
	}
	return t.clone(), true
}

// txns returns a copy of every transactional id's state.
func (m *metaSM) txns() map[string]txnMeta {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]txnMeta, len(m.st.Txns))
	for id, t := range m.st.Txns {
		out[id] = t.clone()
	}
	return out
}

func (t *txnMeta) clone() txnMeta {
	c := *t
	c.Partitions = slices.Clone(t.Partitions)
	c.Groups = slices.Clone(t.Groups)
	c.Pending = nil // readers never need the offsets themselves
	return c
}

// verifyTxn is KIP-890's check for a transactional batch of (pid, epoch)
// to tp: the producer's transactional id has an ongoing transaction at
// exactly this epoch that includes tp. It returns that transaction's
// serial, which the batch carries into the partition's log.
func (m *metaSM) verifyTxn(pid int64, epoch int16, tp TopicPartition) (uint64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, t := range m.st.Txns {
		if t.ProducerID != pid {
			continue
		}
		switch {
		case epoch < t.Epoch:
			return 0, ErrInvalidProducerEpoch
		case epoch == t.Epoch && t.State == TxnOngoing && slices.Contains(t.Partitions, tp):
			return t.Serial, nil
		}
		return 0, ErrInvalidTxnState
	}
	return 0, ErrInvalidTxnState
}

// pendingTxnOffsets lists the partitions of group with offsets in a
// transaction that has not decided yet (KIP-447's unstable offsets).
func (m *metaSM) pendingTxnOffsets(group string) map[TopicPartition]bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := map[TopicPartition]bool{}
	for _, t := range m.st.Txns {
		for topic, parts := range t.Pending[group] {
			for p := range parts {
				out[TopicPartition{Topic: topic, Partition: p}] = true
			}
		}
	}
	return out
}
