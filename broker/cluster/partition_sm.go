package cluster

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/cockroachdb/pebble"

	"github.com/chronik-chaos/chronik/broker/recordbatch"
	"github.com/chronik-chaos/chronik/broker/storage"
)

// The partition state machine: Kafka record batches keyed by base offset,
// offsets assigned at apply time, idempotent-producer state checked at
// apply time (so every replica decides duplicates identically).

// producerWindow is how many recent batches per producer are remembered
// for duplicate detection (Kafka keeps 5: max.in.flight for idempotence).
const producerWindow = 5

type seqRange struct {
	First  int32 `json:"first"`
	Last   int32 `json:"last"`
	Offset int64 `json:"offset"`
}

type producerState struct {
	Epoch   int16      `json:"epoch"`
	Batches []seqRange `json:"batches"`
	// txnProducer is a transactional producer's open transaction and
	// last ended one here (txn_partition.go).
	txnProducer
}

type partState struct {
	Applied   uint64                   `json:"applied"`
	Next      int64                    `json:"next"`
	LogStart  int64                    `json:"log_start"`
	Producers map[int64]*producerState `json:"producers"`
}

type batchIndex struct {
	base, last int64
	maxTS      int64
	prefixMax  int64 // max of maxTS over this and every earlier batch
}

type partitionSM struct {
	n   *Node
	gid uint64
	tp  TopicPartition

	mu    sync.RWMutex
	st    partState
	index []batchIndex
	// txn is derived from st and the batches: open transactions and
	// the aborted-transaction index (txn_partition.go).
	txn txnIndex

	// hwc is closed (and replaced) whenever an apply may have moved the
	// high watermark, waking long-polling fetches (WaitForData).
	hwMu sync.Mutex
	hwc  chan struct{}
}

type produceOutcome struct {
	res ProduceResult
	err error
}

func batchKey(gid uint64, base int64) []byte {
	var b [9]byte
	b[0] = 'b'
	binary.BigEndian.PutUint64(b[1:], uint64(base))
	return storage.StateKey(gid, b[:]...)
}

func partStateKey(gid uint64) []byte { return storage.StateKey(gid, 'm') }

// loadPartitionSM loads a partition's state, validating every stored batch
// (CRC, offsets contiguous): corrupt data is refused with an error naming
// the store, key and offset, never skipped.
func loadPartitionSM(n *Node, gid uint64, tp TopicPartition) (*partitionSM, error) {
	sm := &partitionSM{n: n, gid: gid, tp: tp, st: partState{Producers: map[int64]*producerState{}}}
	v, ok, err := n.db.GetCopy(partStateKey(gid))
	if err != nil {
		return nil, fmt.Errorf("load partition %s/%d state: %w", tp.Topic, tp.Partition, err)
	}
	if ok {
		if err := json.Unmarshal(v, &sm.st); err != nil {
			return nil, fmt.Errorf("load partition %s/%d state (key %x in %s): %w: %w", tp.Topic, tp.Partition, partStateKey(gid), n.db.Dir, storage.ErrCorrupt, err)
		}
		if sm.st.Producers == nil {
			sm.st.Producers = map[int64]*producerState{}
		}
	}
	it, err := n.db.NewIter(&pebble.IterOptions{LowerBound: storage.StateKey(gid, 'b'), UpperBound: storage.StateKeyUpperBound(gid, 'b')})
	if err != nil {
		return nil, fmt.Errorf("scan partition %s/%d: %w", tp.Topic, tp.Partition, err)
	}
	defer it.Close()
	expect := sm.st.LogStart
	for ok := it.First(); ok; ok = it.Next() {
		key := it.Key()
		base := int64(binary.BigEndian.Uint64(key[len(key)-8:]))
		raw := it.Value()
		bi, err := checkBatch(raw, base)
		if err == nil && base != expect {
			err = fmt.Errorf("expected a batch at offset %d", expect)
		}
		if err != nil {
			return nil, fmt.Errorf("load partition %s/%d: batch at offset %d (key %x in %s): %w: %w", tp.Topic, tp.Partition, base, key, n.db.Dir, storage.ErrCorrupt, err)
		}
		sm.push(bi)
		sm.txn.observe(base, raw)
		expect = bi.last + 1
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("scan partition %s/%d: %w", tp.Topic, tp.Partition, err)
	}
	if expect != sm.st.Next {
		return nil, fmt.Errorf("load partition %s/%d: stored batches end at offset %d but the state says %d (in %s): %w", tp.Topic, tp.Partition, expect, sm.st.Next, n.db.Dir, storage.ErrCorrupt)
	}
	sm.txn.loaded(sm.st.Producers)
	return sm, nil
}

