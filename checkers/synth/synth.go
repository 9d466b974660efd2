package synth

import (
	"container/heap"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// Workloads the generator can simulate.
const (
	// Queue is send + poll with assign'ed consumers.
	Queue = "queue"
	// Log is send + read (explicit offset reads with a high watermark).
	Log = "log"
)

// Injectable anomalies.
const (
	// InjectLostWrite acknowledges a send at an offset no reader will
	// ever see (the broker "loses" it), while later offsets stay visible.
	InjectLostWrite = "lost-write"
	// InjectDuplicate appends one acknowledged value at two offsets.
	InjectDuplicate = "duplicate"
	// InjectG1a makes a send fail to the client although its value was
	// appended and will be read.
	InjectG1a = "G1a"
	// InjectStaleRead makes one read report a high watermark one lower
	// than the log length all completed sends prove (log workload).
	InjectStaleRead = "stale-read"
)

// Config describes a synthetic history.
type Config struct {
	Seed int64
	// Lines is the target number of history lines (the final drain may
	// add a few more).
	Lines int
	// Keys is the number of partitions, named Topic/0 .. Topic/Keys-1.
	Keys  int
	Topic string
	// Threads is the number of concurrent clients. A client whose
	// operation ends in info continues as a new process number.
	Threads int
	// InfoRate and FailRate are the fractions of client operations that
	// end indefinite or failed.
	InfoRate, FailRate float64
	// Workload is Queue (default) or Log.
	Workload string
	// NemesisEvery adds a kill/restart window every so many lines (0:
	// none).
	NemesisEvery int
	// Inject lists anomalies to inject, each about a third of the way
	// into the history (spread apart when several).
	Inject []string
}

// Injected records where an anomaly was injected.
type Injected struct {
	Kind string
	Key  string
	// Op is the history index of the completion that carries the fault
	// (the send for lost-write, duplicate and G1a; the read for
	// stale-read).
	Op int64
	// Value is the message value involved (sends).
	Value int64
}

// Manifest describes a generated history.
type Manifest struct {
	Lines    int64
	Injected []Injected
}

type evKind uint8

const (
	evInvoke evKind = iota
	evComplete
)

type event struct {
	at     time.Duration
	seq    int64
	thread int
	kind   evKind
}

type evHeap []event

func (h evHeap) Len() int { return len(h) }
func (h evHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h evHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *evHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *evHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// partition is the simulated log of one key.
type partition struct {
	log    []int64
	hidden map[int64]bool // offsets readers skip (lost writes)
	okAt   []bool         // whether the entry came from an ok send
	next   int64          // next value to send
}

type thread struct {
	process  int
	assigned bool
	key      int   // the key this client consumes
	pos      int64 // consumer position in key
	op       history.Op
	mops     []history.Mop
	outcome  history.Type
	sendKey  int
	value    int64
	readFrom int64
	lenAtInv int
	draining bool
	inject   string
}

// Write simulates a correct (unless Inject says otherwise) Kafka-like
// cluster and writes its history to w.
func Write(w io.Writer, cfg Config) (Manifest, error) {
	s := newSim(w, cfg.withDefaults())
	for s.h.Len() > 0 && s.err == nil {
		ev := heap.Pop(s.h).(event)
		s.nemesis(ev.at)
		s.armInjection()
		if ev.kind == evInvoke {
			s.invoke(ev)
		} else {
			s.complete(ev)
		}
	}
	if s.err == nil {
		s.err = s.hw.Flush()
	}
	if s.err != nil {
		return s.man, fmt.Errorf("generate history: %w", s.err)
	}
	s.man.Lines = s.lines
	return s.man, nil
}

func (cfg Config) withDefaults() Config {
	if cfg.Keys <= 0 {
		cfg.Keys = 10
	}
	if cfg.Threads <= 0 {
		cfg.Threads = 20
	}
	if cfg.Topic == "" {
		cfg.Topic = "t0"
	}
	if cfg.Workload == "" {
		cfg.Workload = Queue
	}
	return cfg
}

// injection is an anomaly to inject once the history reaches line at.
type injection struct {
	at   int64
	kind string
}

// sim is the state of one simulation: the partitions' logs, the clients,
// the event queue and the history written so far. Every random choice
// comes from rng, in event order, so a Config always gives the same
// history.
type sim struct {
	cfg     Config
	rng     *rand.Rand
	hw      *history.Writer
	man     Manifest
	parts   []*partition
	threads []*thread
	h       *evHeap
	seq     int64
	// nextProcess is the process number the next client after an info
	// takes.
	nextProcess int
	// injects fire in order, each once the history has reached its line
	// and the previous one has been placed; pendingInject is the one
	// armed and waiting for a fitting operation.
	injects       []injection
	pendingInject string
	lines         int64
	err           error
	// stopAt is the line after which clients drain instead of starting
	// new work.
	stopAt        int64
	inflightSends int
	nemesisOpen   bool
	lastNemesis   int64
}

func newSim(w io.Writer, cfg Config) *sim {
	s := &sim{
		cfg:         cfg,
		rng:         rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed)),
		hw:          history.NewWriter(w, time.Now()),
		parts:       make([]*partition, cfg.Keys),
		threads:     make([]*thread, cfg.Threads),
		h:           &evHeap{},
		nextProcess: cfg.Threads,
		stopAt:      int64(cfg.Lines) - int64(cfg.Threads)*2,
	}
	for i := range s.parts {
		s.parts[i] = &partition{hidden: map[int64]bool{}}
	}
	for i := range s.threads {
		s.threads[i] = &thread{process: i, key: i % cfg.Keys}
		s.push(time.Duration(1000+i*137), i, evInvoke)
	}
	for i, k := range cfg.Inject {
		s.injects = append(s.injects, injection{int64(cfg.Lines/3 + i*cfg.Lines/(3*max(1, len(cfg.Inject)))), k})
	}
	return s
}

