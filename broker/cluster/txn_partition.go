package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-chaos/chronik/broker/recordbatch"
)

// The transaction part of the partition state machine. Two commands join
// the plain produce ('P'):
//
//   - 'T', a transactional batch: the serial of the transaction it was
//     verified for (KIP-890, see Node.txnPayload), then a 'P' command;
//   - 'M', a commit or abort marker: a Kafka control batch the
//     coordinator built, ending the producer's open transaction here.
//
// Both are decided at apply time, so every replica agrees on which
// transaction each record belongs to. From the producers' state and the
// log follow the last stable offset (the first offset of the earliest
// open transaction, else the high watermark) and the aborted-transaction
// index that read_committed consumers get with each fetch.

// txnProducer is the transactional part of a producer's state in one
// partition (embedded in producerState, so it is stored with it).
type txnProducer struct {
	// Open is the producer's transaction with data here and no marker yet.
	Open *openTxn `json:"open,omitempty"`
	// Ended is the serial of the last transaction a marker ended here. A
	// batch verified for it, or for an older one, arrived late: its
	// transaction is over and it must not start (or join) another.
	Ended uint64 `json:"ended,omitempty"`
}

type openTxn struct {
	Serial uint64 `json:"serial"`
	First  int64  `json:"first"` // offset of its first batch here
}

// txnIndex is derived state, rebuilt from the producers and the stored
// batches on load and restore; never stored on its own.
type txnIndex struct {
	// open maps a producer id to the first offset of its open
	// transaction (the entries that hold the last stable offset back).
	open map[int64]int64
	// aborted lists aborted transactions that had data here, in log
	// order of their markers.
	aborted []AbortedTxn
	// scan is the open first offset per producer while batches are
	// replayed by observe, to pair each abort marker with its range.
	scan map[int64]int64
}

// observe replays one stored batch into the aborted-transaction index.
func (x *txnIndex) observe(base int64, raw []byte) {
	attrs := binary.BigEndian.Uint16(raw[recordbatch.Attributes:])
	if attrs&recordbatch.AttrTransactional == 0 {
		return
	}
	if x.scan == nil {
		x.scan = map[int64]int64{}
	}
	pid := int64(binary.BigEndian.Uint64(raw[recordbatch.ProducerID:]))
	if attrs&recordbatch.AttrControl == 0 {
		if _, ok := x.scan[pid]; !ok {
			x.scan[pid] = base
		}
		return
	}
	first, ok := x.scan[pid]
	delete(x.scan, pid)
	if ok && !markerCommits(raw) {
		x.aborted = append(x.aborted, AbortedTxn{ProducerID: pid, FirstOffset: first, LastOffset: base})
	}
}

// loaded finishes a replay: the open transactions come from the
// producers' stored state (written with the batches, so they agree).
func (x *txnIndex) loaded(producers map[int64]*producerState) {
	x.scan = nil
	x.open = map[int64]int64{}
	for pid, ps := range producers {
		if ps.Open != nil {
			x.open[pid] = ps.Open.First
		}
	}
}

// abortedIn lists the aborted transactions overlapping [from, to).
func (x *txnIndex) abortedIn(from, to int64) []AbortedTxn {
	i := sort.Search(len(x.aborted), func(i int) bool { return x.aborted[i].LastOffset >= from })
	var out []AbortedTxn
	for _, a := range x.aborted[i:] {
		if a.FirstOffset < to {
			out = append(out, a)
		}
	}
	return out
}

// lastStableLocked is the last stable offset (p.mu held): no record at or
// above it belongs to a transaction that may still commit or abort.
func (p *partitionSM) lastStableLocked() int64 {
	if p.n.cfg.Unsafe.LSOIsHW {
		// Seeded bug: read_committed is served up to the high
		// watermark, records of open transactions included.
		return p.st.Next
	}
	lso := p.st.Next
	for _, first := range p.txn.open {
		lso = min(lso, first)
	}
	return lso
}

func (p *partitionSM) lastStable() int64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.lastStableLocked()
}

// Commands ------------------------------------------------------------------

// encodeTxnProduce is the 'T' command: the verified serial, then the
// batch's 'P' command.
func encodeTxnProduce(b Batch, serial uint64) []byte {
	out := make([]byte, 9, 9+produceHeader+len(b.Raw))
	out[0] = 'T'
	binary.BigEndian.PutUint64(out[1:], serial)
	return append(out, encodeProduce(b)...)
}