// checkBatch validates a stored batch and returns its index entry.
func checkBatch(raw []byte, base int64) (batchIndex, error) {
	if len(raw) < recordbatch.HeaderLen {
		return batchIndex{}, fmt.Errorf("batch of %d bytes is shorter than a header", len(raw))
	}
	if got := int64(binary.BigEndian.Uint64(raw[recordbatch.BaseOffset:])); got != base {
		return batchIndex{}, fmt.Errorf("batch base offset %d does not match its key", got)
	}
	if l := int(binary.BigEndian.Uint32(raw[recordbatch.Length:])); l != len(raw)-recordbatch.LengthPrefix {
		return batchIndex{}, fmt.Errorf("batch length field %d does not match %d stored bytes", l, len(raw)-recordbatch.LengthPrefix)
	}
	if want, got := binary.BigEndian.Uint32(raw[recordbatch.CRC:]), recordbatch.Checksum(raw); want != got {
		return batchIndex{}, fmt.Errorf("batch crc %08x, computed %08x", want, got)
	}
	return indexEntry(raw, base), nil
}

// indexEntry is the index entry of a batch stored at base.
func indexEntry(raw []byte, base int64) batchIndex {
	lod := int64(int32(binary.BigEndian.Uint32(raw[recordbatch.LastOffsetDelta:])))
	return batchIndex{base: base, last: base + lod, maxTS: int64(binary.BigEndian.Uint64(raw[recordbatch.MaxTimestamp:]))}
}

func (p *partitionSM) push(bi batchIndex) {
	bi.prefixMax = bi.maxTS
	if n := len(p.index); n > 0 && p.index[n-1].prefixMax > bi.prefixMax {
		bi.prefixMax = p.index[n-1].prefixMax
	}
	p.index = append(p.index, bi)
}

func (p *partitionSM) applied() uint64 { return p.st.Applied }
func (p *partitionSM) lock()           { p.mu.Lock() }
func (p *partitionSM) unlock()         { p.mu.Unlock() }
func (p *partitionSM) committed() {
	p.hwMu.Lock()
	if p.hwc != nil {
		close(p.hwc)
		p.hwc = nil
	}
	p.hwMu.Unlock()
}

// hwChanged returns a channel closed at the next apply.
func (p *partitionSM) hwChanged() <-chan struct{} {
	p.hwMu.Lock()
	defer p.hwMu.Unlock()
	if p.hwc == nil {
		p.hwc = make(chan struct{})
	}
	return p.hwc
}

func (p *partitionSM) setApplied(b *pebble.Batch, index uint64) error {
	p.st.Applied = index
	v, err := json.Marshal(&p.st)
	if err != nil {
		return fmt.Errorf("encode partition state: %w", err)
	}
	return b.Set(partStateKey(p.gid), v, nil)
}

// Produce command: 'P', then producer id, epoch, base sequence, record
// count, then the raw batch.
const produceHeader = 1 + 8 + 2 + 4 + 4

func encodeProduce(bt Batch) []byte {
	return appendProduce(make([]byte, 0, produceHeader+len(bt.Raw)), bt)
}

// encodeProduceProposal is encodeProduce behind proposalIDLen free bytes,
// ready for proposeData.
func encodeProduceProposal(bt Batch) []byte {
	return appendProduce(make([]byte, proposalIDLen, proposalIDLen+produceHeader+len(bt.Raw)), bt)
}

func appendProduce(out []byte, bt Batch) []byte {
	h := len(out)
	out = append(out, make([]byte, produceHeader)...)
	out[h] = 'P'
	binary.BigEndian.PutUint64(out[h+1:], uint64(bt.ProducerID))
	binary.BigEndian.PutUint16(out[h+9:], uint16(bt.ProducerEpoch))
	binary.BigEndian.PutUint32(out[h+11:], uint32(bt.BaseSequence))
	binary.BigEndian.PutUint32(out[h+15:], uint32(bt.Records))
	return append(out, bt.Raw...)
}

type produceCmd struct {
	pid     int64
	epoch   int16
	seq     int32
	records int32
	raw     []byte
}