func (s *sim) key(k int) string { return fmt.Sprintf("%s/%d", s.cfg.Topic, k) }

func (s *sim) push(at time.Duration, t int, k evKind) {
	s.seq++
	heap.Push(s.h, event{at: at, seq: s.seq, thread: t, kind: k})
}

// write appends one history line: op with mops, or with keys (assign), or
// with its own Value. After the first error it does nothing.
func (s *sim) write(op history.Op, mops []history.Mop, keys []string) {
	if s.err != nil {
		return
	}
	switch {
	case mops != nil:
		if e := op.SetMops(mops); e != nil {
			s.err = e
			return
		}
	case keys != nil:
		b := []byte{'['}
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = fmt.Appendf(b, "%q", k)
		}
		op.Value = append(b, ']')
	}
	if _, e := s.hw.Write(op); e != nil {
		s.err = e
	}
	s.lines++
}

// nemesis opens or closes a kill window every NemesisEvery lines, until
// the clients drain.
func (s *sim) nemesis(now time.Duration) {
	if s.cfg.NemesisEvery <= 0 || s.lines-s.lastNemesis < int64(s.cfg.NemesisEvery) || s.lines >= s.stopAt {
		return
	}
	s.lastNemesis = s.lines
	f := history.NemesisKill.Start
	if s.nemesisOpen {
		f = history.NemesisKill.Stop
	}
	s.nemesisOpen = !s.nemesisOpen
	val := []byte(`{"nodes":["n2"]}`)
	s.write(history.Op{Time: now, Process: history.Nemesis(), Type: history.Invoke, F: f, Value: val}, nil, nil)
	s.write(history.Op{Time: now, Process: history.Nemesis(), Type: history.Info, F: f, Value: val}, nil, nil)
}

// armInjection arms the next injection once the history has reached its
// line and the previous one has been placed.
func (s *sim) armInjection() {
	if s.pendingInject == "" && len(s.injects) > 0 && s.lines >= s.injects[0].at {
		s.pendingInject = s.injects[0].kind
		s.injects = s.injects[1:]
	}
}

// invoke starts the next operation of the event's client, or retires a
// client that has drained its key.
func (s *sim) invoke(ev event) {
	t, now := s.threads[ev.thread], ev.at
	if s.lines >= s.stopAt {
		t.draining = true
	}
	p := s.parts[t.key]
	caughtUp := t.pos >= int64(len(p.log)) && (t.assigned || s.cfg.Workload == Log)
	if t.draining && caughtUp {
		if s.inflightSends == 0 {
			return // drained: this client is done
		}
		// A send still in flight may land in our key: look again.
		s.push(now+time.Millisecond, ev.thread, evInvoke)
		return
	}
	t.op = history.Op{Time: now, Process: history.Client(t.process), Type: history.Invoke}
	t.outcome = history.Ok
	t.inject = ""
	r := s.rng.Float64()
	if !t.draining {
		switch {
		case r < s.cfg.InfoRate:
			t.outcome = history.Info
		case r < s.cfg.InfoRate+s.cfg.FailRate:
			t.outcome = history.Fail
		}
	}
	switch {
	case s.cfg.Workload == Queue && !t.assigned:
		t.op.F = history.FAssign
		t.outcome = history.Ok
		s.write(t.op, nil, []string{s.key(t.key)})
	case !t.draining && s.rng.IntN(2) == 0:
		s.invokeSend(t)
	case s.cfg.Workload == Queue:
		t.op.F = history.FPoll
		s.write(t.op, []history.Mop{history.Poll()}, nil)
	case t.draining:
		// The final drain of the log workload: read this client's key
		// from its position to the end.
		t.op.F = history.FRead
		t.sendKey = t.key
		t.readFrom = t.pos
		t.lenAtInv = len(p.log)
		s.write(t.op, []history.Mop{history.Read(s.key(t.sendKey), t.readFrom)}, nil)
	default:
		s.invokeRead(t)
	}
	s.push(now+time.Duration(500_000+s.rng.IntN(9_500_000)), ev.thread, evComplete)
}

