package kafka

import (
	"fmt"
)

// procState is what processChecks remembers per client process.
type procState struct {
	subscribed bool
	lastRead   map[int32]int32 // key -> op (position in c.ops) that last read it
	lastSend   map[int32]int32 // key -> op that last sent to it
}

// processChecks walks each process's operations in order, as Jepsen's
// poll-skip+nonmonotonic-cases and nonmonotonic-send-cases: a consumer's
// next poll of a key must start right after where its previous ok poll of
// that key ended, and a producer's sends to a key must go forward in the
// log. An assign or subscribe keeps only the positions of keys still
// assigned. Skips and reorders of a subscribed consumer are reported but
// allowed, because a rebalance may move partitions between consumers at
// any time; for an assigned consumer they are fatal. A crash (or an info
// completion, after which the process number is retired) forgets
// everything.
func (a *analysis) processChecks() {
	c := a.c
	procs := map[int64]*procState{}
	get := func(p int64) *procState {
		s := procs[p]
		if s == nil {
			s = &procState{subscribed: c.opts.DefaultSubscribed, lastRead: map[int32]int32{}, lastSend: map[int32]int32{}}
			procs[p] = s
		}
		return s
	}
	for i := range c.ops.Len() {
		o := c.ops.At(i)
		s := get(o.process)
		switch o.f {
		case fAssign, fSubscribe:
			if o.typ == tFail {
				break
			}
			s.subscribed = o.f == fSubscribe
			keep := map[int32]bool{}
			for _, k := range c.subKeys[o.kStart:o.kEnd] {
				keep[k] = true
			}
			for k := range s.lastRead {
				if !keep[k] {
					delete(s.lastRead, k)
				}
			}
			for k := range s.lastSend {
				if !keep[k] {
					delete(s.lastSend, k)
				}
			}
		case fPoll, fTxn:
			if o.hasExternalPos {
				a.pollStep(s, int32(i))
			}
			if o.f == fTxn {
				a.sendStep(s, int32(i))
			}
		case fSend:
			a.sendStep(s, int32(i))
		case fCrash:
			// A crash tears the client down: whatever it does next starts
			// from a fresh consumer and producer. Jepsen's crash always
			// ends in info, so the process number changes anyway; this
			// covers a crash recorded as ok.
			if o.typ != tFail {
				delete(procs, o.process)
			}
			continue
		}
		if o.typ == tInfo {
			// The process is retired after an info (history contract);
			// drop its state to keep memory bounded.
			delete(procs, o.process)
		}
	}
}

func (a *analysis) pollStep(s *procState, i int32) {
	c := a.c
	o := c.ops.At(int(i))
	for _, r := range c.opReads(o) {
		vs := c.values(r)
		if len(vs) == 0 {
			continue
		}
		prev, ok := s.lastRead[r.key]
		if ok {
			pr := readOf(c, c.ops.At(int(prev)), r.key)
			last := pr[len(pr)-1]
			v := last.value
			v2 := vs[0].value
			ord := a.orders[r.key]
			i1, ok1 := ord.indexOf(last.offset, v)
			i2, ok2 := ord.indexOf(vs[0].offset, v2)
			if ok1 && ok2 {
				key := c.keys[r.key]
				mode := "assigned"
				if s.subscribed {
					mode = "subscribed"
				}
				switch d := i2 - i1; {
				case d > 1:
					a.col.Add(PollSkip, Case{
						Key: key, Ops: []int64{a.idx(prev), o.index}, Values: []int64{v, v2}, Fatal: !s.subscribed,
						Explanation: fmt.Sprintf("%s process %d read %d from %s in op %d, then started at %d in op %d, skipping %d value(s) %s",
							mode, o.process, v, key, a.idx(prev), v2, o.index, d-1, fmtSkipped(ord, i1, i2)),
					})
				case d < 1:
					a.col.Add(NonmonotonicPoll, Case{
						Key: key, Ops: []int64{a.idx(prev), o.index}, Values: []int64{v, v2}, Fatal: !s.subscribed,
						Explanation: fmt.Sprintf("%s process %d read up to %d from %s in op %d, then started at %d in op %d, at or before where it left off (index delta %d, want 1)",
							mode, o.process, v, key, a.idx(prev), v2, o.index, d),
					})
				}
			}
		}
		if o.typ == tOk {
			s.lastRead[r.key] = i
		}
	}
}

func (a *analysis) sendStep(s *procState, i int32) {
	c := a.c
	o := c.ops.At(int(i))
	if o.typ != tOk && o.typ != tInfo {
		return
	}
	ws := c.opWrites(o)
	for j, w := range ws {
		first := true
		for q := 0; q < j; q++ {
			if ws[q].key == w.key {
				first = false
				break
			}
		}
		if !first {
			continue
		}
		if prev, ok := s.lastSend[w.key]; ok {
			pw := c.opWrites(c.ops.At(int(prev)))
			var v int64
			for _, x := range pw {
				if x.key == w.key {
					v = x.value
				}
			}
			ord := a.orders[w.key]
			i1, ok1 := ord.index(v)
			i2, ok2 := ord.index(w.value)
			if ok1 && ok2 && i2-i1 < 1 {
				key := c.keys[w.key]
				a.col.Add(NonmonotonicSend, Case{
					Key: key, Ops: []int64{a.idx(prev), o.index}, Values: []int64{v, w.value}, Fatal: true,
					Explanation: fmt.Sprintf("process %d sent %d to %s in op %d, then %d in op %d, which the log puts at or before %d (index delta %d, want >= 1)",
						o.process, v, key, a.idx(prev), w.value, o.index, v, i2-i1),
				})
			}
		}
	}
	for _, w := range ws {
		s.lastSend[w.key] = i
	}
}

// readOf returns what op o read from key k.
func readOf(c *Checker, o *kop, k int32) []rec {
	for _, r := range c.opReads(o) {
		if r.key == k {
			return c.values(r)
		}
	}
	return nil
}