func decodeProduce(b []byte) (produceCmd, bool) {
	if len(b) < produceHeader+recordbatch.HeaderLen || b[0] != 'P' {
		return produceCmd{}, false
	}
	return produceCmd{
		pid:     int64(binary.BigEndian.Uint64(b[1:])),
		epoch:   int16(binary.BigEndian.Uint16(b[9:])),
		seq:     int32(binary.BigEndian.Uint32(b[11:])),
		records: int32(binary.BigEndian.Uint32(b[15:])),
		raw:     b[produceHeader:],
	}, true
}

func (p *partitionSM) apply(b *pebble.Batch, index, term uint64, payload []byte) any {
	if len(payload) > 0 && payload[0] != 'P' {
		// Transactional batches and markers (txn_partition.go).
		return p.applyTxn(b, index, term, payload)
	}
	c, ok := decodeProduce(payload)
	if !ok || c.records <= 0 {
		return produceOutcome{err: fmt.Errorf("apply entry %d of %s/%d: malformed produce command", index, p.tp.Topic, p.tp.Partition)}
	}
	if c.pid >= 0 && !p.n.cfg.Unsafe.NoDedup {
		if o, done := p.checkSequence(c); done {
			return o
		}
	}
	return p.appendBatch(b, term, c)
}

// appendBatch appends a checked produce command's batch at the next offset
// and records its sequence range for the producer.
func (p *partitionSM) appendBatch(b *pebble.Batch, term uint64, c produceCmd) produceOutcome {
	base := p.st.Next
	// The batch is copied once, straight into the pebble batch (c.raw is
	// the Raft entry's data, which must not change), and its base offset
	// and leader epoch set there: neither is covered by the CRC (it
	// starts at attributes).
	key := batchKey(p.gid, base)
	op := b.SetDeferred(len(key), len(c.raw))
	copy(op.Key, key)
	raw := op.Value
	copy(raw, c.raw)
	binary.BigEndian.PutUint64(raw[recordbatch.BaseOffset:], uint64(base))
	binary.BigEndian.PutUint32(raw[recordbatch.LeaderEpoch:], uint32(term))
	bi := indexEntry(raw, base)
	if err := op.Finish(); err != nil {
		return produceOutcome{err: fmt.Errorf("stage batch: %w", err)}
	}
	p.push(bi)
	p.st.Next = bi.last + 1
	if c.pid >= 0 {
		ps := p.st.Producers[c.pid]
		if ps == nil {
			ps = &producerState{Epoch: c.epoch}
			p.st.Producers[c.pid] = ps
		}
		if ps.Epoch != c.epoch {
			// A new epoch starts a new sequence space; a transactional
			// producer's transaction state stays.
			ps.Epoch, ps.Batches = c.epoch, nil
		}
		ps.Batches = append(ps.Batches, seqRange{First: c.seq, Last: c.seq + c.records - 1, Offset: base})
		if w := p.window(); len(ps.Batches) > w {
			ps.Batches = append([]seqRange(nil), ps.Batches[len(ps.Batches)-w:]...)
		}
	}
	return produceOutcome{res: ProduceResult{BaseOffset: base, LogAppendTime: -1, LogStartOffset: p.st.LogStart}}
}

// window is how many batches per producer the partition remembers:
// producerWindow, or one under the seeded bug DedupLastBatch.
func (p *partitionSM) window() int {
	if p.n.cfg.Unsafe.DedupLastBatch {
		return 1
	}
	return producerWindow
}

// checkSequence applies Kafka's idempotence rules; done means the batch is
// not appended and o is the answer.
func (p *partitionSM) checkSequence(c produceCmd) (o produceOutcome, done bool) {
	ps := p.st.Producers[c.pid]
	if ps == nil {
		// No state (a new producer): accept any first sequence, as this
		// log never expires producer state.
		return o, false
	}
	if c.epoch < ps.Epoch {
		return produceOutcome{err: ErrInvalidProducerEpoch}, true
	}
	if c.epoch > ps.Epoch {
		return o, false
	}
	last := c.seq + c.records - 1
	for _, r := range ps.Batches {
		if r.First == c.seq && r.Last == last {
			return produceOutcome{res: ProduceResult{BaseOffset: r.Offset, LogAppendTime: -1, LogStartOffset: p.st.LogStart}, err: ErrDuplicateSequence}, true
		}
	}
	if n := len(ps.Batches); n > 0 {
		if p.n.cfg.Unsafe.DedupLastBatch && c.seq < ps.Batches[n-1].First {
			// The seeded bug: a sequence older than the one batch
			// remembered is taken for a new batch.
			return o, false
		}
		expect := ps.Batches[n-1].Last + 1
		if ps.Batches[n-1].Last == 1<<31-1 {
			expect = 0
		}
		if c.seq != expect {
			return produceOutcome{err: ErrOutOfOrderSequence}, true
		}
	}
	return o, false
}

