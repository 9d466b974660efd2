package kafka

import (
	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/internal/blocks"
)

// Options tune the analysis.
type Options struct {
	// MaxExamples caps the examples kept per anomaly name; all cases are
	// still counted. Zero means 20.
	MaxExamples int
	// DefaultSubscribed says how to treat a process that polls before any
	// assign or subscribe completed: false (the default) treats it as an
	// assigned consumer, whose skips and reorders are fatal. Our harness
	// always records assign/subscribe before a consumer's first poll, so
	// the default only matters for hand-written histories.
	DefaultSubscribed bool
	// AllowUnseen makes unseen writes non-fatal. Jepsen treats them as
	// fatal because its final generator drains every partition; set this
	// for histories recorded without a final drain.
	AllowUnseen bool
}

// Function codes of stored operations.
const (
	fSend uint8 = iota
	fPoll
	fTxn
	fRead
	fAssign
	fSubscribe
	fCrash
)

// Type codes of stored operations.
const (
	tOk uint8 = iota
	tFail
	tInfo
)

// kop is the compact summary of one client completion. There is one per
// completion of the whole history, so the fields are ordered to leave no
// padding (56 bytes).
type kop struct {
	index          int64
	process        int64 // client process numbers are arbitrary non-negative ints
	invokeIdx      int64
	rStart, rEnd   int32 // into Checker.reads
	wStart, wEnd   int32 // into Checker.writes
	kStart, kEnd   int32 // into Checker.subKeys, for assign/subscribe
	typ            uint8
	f              uint8
	pending        bool
	hasExternalPos bool // reads come from a consumer position (poll), not an explicit offset (read)
}

// kread is the records one operation read from one key, in order.
type kread struct {
	key        int32
	start, end int32 // into Checker.recs
}

// kwrite is one value one operation sent.
type kwrite struct {
	key    int32
	value  int64
	offset int64 // -1 when unknown
}

type rec struct {
	offset int64
	value  int64
}

// kv names one message: a value of a key.
type kv struct {
	key int32
	v   int64
}

// Checker accumulates a history for the Kafka analysis. It is not safe for
// concurrent use.
type Checker struct {
	opts    Options
	keyIDs  map[string]int32
	keys    []string
	ops     blocks.List[kop]
	reads   []kread
	writes  []kwrite
	recs    []rec
	subKeys []int32
	scratch map[int32]int // key -> position in the current op's reads
	// producers names the producer kind of each value sent by a producer
	// that recorded one (history.Op.Producer), for the explanations.
	producers map[kv]string
	// lastKey and lastID are the key key() returned last.
	lastKey  string
	lastID   int32
	haveLast bool
}

// New returns an empty Checker.
func New(opts Options) *Checker {
	if opts.MaxExamples <= 0 {
		opts.MaxExamples = 20
	}
	return &Checker{opts: opts, keyIDs: map[string]int32{}, scratch: map[int32]int{}}
}

func (c *Checker) key(k string) int32 {
	// Consecutive micro-operations mostly name the same key, and the
	// decoder interns keys, so this compare is usually a pointer check
	// that saves a string-map lookup.
	if c.haveLast && c.lastKey == k {
		return c.lastID
	}
	if id, ok := c.keyIDs[k]; ok {
		c.lastKey, c.lastID, c.haveLast = k, id, true
		return id
	}
	id := int32(len(c.keys))
	c.keyIDs[k] = id
	c.keys = append(c.keys, k)
	return id
}