// markerCmd is the 'M' command: producer id, epoch, serial, commit, then
// the control batch.
type markerCmd struct {
	pid    int64
	epoch  int16
	serial uint64
	commit bool
	raw    []byte
}

const markerHeader = 1 + 8 + 2 + 8 + 1

func encodeMarker(m markerCmd) []byte {
	out := make([]byte, markerHeader, markerHeader+len(m.raw))
	out[0] = 'M'
	binary.BigEndian.PutUint64(out[1:], uint64(m.pid))
	binary.BigEndian.PutUint16(out[9:], uint16(m.epoch))
	binary.BigEndian.PutUint64(out[11:], m.serial)
	if m.commit {
		out[19] = 1
	}
	return append(out, m.raw...)
}

func (p *partitionSM) applyTxn(b *pebble.Batch, index, term uint64, payload []byte) any {
	malformed := produceOutcome{err: fmt.Errorf("apply entry %d of %s/%d: malformed transaction command", index, p.tp.Topic, p.tp.Partition)}
	switch payload[0] {
	case 'T':
		if len(payload) < 9 {
			return malformed
		}
		c, ok := decodeProduce(payload[9:])
		if !ok || c.records <= 0 || c.pid < 0 {
			return malformed
		}
		return p.applyTxnBatch(b, term, binary.BigEndian.Uint64(payload[1:]), c)
	case 'M':
		if len(payload) < markerHeader+recordbatch.HeaderLen {
			return malformed
		}
		return p.applyMarker(b, term, markerCmd{
			pid:    int64(binary.BigEndian.Uint64(payload[1:])),
			epoch:  int16(binary.BigEndian.Uint16(payload[9:])),
			serial: binary.BigEndian.Uint64(payload[11:]),
			commit: payload[19] == 1,
			raw:    payload[markerHeader:],
		})
	}
	return malformed
}

// applyTxnBatch appends a transactional batch verified for the
// transaction serial (0: not verified, only with the seeded bug).
func (p *partitionSM) applyTxnBatch(b *pebble.Batch, term, serial uint64, c produceCmd) produceOutcome {
	ps := p.st.Producers[c.pid]
	if ps != nil {
		if c.epoch < ps.Epoch {
			return produceOutcome{err: ErrInvalidProducerEpoch}
		}
		if serial != 0 && serial <= ps.Ended {
			// Verified while its transaction was ongoing, but the
			// marker got here first: the batch is late. Appending it
			// would open a transaction nobody will end, or put it in
			// the producer's next one.
			return produceOutcome{err: ErrInvalidTxnState}
		}
	}
	if !p.n.cfg.Unsafe.NoDedup {
		if o, done := p.checkSequence(c); done {
			return o
		}
	}
	o := p.appendBatch(b, term, c)
	ps = p.st.Producers[c.pid]
	switch {
	case ps.Open == nil:
		ps.Open = &openTxn{Serial: serial, First: o.res.BaseOffset}
		p.txn.open[c.pid] = o.res.BaseOffset
	case serial > ps.Open.Serial:
		// Only after a lost marker (a seeded bug): the records of the
		// earlier transaction now end with this one.
		ps.Open.Serial = serial
	}
	return o
}

// applyMarker appends a marker and ends the producer's open transaction.
// A marker for a transaction that already ended here (a coordinator's
// retry after a lost answer) changes nothing.
func (p *partitionSM) applyMarker(b *pebble.Batch, term uint64, m markerCmd) produceOutcome {
	ps := p.st.Producers[m.pid]
	if ps == nil {
		ps = &producerState{Epoch: m.epoch}
		p.st.Producers[m.pid] = ps
	}
	if m.serial <= ps.Ended {
		return produceOutcome{res: ProduceResult{BaseOffset: -1, LogAppendTime: -1, LogStartOffset: p.st.LogStart}}
	}
	base := p.st.Next
	raw := append([]byte(nil), m.raw...)
	binary.BigEndian.PutUint64(raw[recordbatch.BaseOffset:], uint64(base))
	binary.BigEndian.PutUint32(raw[recordbatch.LeaderEpoch:], uint32(term))
	if err := b.Set(batchKey(p.gid, base), raw, nil); err != nil {
		return produceOutcome{err: fmt.Errorf("stage marker: %w", err)}
	}
	bi := indexEntry(raw, base)
	p.push(bi)
	p.st.Next = bi.last + 1
	if ps.Open != nil {
		if !m.commit {
			p.txn.aborted = append(p.txn.aborted, AbortedTxn{ProducerID: m.pid, FirstOffset: ps.Open.First, LastOffset: base})
		}
		ps.Open = nil
		delete(p.txn.open, m.pid)
	}
	ps.Ended = m.serial
	if m.epoch > ps.Epoch {
		// A fencing abort's bumped epoch: the old one's batches still
		// in flight are refused from now on.
		ps.Epoch, ps.Batches = m.epoch, nil
	}
	return produceOutcome{res: ProduceResult{BaseOffset: base, LogAppendTime: -1, LogStartOffset: p.st.LogStart}}
}