type partSnapshot struct {
	State   partState `json:"state"`
	Batches [][]byte  `json:"batches"`
}

// snapshot encodes the producer state and every batch. Fine at test
// scale; a production system would ship segment files instead.
func (p *partitionSM) snapshot() ([]byte, uint64, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	s := partSnapshot{State: p.st}
	it, err := p.n.db.NewIter(&pebble.IterOptions{LowerBound: storage.StateKey(p.gid, 'b'), UpperBound: storage.StateKeyUpperBound(p.gid, 'b')})
	if err != nil {
		return nil, 0, err
	}
	for ok := it.First(); ok; ok = it.Next() {
		s.Batches = append(s.Batches, append([]byte(nil), it.Value()...))
	}
	if err := it.Close(); err != nil {
		return nil, 0, err
	}
	data, err := json.Marshal(&s)
	return data, p.st.Applied, err
}

func (p *partitionSM) restore(b *pebble.Batch, index uint64, data []byte) error {
	s := partSnapshot{State: partState{Producers: map[int64]*producerState{}}}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("decode partition snapshot: %w", err)
		}
	}
	if s.State.Producers == nil {
		s.State.Producers = map[int64]*producerState{}
	}
	if err := b.DeleteRange(storage.StateKey(p.gid, 'b'), storage.StateKeyUpperBound(p.gid, 'b'), nil); err != nil {
		return err
	}
	p.index = nil
	p.txn = txnIndex{}
	for _, raw := range s.Batches {
		if len(raw) < recordbatch.HeaderLen {
			return fmt.Errorf("partition snapshot: short batch")
		}
		base := int64(binary.BigEndian.Uint64(raw))
		bi, err := checkBatch(raw, base)
		if err != nil {
			return fmt.Errorf("partition snapshot batch at offset %d: %w", base, err)
		}
		if err := b.Set(batchKey(p.gid, base), raw, nil); err != nil {
			return err
		}
		p.push(bi)
		p.txn.observe(base, raw)
	}
	p.st = s.State
	p.txn.loaded(p.st.Producers)
	return p.setApplied(b, index)
}

// Reads (any goroutine) -----------------------------------------------------

// highWatermark is the committed-and-applied next offset.
func (p *partitionSM) highWatermark() int64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.st.Next
}

// read returns whole batches from offset up to hw, at most maxBytes but at
// least one batch (KIP-74).
func (p *partitionSM) read(offset int64, maxBytes int32, hw int64) (FetchResult, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if hw < 0 || hw > p.st.Next {
		hw = p.st.Next
	}
	res := FetchResult{HighWatermark: hw, LastStable: min(hw, p.lastStableLocked()), LogStartOffset: p.st.LogStart}
	if offset < p.st.LogStart || offset > hw {
		return res, ErrOffsetOutOfRange
	}
	if offset == hw {
		return res, nil
	}
	i := sort.Search(len(p.index), func(i int) bool { return p.index[i].last >= offset })
	if i == len(p.index) {
		return res, nil
	}
	it, err := p.n.db.NewIter(&pebble.IterOptions{LowerBound: batchKey(p.gid, p.index[i].base), UpperBound: batchKey(p.gid, hw)})
	if err != nil {
		return res, fmt.Errorf("read %s/%d: %w", p.tp.Topic, p.tp.Partition, err)
	}
	defer it.Close()
	total := 0
	for ok := it.First(); ok; ok = it.Next() {
		v := it.Value()
		if len(res.Batches) > 0 && total+len(v) > int(maxBytes) {
			break
		}
		res.Batches = append(res.Batches, append([]byte(nil), v...))
		total += len(v)
	}
	if n := len(res.Batches); n > 0 {
		last := res.Batches[n-1]
		res.Aborted = p.txn.abortedIn(offset, indexEntry(last, int64(binary.BigEndian.Uint64(last))).last+1)
	}
	return res, it.Error()
}

// offsetForTime returns the first batch whose max timestamp >= ts.
func (p *partitionSM) offsetForTime(ts int64) (int64, int64) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	i := sort.Search(len(p.index), func(i int) bool { return p.index[i].prefixMax >= ts })
	if i == len(p.index) {
		return -1, -1
	}
	return p.index[i].base, p.index[i].maxTS
}

func (p *partitionSM) logStart() int64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.st.LogStart
}
