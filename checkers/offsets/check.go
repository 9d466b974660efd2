package offsets

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/verdict"
)

// Name is the checker's section in results.json.
const Name = "offsets"

// Anomaly names (see the package comment).
const (
	AnomalyLostCommit = "lost-commit"
	AnomalyJoinReread = "join-reread"
	AnomalyJoinSkip   = "join-skip"
)

// none is the register value of a group without a commit for a key.
const none = -1

// Result is the offsets section of results.json.
type Result struct {
	verdict.Findings
	// Groups and Registers count the groups and (group, key) pairs seen;
	// Commits and Reads the commit and OffsetFetch completions (ok and
	// info; failed ones are not counted); Joins the joins checked.
	Groups    int `json:"groups"`
	Registers int `json:"registers"`
	Commits   int `json:"commits"`
	Reads     int `json:"reads"`
	Joins     int `json:"joins"`
	// Registers whose search did not finish in the time budget.
	Undecided []string `json:"undecided,omitempty"`
}

// Options tune the checker.
type Options struct {
	// MaxExamples caps the examples per anomaly; zero means 20.
	MaxExamples int
}

type reg struct{ group, key string }

// commit is one commit's effect on one register.
type commit struct {
	value    int64
	inv, ret time.Duration // ret is math.MaxInt64 when the outcome is unknown
	invIdx   int64
	retIdx   int64
	ok       bool
}

// read is one OffsetFetch of one register.
type read struct {
	value    int64
	inv, ret time.Duration
	idx      int64
}

// join is a fresh consumer's first subscribe and its first polls per key.
type join struct {
	group  string
	inv    time.Duration
	idx    int64
	keys   map[string]bool
	first  map[string]firstPoll
	closed bool // the process did something else that ends the check
}

type firstPoll struct {
	offset int64
	ret    time.Duration
	idx    int64
}

// Checker collects a history's group operations; feed it every entry in
// order with Observe, then call Result once.
type Checker struct {
	opts    Options
	invokes map[int]*history.Entry // open client invocations by process
	commits map[reg][]commit
	reads   map[reg][]read
	// groupReads are the ok OffsetFetch answers per group, applied to
	// every key of the group at the end (a key absent reads none).
	groupReads map[string][]groupRead
	// fresh marks processes that have not yet done any consumer
	// operation; joins holds those whose first one was a subscribe.
	started map[int]bool
	joins   map[int]*join
	// seen are the offsets of records that some poll or read returned.
	seen    map[string]map[int64]bool
	commitN int
	readN   int
}

type groupRead struct {
	offs     map[string]int64
	inv, ret time.Duration
	idx      int64
}

// New returns an empty checker.
func New(opts Options) *Checker {
	if opts.MaxExamples <= 0 {
		opts.MaxExamples = 20
	}
	return &Checker{opts: opts, invokes: map[int]*history.Entry{}, commits: map[reg][]commit{},
		reads: map[reg][]read{}, groupReads: map[string][]groupRead{}, started: map[int]bool{},
		joins: map[int]*join{}, seen: map[string]map[int64]bool{}}
}

// Observe takes the next history entry.
func (c *Checker) Observe(e *history.Entry) {
	if !e.IsClient() {
		return
	}
	p := e.Process.ID
	if e.Type == history.Invoke {
		if e.F == history.FCommit {
			cp := *e
			c.invokes[p] = &cp
		}
		switch e.F {
		case history.FAssign, history.FPoll, history.FTxn:
			if !c.started[p] {
				c.started[p] = true
			}
		case history.FSubscribe:
			if !c.started[p] {
				c.started[p] = true
				if e.Group != "" {
					j := &join{group: e.Group, inv: e.Time, idx: e.Index, keys: map[string]bool{}, first: map[string]firstPoll{}}
					for _, k := range e.Keys {
						j.keys[k] = true
					}
					c.joins[p] = j
				}
			} else if j := c.joins[p]; j != nil {
				j.closed = true // a later join: the process has positions of its own
			}
		}
		return
	}
	switch e.F {
	case history.FCommit:
		c.observeCommit(e)
	case history.FOffsets:
		if e.Type == history.Ok && e.Group != "" {
			c.readN++
			c.groupReads[e.Group] = append(c.groupReads[e.Group], groupRead{offs: e.Offsets, inv: e.InvokeTime, ret: e.Time, idx: e.Index})
		}
	case history.FPoll, history.FTxn, history.FRead:
		if e.Type == history.Ok {
			c.observeRecords(e)
		}
	case history.FAssign:
		if j := c.joins[p]; j != nil {
			j.closed = true
		}
	case history.FSubscribe:
		if j := c.joins[p]; j != nil && e.Type != history.Ok && e.InvokeIndex == j.idx {
			delete(c.joins, p) // the join did not happen
		}
	}
}