// Control batches ---------------------------------------------------------

// markerBatch builds the control batch of a commit or abort marker: one
// control record whose key is the marker type and whose value is the
// EndTxnMarker with the coordinator epoch (Kafka protocol, "Control
// Batches"). Its base offset is assigned at apply.
func markerBatch(pid int64, epoch int16, commit bool, coordinatorEpoch int32, now time.Time) []byte {
	key := kmsg.NewControlRecordKey()
	key.Type = kmsg.ControlRecordKeyTypeAbort
	if commit {
		key.Type = kmsg.ControlRecordKeyTypeCommit
	}
	val := kmsg.NewEndTxnMarker()
	val.CoordinatorEpoch = coordinatorEpoch
	rec := kmsg.Record{Key: key.AppendTo(nil), Value: val.AppendTo(nil)}
	// Length counts what follows it: encode once without it (a zero
	// varint is one byte) to learn the body size.
	rec.Length = int32(len(rec.AppendTo(nil)) - 1)
	ms := now.UnixMilli()
	rb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2,
		Attributes:     recordbatch.AttrTransactional | recordbatch.AttrControl,
		FirstTimestamp: ms, MaxTimestamp: ms,
		ProducerID: pid, ProducerEpoch: epoch, FirstSequence: -1,
		NumRecords: 1, Records: rec.AppendTo(nil),
	}
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[recordbatch.Length:], uint32(len(raw)-recordbatch.LengthPrefix))
	binary.BigEndian.PutUint32(raw[recordbatch.CRC:], recordbatch.Checksum(raw))
	return raw
}

// markerCommits reads a control batch's marker type (true: commit).
func markerCommits(raw []byte) bool {
	var rec kmsg.Record
	if err := rec.ReadFrom(raw[recordbatch.HeaderLen:]); err != nil {
		return false
	}
	var key kmsg.ControlRecordKey
	if err := key.ReadFrom(rec.Key); err != nil {
		return false
	}
	return key.Type == kmsg.ControlRecordKeyTypeCommit
}

// Node side -----------------------------------------------------------------

// txnPayload is the Raft command of a transactional batch. Unless the
// seeded bug skips it, the batch is verified first (KIP-890): the
// coordinator's state, read linearizably from this node's __meta replica,
// must show an ongoing transaction of the batch's producer at exactly its
// epoch that includes tp. The transaction's serial goes into the command,
// and the apply refuses the batch if that transaction's marker got here
// first, so the check holds even when the batch reaches the log late.
func (n *Node) txnPayload(ctx context.Context, tp TopicPartition, b Batch) ([]byte, error) {
	if b.ProducerID < 0 {
		return nil, ErrInvalidTxnState
	}
	if n.cfg.Unsafe.NoTxnVerification {
		return encodeTxnProduce(b, 0), nil
	}
	if err := n.metaRaft.linearizable(ctx); err != nil {
		return nil, fmt.Errorf("verify transactional batch of producer %d: %w", b.ProducerID, ErrTxnUnverified)
	}
	serial, err := n.meta.verifyTxn(b.ProducerID, b.ProducerEpoch, tp)
	if err != nil {
		return nil, err
	}
	return encodeTxnProduce(b, serial), nil
}

// writeMarker appends one marker to tp through its Raft group, proposed
// from this node (raft forwards it to the partition's leader), and waits
// until it applied here.
func (n *Node) writeMarker(ctx context.Context, tp TopicPartition, m markerCmd, wait bool) error {
	g, _, err := n.partitionReplica(tp)
	if err != nil {
		return err
	}
	m.raw = markerBatch(m.pid, m.epoch, m.commit, int32(n.metaRaft.pubTerm.Load()), time.Now())
	v, err := g.proposeAsync(ctx, encodeMarker(m), wait)
	if err != nil || !wait {
		return err
	}
	o, _ := v.(produceOutcome)
	return o.err
}