func (s *sim) invokeSend(t *thread) {
	t.op.F = history.FSend
	t.sendKey = s.rng.IntN(s.cfg.Keys)
	sp := s.parts[t.sendKey]
	t.value = sp.next
	sp.next++
	if s.pendingInject == InjectLostWrite || s.pendingInject == InjectDuplicate || s.pendingInject == InjectG1a {
		t.inject, s.pendingInject = s.pendingInject, ""
		t.outcome = history.Ok
		if t.inject == InjectG1a {
			t.outcome = history.Fail
		}
	}
	s.inflightSends++
	s.write(t.op, []history.Mop{history.Send(s.key(t.sendKey), t.value)}, nil)
}

func (s *sim) invokeRead(t *thread) {
	t.op.F = history.FRead
	t.sendKey = s.rng.IntN(s.cfg.Keys)
	n := len(s.parts[t.sendKey].log)
	t.readFrom = int64(max(0, n-s.rng.IntN(8)))
	t.lenAtInv = n
	if s.pendingInject == InjectStaleRead && n > 0 && s.parts[t.sendKey].okAt[n-1] {
		t.inject, s.pendingInject = s.pendingInject, ""
		t.outcome = history.Ok
	}
	s.write(t.op, []history.Mop{history.Read(s.key(t.sendKey), t.readFrom)}, nil)
}

// complete ends the event's client operation: it takes effect now.
func (s *sim) complete(ev event) {
	t, now := s.threads[ev.thread], ev.at
	op := t.op
	op.Time = now
	op.Type = t.outcome
	if t.outcome != history.Ok {
		op.Error = "simulated timeout"
		if t.outcome == history.Fail {
			op.Error = "simulated rejection"
		}
	}
	switch op.F {
	case history.FAssign:
		t.assigned = true
		s.write(op, nil, []string{s.key(t.key)})
	case history.FSend:
		s.completeSend(t, op)
	case history.FPoll:
		s.completePoll(t, op)
	case history.FRead:
		s.completeRead(t, op)
	}
	if t.outcome == history.Info {
		// The contract: a client takes a new process number after an
		// info; it keeps its consumer position (committed offsets).
		t.process = s.nextProcess
		s.nextProcess++
		t.assigned = false
	}
	s.push(now+time.Duration(10_000+s.rng.IntN(500_000)), ev.thread, evInvoke)
}

func (s *sim) completeSend(t *thread, op history.Op) {
	s.inflightSends--
	sp := s.parts[t.sendKey]
	applied := t.outcome == history.Ok || (t.outcome == history.Info && s.rng.IntN(2) == 0) || t.inject == InjectG1a
	off := int64(len(sp.log))
	if applied {
		sp.log = append(sp.log, t.value)
		sp.okAt = append(sp.okAt, t.outcome == history.Ok)
	}
	switch t.inject {
	case InjectLostWrite:
		sp.hidden[off] = true
	case InjectDuplicate:
		sp.log = append(sp.log, t.value)
		sp.okAt = append(sp.okAt, true)
	}
	out := []history.Mop{history.Send(s.key(t.sendKey), t.value)}
	if t.outcome == history.Ok {
		out[0].Done, out[0].Offset = true, &off
	}
	s.write(op, out, nil)
	if t.inject != "" {
		s.man.Injected = append(s.man.Injected, Injected{Kind: t.inject, Key: s.key(t.sendKey), Op: s.lines - 1, Value: t.value})
	}
}

func (s *sim) completePoll(t *thread, op history.Op) {
	p := s.parts[t.key]
	if t.outcome != history.Ok {
		s.write(op, []history.Mop{history.Poll()}, nil)
		return
	}
	m := history.Mop{F: history.FPoll, Done: true, Polls: map[string][]history.Record{}}
	var rs []history.Record
	n := 1 + s.rng.IntN(20)
	for t.pos < int64(len(p.log)) && len(rs) < n {
		if !p.hidden[t.pos] {
			rs = append(rs, history.Record{Offset: t.pos, Value: p.log[t.pos]})
		}
		t.pos++
	}
	m.Polls[s.key(t.key)] = rs
	s.write(op, []history.Mop{m}, nil)
}

func (s *sim) completeRead(t *thread, op history.Op) {
	p := s.parts[t.sendKey]
	out := []history.Mop{history.Read(s.key(t.sendKey), t.readFrom)}
	if t.outcome == history.Ok {
		hwm := int64(len(p.log))
		if t.inject == InjectStaleRead {
			hwm = int64(t.lenAtInv) - 1
		}
		var rs []history.Record
		limit := 10
		if t.draining {
			limit = 100
		}
		for o := t.readFrom; o < hwm && len(rs) < limit; o++ {
			rs = append(rs, history.Record{Offset: o, Value: p.log[o]})
		}
		if t.draining {
			t.pos = t.readFrom + int64(len(rs))
		}
		out[0].Done, out[0].Records, out[0].HW = true, rs, hwm
	}
	s.write(op, out, nil)
	if t.inject != "" {
		s.man.Injected = append(s.man.Injected, Injected{Kind: t.inject, Key: s.key(t.sendKey), Op: s.lines - 1})
	}
}
