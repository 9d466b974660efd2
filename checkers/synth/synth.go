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
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed))
	hw := history.NewWriter(w, time.Now())
	var man Manifest
	parts := make([]*partition, cfg.Keys)
	for i := range parts {
		parts[i] = &partition{hidden: map[int64]bool{}}
	}
	key := func(k int) string { return fmt.Sprintf("%s/%d", cfg.Topic, k) }
	threads := make([]*thread, cfg.Threads)
	h := &evHeap{}
	var seq int64
	push := func(at time.Duration, t int, k evKind) {
		seq++
		heap.Push(h, event{at: at, seq: seq, thread: t, kind: k})
	}
	for i := range threads {
		threads[i] = &thread{process: i, key: i % cfg.Keys}
		push(time.Duration(1000+i*137), i, evInvoke)
	}
	nextProcess := cfg.Threads
	// Injections fire in order, each once the history has reached its
	// line and the previous one has been placed.
	type injection struct {
		at   int64
		kind string
	}
	var injects []injection
	for i, k := range cfg.Inject {
		injects = append(injects, injection{int64(cfg.Lines/3 + i*cfg.Lines/(3*max(1, len(cfg.Inject)))), k})
	}
	var lines int64
	var err error
	write := func(op history.Op, mops []history.Mop, keys []string) {
		if err != nil {
			return
		}
		switch {
		case mops != nil:
			if e := op.SetMops(mops); e != nil {
				err = e
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
		if _, e := hw.Write(op); e != nil {
			err = e
		}
		lines++
	}
	stopAt := int64(cfg.Lines) - int64(cfg.Threads)*2
	pendingInject := ""
	inflightSends := 0
	nemesisOpen := false
	lastNemesis := int64(0)
	for h.Len() > 0 && err == nil {
		ev := heap.Pop(h).(event)
		t := threads[ev.thread]
		now := ev.at
		if cfg.NemesisEvery > 0 && lines-lastNemesis >= int64(cfg.NemesisEvery) && lines < stopAt {
			lastNemesis = lines
			f := history.NemesisKill.Start
			if nemesisOpen {
				f = history.NemesisKill.Stop
			}
			nemesisOpen = !nemesisOpen
			val := []byte(`{"nodes":["n2"]}`)
			write(history.Op{Time: now, Process: history.Nemesis(), Type: history.Invoke, F: f, Value: val}, nil, nil)
			write(history.Op{Time: now, Process: history.Nemesis(), Type: history.Info, F: f, Value: val}, nil, nil)
		}
		if pendingInject == "" && len(injects) > 0 && lines >= injects[0].at {
			pendingInject = injects[0].kind
			injects = injects[1:]
		}
		if ev.kind == evInvoke {
			if lines >= stopAt {
				t.draining = true
			}
			p := parts[t.key]
			caughtUp := t.pos >= int64(len(p.log)) && (t.assigned || cfg.Workload == Log)
			if t.draining && caughtUp {
				if inflightSends == 0 {
					continue // drained: this client is done
				}
				// A send still in flight may land in our key: look again.
				push(now+time.Millisecond, ev.thread, evInvoke)
				continue
			}
			t.op = history.Op{Time: now, Process: history.Client(t.process), Type: history.Invoke}
			t.outcome = history.Ok
			t.inject = ""
			r := rng.Float64()
			if !t.draining {
				switch {
				case r < cfg.InfoRate:
					t.outcome = history.Info
				case r < cfg.InfoRate+cfg.FailRate:
					t.outcome = history.Fail
				}
			}
			switch {
			case cfg.Workload == Queue && !t.assigned:
				t.op.F = history.FAssign
				t.outcome = history.Ok
				write(t.op, nil, []string{key(t.key)})
			case !t.draining && rng.IntN(2) == 0:
				t.op.F = history.FSend
				t.sendKey = rng.IntN(cfg.Keys)
				sp := parts[t.sendKey]
				t.value = sp.next
				sp.next++
				if pendingInject == InjectLostWrite || pendingInject == InjectDuplicate || pendingInject == InjectG1a {
					t.inject, pendingInject = pendingInject, ""
					t.outcome = history.Ok
					if t.inject == InjectG1a {
						t.outcome = history.Fail
					}
				}
				inflightSends++
				write(t.op, []history.Mop{history.Send(key(t.sendKey), t.value)}, nil)
			case cfg.Workload == Queue:
				t.op.F = history.FPoll
				write(t.op, []history.Mop{history.Poll()}, nil)
			case t.draining:
				// The final drain of the log workload: read this client's
				// key from its position to the end.
				t.op.F = history.FRead
				t.sendKey = t.key
				t.readFrom = t.pos
				t.lenAtInv = len(p.log)
				write(t.op, []history.Mop{history.Read(key(t.sendKey), t.readFrom)}, nil)
			default:
				t.op.F = history.FRead
				t.sendKey = rng.IntN(cfg.Keys)
				n := len(parts[t.sendKey].log)
				t.readFrom = int64(max(0, n-rng.IntN(8)))
				t.lenAtInv = n
				if pendingInject == InjectStaleRead && n > 0 && parts[t.sendKey].okAt[n-1] {
					t.inject, pendingInject = pendingInject, ""
					t.outcome = history.Ok
				}
				write(t.op, []history.Mop{history.Read(key(t.sendKey), t.readFrom)}, nil)
			}
			push(now+time.Duration(500_000+rng.IntN(9_500_000)), ev.thread, evComplete)
			continue
		}
		// Completion: the operation takes effect now.
		op := t.op
		op.Time = now
		op.Type = t.outcome
		if t.outcome != history.Ok {
			op.Error = "simulated timeout"
			if t.outcome == history.Fail {
				op.Error = "simulated rejection"
			}
		}
		var out []history.Mop
		switch op.F {
		case history.FAssign:
			t.assigned = true
			write(op, nil, []string{key(t.key)})
		case history.FSend:
			inflightSends--
			sp := parts[t.sendKey]
			applied := t.outcome == history.Ok || (t.outcome == history.Info && rng.IntN(2) == 0) || t.inject == InjectG1a
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
			if t.outcome == history.Ok {
				m := history.Send(key(t.sendKey), t.value)
				m.Done, m.Offset = true, &off
				out = []history.Mop{m}
			} else {
				out = []history.Mop{history.Send(key(t.sendKey), t.value)}
			}
			write(op, out, nil)
			if t.inject != "" {
				man.Injected = append(man.Injected, Injected{Kind: t.inject, Key: key(t.sendKey), Op: lines - 1, Value: t.value})
			}
		case history.FPoll:
			p := parts[t.key]
			m := history.Mop{F: history.FPoll, Done: true, Polls: map[string][]history.Record{}}
			if t.outcome == history.Ok {
				var rs []history.Record
				n := 1 + rng.IntN(20)
				for t.pos < int64(len(p.log)) && len(rs) < n {
					if !p.hidden[t.pos] {
						rs = append(rs, history.Record{Offset: t.pos, Value: p.log[t.pos]})
					}
					t.pos++
				}
				m.Polls[key(t.key)] = rs
				out = []history.Mop{m}
			} else {
				out = []history.Mop{history.Poll()}
			}
			write(op, out, nil)
		case history.FRead:
			p := parts[t.sendKey]
			if t.outcome == history.Ok {
				n := int64(len(p.log))
				hwm := n
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
				m := history.Read(key(t.sendKey), t.readFrom)
				m.Done, m.Records, m.HW = true, rs, hwm
				out = []history.Mop{m}
			} else {
				out = []history.Mop{history.Read(key(t.sendKey), t.readFrom)}
			}
			write(op, out, nil)
			if t.inject != "" {
				man.Injected = append(man.Injected, Injected{Kind: t.inject, Key: key(t.sendKey), Op: lines - 1})
			}
		}
		if t.outcome == history.Info {
			// The contract: a client takes a new process number after an
			// info; it keeps its consumer position (committed offsets).
			t.process = nextProcess
			nextProcess++
			t.assigned = false
		}
		push(now+time.Duration(10_000+rng.IntN(500_000)), ev.thread, evInvoke)
	}
	if err == nil {
		err = hw.Flush()
	}
	if err != nil {
		return man, fmt.Errorf("generate history: %w", err)
	}
	man.Lines = lines
	return man, nil
}