func (c *Checker) observeCommit(e *history.Entry) {
	inv := c.invokes[e.Process.ID]
	delete(c.invokes, e.Process.ID)
	if inv == nil || e.Type == history.Fail || inv.Group == "" {
		return
	}
	c.commitN++
	cm := commit{inv: inv.Time, invIdx: inv.Index, retIdx: e.Index, ret: math.MaxInt64}
	offs := inv.Offsets
	if e.Type == history.Ok && !e.Pending {
		cm.ret, cm.ok = e.Time, true
		// An ok completion names what was committed: partitions the
		// coordinator refused are left out.
		if e.Offsets != nil {
			offs = e.Offsets
		}
	}
	for k, v := range offs {
		x := cm
		x.value = v
		r := reg{inv.Group, k}
		c.commits[r] = append(c.commits[r], x)
	}
}

func (c *Checker) observeRecords(e *history.Entry) {
	j := c.joins[e.Process.ID]
	for _, m := range e.Mops {
		switch m.F {
		case history.FPoll:
			for k, rs := range m.Polls {
				for _, r := range rs {
					c.see(k, r.Offset)
				}
				if j != nil && !j.closed && len(rs) > 0 && j.keys[k] {
					if _, ok := j.first[k]; !ok {
						j.first[k] = firstPoll{offset: rs[0].Offset, ret: e.Time, idx: e.Index}
					}
				}
			}
		case history.FRead:
			for _, r := range m.Records {
				c.see(m.Key, r.Offset)
			}
		}
	}
}

func (c *Checker) see(k string, o int64) {
	s := c.seen[k]
	if s == nil {
		s = map[int64]bool{}
		c.seen[k] = s
	}
	s[o] = true
}

// Result decides both rules; registers whose search ctx cut short are
// unknown.
func (c *Checker) Result(ctx context.Context) *Result {
	col := verdict.NewCollector(c.opts.MaxExamples)
	res := &Result{Commits: c.commitN, Reads: c.readN}
	groups := map[string]bool{}
	for r := range c.commits {
		groups[r.group] = true
	}
	// A key some read returned is a register even without a commit
	// (a value nobody wrote is itself a lost commit's trace).
	for g, grs := range c.groupReads {
		for _, gr := range grs {
			for k := range gr.offs {
				if r := (reg{g, k}); c.commits[r] == nil {
					c.commits[r] = []commit{}
				}
			}
		}
	}
	// Every ok read of a group reads every key the group committed.
	for r := range c.commits {
		for _, gr := range c.groupReads[r.group] {
			v, ok := gr.offs[r.key]
			if !ok {
				v = none
			}
			c.reads[r] = append(c.reads[r], read{value: v, inv: gr.inv, ret: gr.ret, idx: gr.idx})
		}
	}
	for g := range c.groupReads {
		groups[g] = true
	}
	regs := make([]reg, 0, len(c.commits))
	for r := range c.commits {
		regs = append(regs, r)
	}
	sort.Slice(regs, func(i, j int) bool {
		if regs[i].group != regs[j].group {
			return regs[i].group < regs[j].group
		}
		return regs[i].key < regs[j].key
	})
	res.Groups, res.Registers = len(groups), len(regs)
	unknown := false
	for _, r := range regs {
		switch c.checkRegister(ctx, r) {
		case porcupine.Illegal:
			col.Add(AnomalyLostCommit, c.explainLost(r))
		case porcupine.Unknown:
			unknown = true
			res.Undecided = append(res.Undecided, r.group+" "+r.key)
		}
	}
	res.Joins = c.checkJoins(col)
	res.Errors = col.Errors()
	res.Valid = verdict.Of(len(res.Errors) == 0)
	if unknown && res.Valid == verdict.True {
		res.Valid = verdict.Unknown
		res.Error = fmt.Sprintf("%d registers undecided in the time budget", len(res.Undecided))
	}
	return res
}

type regInput struct {
	write bool
	value int64
}

// registerModel is a single integer register starting at none.
var registerModel = porcupine.Model{
	Init: func() any { return int64(none) },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regInput)
		if in.write {
			return true, in.value
		}
		return output.(int64) == state.(int64), state
	},
	Equal: func(a, b any) bool { return a.(int64) == b.(int64) },
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		if in.write {
			return fmt.Sprintf("commit %d", in.value)
		}
		return fmt.Sprintf("fetch -> %d", output.(int64))
	},
}

func (c *Checker) checkRegister(ctx context.Context, r reg) porcupine.CheckResult {
	var ops []porcupine.Operation
	for i, w := range c.commits[r] {
		ops = append(ops, porcupine.Operation{ClientId: i, Input: regInput{write: true, value: w.value},
			Call: int64(w.inv), Return: int64(w.ret), Output: int64(0)})
	}
	n := len(ops)
	for i, rd := range c.reads[r] {
		ops = append(ops, porcupine.Operation{ClientId: n + i, Input: regInput{}, Call: int64(rd.inv),
			Return: int64(rd.ret), Output: rd.value})
	}
	timeout := time.Duration(0)
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	return porcupine.CheckOperationsTimeout(registerModel, ops, timeout)
}