// Observe records one history entry. Invocations, nemesis events and
// functions the analysis does not use are ignored.
func (c *Checker) Observe(e *history.Entry) {
	if e.Type == history.Invoke || e.Process.Nemesis {
		return
	}
	op := kop{index: e.Index, process: int64(e.Process.ID), pending: e.Pending, invokeIdx: e.InvokeIndex}
	switch e.Type {
	case history.Ok:
		op.typ = tOk
	case history.Fail:
		op.typ = tFail
	default:
		op.typ = tInfo
	}
	switch e.F {
	case history.FSend:
		op.f = fSend
	case history.FPoll:
		op.f = fPoll
	case history.FTxn:
		op.f = fTxn
	case history.FRead:
		op.f = fRead
	case history.FAssign, history.FSubscribe:
		op.f = fAssign
		if e.F == history.FSubscribe {
			op.f = fSubscribe
		}
		op.kStart = int32(len(c.subKeys))
		for _, k := range e.Keys {
			c.subKeys = append(c.subKeys, c.key(k))
		}
		op.kEnd = int32(len(c.subKeys))
		c.ops.Add(op)
		return
	case history.FCrash:
		op.f = fCrash
		c.ops.Add(op)
		return
	default:
		return
	}
	op.rStart, op.wStart = int32(len(c.reads)), int32(len(c.writes))
	clear(c.scratch)
	mops := e.Mops
	for i := range mops {
		m := &mops[i]
		switch m.F {
		case history.FSend:
			w := kwrite{key: c.key(m.Key), value: m.Value, offset: -1}
			if m.Done && m.Offset != nil {
				w.offset = *m.Offset
			}
			if e.Producer != "" && e.Producer != history.ProducerIdempotent {
				if c.producers == nil {
					c.producers = map[kv]string{}
				}
				c.producers[kv{w.key, w.value}] = e.Producer
			}
			c.writes = append(c.writes, w)
		case history.FPoll:
			if !m.Done {
				continue
			}
			op.hasExternalPos = true
			if len(m.Polls) == 1 {
				for k, rs := range m.Polls {
					c.addRead(c.key(k), rs)
				}
				continue
			}
			for _, k := range sortedKeys(m.Polls) {
				c.addRead(c.key(k), m.Polls[k])
			}
		case history.FRead:
			if m.Done {
				c.addRead(c.key(m.Key), m.Records)
			}
		}
	}
	op.rEnd, op.wEnd = int32(len(c.reads)), int32(len(c.writes))
	c.ops.Add(op)
}

// addRead appends records to the current op's read of key k, merging
// several polls of the same key inside one transaction into one sequence,
// as Jepsen's op-reads does.
func (c *Checker) addRead(k int32, rs []history.Record) {
	if len(rs) == 0 {
		return
	}
	// Extend in place only when the key's records are the last ones
	// stored: a key moved to the end by the branch below, then followed
	// by another key's move, is the last read but not the last records.
	if pos, ok := c.scratch[k]; ok && pos == len(c.reads)-1 && int(c.reads[pos].end) == len(c.recs) {
		for _, r := range rs {
			c.recs = append(c.recs, rec{offset: r.Offset, value: r.Value})
		}
		c.reads[pos].end = int32(len(c.recs))
		return
	}
	if pos, ok := c.scratch[k]; ok {
		// Same key read again after another key: move the earlier records
		// to the end so the key's reads stay one contiguous run.
		old := c.reads[pos]
		start := int32(len(c.recs))
		c.recs = append(c.recs, c.recs[old.start:old.end]...)
		for _, r := range rs {
			c.recs = append(c.recs, rec{offset: r.Offset, value: r.Value})
		}
		c.reads[pos] = kread{key: k, start: start, end: int32(len(c.recs))}
		return
	}
	start := int32(len(c.recs))
	for _, r := range rs {
		c.recs = append(c.recs, rec{offset: r.Offset, value: r.Value})
	}
	c.scratch[k] = len(c.reads)
	c.reads = append(c.reads, kread{key: k, start: start, end: int32(len(c.recs))})
}

func sortedKeys(m map[string][]history.Record) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}

func (c *Checker) opReads(o *kop) []kread   { return c.reads[o.rStart:o.rEnd] }
func (c *Checker) opWrites(o *kop) []kwrite { return c.writes[o.wStart:o.wEnd] }
func (c *Checker) values(r kread) []rec     { return c.recs[r.start:r.end] }