// explainLost finds a read that returned neither the last commit
// acknowledged before it nor any commit that may have followed: the
// simplest witness of a lost commit.
func (c *Checker) explainLost(r reg) verdict.Case {
	ws := c.commits[r]
	for _, rd := range c.reads[r] {
		possible := c.candidates(ws, rd.inv, rd.ret)
		if possible[rd.value] {
			continue
		}
		cs := verdict.Case{Key: r.key, Fatal: true, Ops: []int64{}}
		var last *commit
		for i := range ws {
			if ws[i].ok && ws[i].ret < rd.inv && (last == nil || ws[i].ret > last.ret) {
				last = &ws[i]
			}
		}
		what := "none"
		if rd.value != none {
			what = fmt.Sprint(rd.value)
		}
		if last != nil {
			cs.Ops = append(cs.Ops, last.invIdx, last.retIdx)
			cs.Offsets = []int64{last.value}
			cs.Explanation = fmt.Sprintf("group %s: OffsetFetch (op %d) returned %s for %s after the commit of %d (op %d) was acknowledged, and no commit that could follow it wrote %s",
				r.group, rd.idx, what, r.key, last.value, last.retIdx, what)
		} else {
			cs.Explanation = fmt.Sprintf("group %s: OffsetFetch (op %d) returned %s for %s, which no commit that may have taken effect by then wrote", r.group, rd.idx, what, r.key)
		}
		cs.Ops = append(cs.Ops, rd.idx)
		return cs
	}
	// Porcupine found no order although each read alone has a candidate
	// (reads that disagree with each other's order).
	cs := verdict.Case{Key: r.key, Fatal: true, Ops: []int64{}}
	for _, rd := range c.reads[r] {
		cs.Ops = append(cs.Ops, rd.idx)
		if len(cs.Ops) == 8 {
			break
		}
	}
	cs.Explanation = fmt.Sprintf("group %s: the commits and OffsetFetch answers of %s have no linearization (reads disagree on the order of commits)", r.group, r.key)
	return cs
}

// candidates returns the register values a read or a join during
// [from, to] may observe: every commit invoked before to that no
// acknowledged commit superseded before from, and none when no commit was
// acknowledged before from.
func (c *Checker) candidates(ws []commit, from, to time.Duration) map[int64]bool {
	out := map[int64]bool{}
	acked := false
	for _, w := range ws {
		if w.ok && w.ret < from {
			acked = true
		}
	}
	if !acked {
		out[none] = true
	}
	for i, w := range ws {
		if w.inv >= to {
			continue
		}
		superseded := false
		for j, w2 := range ws {
			if j != i && w2.ok && w2.inv > w.ret && w2.ret < from {
				superseded = true
				break
			}
		}
		if !superseded {
			out[w.value] = true
		}
	}
	return out
}

// checkJoins applies the join rule and returns how many (join, key) pairs
// it checked.
func (c *Checker) checkJoins(col *verdict.Collector) int {
	procs := make([]int, 0, len(c.joins))
	for p := range c.joins {
		procs = append(procs, p)
	}
	slices.Sort(procs)
	n := 0
	for _, p := range procs {
		j := c.joins[p]
		keys := make([]string, 0, len(j.first))
		for k := range j.first {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fp := j.first[k]
			n++
			cands := c.candidates(c.commits[reg{j.group, k}], j.inv, fp.ret)
			starts := make([]int64, 0, len(cands))
			for v := range cands {
				starts = append(starts, max(v, 0)) // none: the log start
			}
			slices.Sort(starts)
			okStart, skipped := false, int64(-1)
			for _, s := range starts {
				if s > fp.offset {
					continue
				}
				if gap := c.firstSeenIn(k, s, fp.offset); gap < 0 {
					okStart = true
					break
				} else if skipped < 0 {
					skipped = gap
				}
			}
			if okStart {
				continue
			}
			cs := verdict.Case{Key: k, Fatal: true, Ops: []int64{j.idx, fp.idx}, Offsets: []int64{fp.offset}}
			if skipped >= 0 {
				cs.Offsets = append(cs.Offsets, skipped)
				cs.Explanation = fmt.Sprintf("group %s: a consumer that joined (op %d) first polled %s at offset %d, skipping offset %d, which no commit the group could hold covered (possible starts %v)",
					j.group, j.idx, k, fp.offset, skipped, starts)
				col.Add(AnomalyJoinSkip, cs)
				continue
			}
			cs.Explanation = fmt.Sprintf("group %s: a consumer that joined (op %d) first polled %s at offset %d, below every offset the group could hold (possible starts %v): committed records delivered again",
				j.group, j.idx, k, fp.offset, starts)
			col.Add(AnomalyJoinReread, cs)
		}
	}
	return n
}

// firstSeenIn returns the lowest offset in [from, to) of a record some
// read returned for k, or -1.
func (c *Checker) firstSeenIn(k string, from, to int64) int64 {
	best := int64(-1)
	for o := range c.seen[k] {
		if o >= from && o < to && (best < 0 || o < best) {
			best = o
		}
	}
	return best
}
