package replicas

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers/verdict"
)

// Name is the checker's section in results.json.
const Name = "replicas"

// Anomaly names (see the package comment).
const (
	AnomalyDivergence = "replica-divergence"
	AnomalyHole       = "replica-hole"
	AnomalyLostWrite  = "replica-lost-write"
	AnomalyStale      = "replica-stale"
	AnomalyMissing    = "replica-missing"
)

// Result is the replicas section of results.json.
type Result struct {
	verdict.Findings
	// Keys and Copies count what was compared; Records the records read
	// over all copies; Acked the acknowledged values checked on each copy.
	Keys    int `json:"keys"`
	Copies  int `json:"copies"`
	Records int `json:"records"`
	Acked   int `json:"acked"`
	// Nodes summarises each node's copies.
	Nodes map[string]*NodeSummary `json:"nodes"`
	// Unread lists the copies that could not be read ("n2 t0/1: why"),
	// at most maxUnread of them; UnreadCount counts all.
	Unread      []string `json:"unread,omitempty"`
	UnreadCount int      `json:"unread_count,omitempty"`
	// HWDiffers counts keys whose copies answered different high
	// watermarks in an order that is no anomaly (compared below the lower).
	HWDiffers int `json:"hw_differs,omitempty"`
}

// NodeSummary is one node's share of the comparison.
type NodeSummary struct {
	Keys    int `json:"keys"`
	Records int `json:"records"`
	Unread  int `json:"unread,omitempty"`
}

// maxUnread bounds the unread copies listed by name.
const maxUnread = 20

// CheckFiles runs Check on a run's files: the history at historyPath and
// the copies at replicasPath.
func CheckFiles(ctx context.Context, historyPath, replicasPath string, maxExamples int) (*Result, error) {
	copies, err := Read(replicasPath)
	if err != nil {
		return nil, err
	}
	acked, err := Acked(ctx, historyPath)
	if err != nil {
		return nil, err
	}
	return Check(copies, acked, maxExamples), nil
}

// CheckDir runs CheckFiles on dir/replicas.jsonl next to the history at
// historyPath, or returns nil, nil when the run read no replicas.
func CheckDir(ctx context.Context, historyPath string, maxExamples int) (*Result, error) {
	p := filepath.Join(filepath.Dir(historyPath), File)
	if _, err := os.Stat(p); err != nil {
		return nil, nil //nolint:nilerr // no file: a run that did not read replicas
	}
	return CheckFiles(ctx, historyPath, p, maxExamples)
}

// Check compares the copies with each other and with the acknowledged
// values (see the package comment). maxExamples caps examples per
// anomaly (0: 20).
func Check(copies []Copy, acked map[string][]Ack, maxExamples int) *Result {
	if maxExamples <= 0 {
		maxExamples = 20
	}
	res := &Result{Nodes: map[string]*NodeSummary{}}
	col := verdict.NewCollector(maxExamples)
	byKey := map[string][]*Copy{}
	var nodes []string
	var unread []string
	for i := range copies {
		c := &copies[i]
		ns := res.Nodes[c.Node]
		if ns == nil {
			ns = &NodeSummary{}
			res.Nodes[c.Node] = ns
			nodes = append(nodes, c.Node)
		}
		if c.Error != "" || c.Truncated {
			ns.Unread++
			why := c.Error
			if why == "" {
				why = fmt.Sprintf("read cut short at offset %d", c.HW)
			}
			what := c.Node
			if c.Key != "" {
				what += " " + c.Key
			}
			unread = append(unread, what+": "+why)
		}
		if c.Key == "" {
			continue
		}
		if c.Error == "" {
			ns.Keys++
			ns.Records += len(c.Records)
			res.Records += len(c.Records)
			res.Copies++
			byKey[c.Key] = append(byKey[c.Key], c)
		}
	}
	slices.Sort(nodes)
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	for k := range acked {
		if _, ok := byKey[k]; !ok && len(nodes) > 0 {
			unread = append(unread, "every node "+k+": no copy read of an acknowledged key")
		}
	}
	sort.Strings(keys)
	res.Keys = len(keys)
	for _, k := range keys {
		cs := byKey[k]
		slices.SortFunc(cs, func(a, b *Copy) int { return cmp.Compare(a.Node, b.Node) })
		kc := newKeyCheck(k, cs)
		kc.stale(col)
		kc.missing(col)
		kc.agreement(col)
		res.Acked += kc.acked(col, acked[k])
		if kc.hwDiffers {
			res.HWDiffers++
		}
	}
	res.Errors = col.Errors()
	sort.Strings(unread)
	res.UnreadCount = len(unread)
	res.Unread = unread[:min(len(unread), maxUnread)]
	switch {
	case len(res.Errors) > 0:
		res.Valid = verdict.False
	case len(copies) == 0:
		res.Valid, res.Error = verdict.Unknown, "no copy of any partition was read"
	case len(unread) > 0:
		res.Valid = verdict.Unknown
		res.Error = fmt.Sprintf("%d copies could not be read completely (%s)", len(unread), strings.Join(res.Unread[:min(len(res.Unread), 3)], "; "))
	default:
		res.Valid = verdict.True
	}
	if res.Errors == nil {
		res.Errors = map[string]*verdict.Anomaly{}
	}
	return res
}

// keyCheck compares the copies of one key.
type keyCheck struct {
	key    string
	copies []*Copy
	vals   []map[int64]int64 // per copy: offset -> value
	// hwDiffers: the copies answered different high watermarks.
	hwDiffers bool
}

func newKeyCheck(key string, cs []*Copy) *keyCheck {
	kc := &keyCheck{key: key, copies: cs}
	for _, c := range cs {
		m := make(map[int64]int64, len(c.Records))
		for _, r := range c.Records {
			if r.Offset < c.HW {
				m[r.Offset] = r.Value
			}
		}
		kc.vals = append(kc.vals, m)
		if c.HW != cs[0].HW {
			kc.hwDiffers = true
		}
	}
	return kc
}

func at(ns int64) string { return (time.Duration(ns)).Round(time.Millisecond).String() }

// stale reports a copy whose first answer came after another copy's last
// answer and shows a lower high watermark.
func (kc *keyCheck) stale(col *verdict.Collector) {
	for _, b := range kc.copies {
		for _, a := range kc.copies {
			if a == b || b.InvokedAt <= a.AnsweredAt || b.FirstHW >= a.HW {
				continue
			}
			col.Add(AnomalyStale, verdict.Case{
				Key: kc.key, Ops: []int64{}, Offsets: []int64{b.FirstHW, a.HW}, Fatal: true, Node: b.Node, Time: verdict.At(b.InvokedAt),
				Explanation: fmt.Sprintf("%s answered high watermark %d for %s in a read invoked at %s, after %s had answered %d at %s: a linearizable read went back",
					b.Node, b.FirstHW, kc.key, at(b.InvokedAt), a.Node, a.HW, at(a.AnsweredAt)),
			})
			break
		}
	}
}

// missing reports a copy that is absent (the node does not host the
// partition) while another copy holds records.
func (kc *keyCheck) missing(col *verdict.Collector) {
	var holder *Copy
	for _, c := range kc.copies {
		if !c.Absent && c.HW > c.LogStart && (holder == nil || c.HW > holder.HW) {
			holder = c
		}
	}
	if holder == nil {
		return
	}
	for _, c := range kc.copies {
		if !c.Absent {
			continue
		}
		col.Add(AnomalyMissing, verdict.Case{
			Key: kc.key, Ops: []int64{}, Offsets: []int64{holder.LogStart, holder.HW}, Fatal: true, Node: c.Node,
			Explanation: fmt.Sprintf("%s does not host %s, which %s holds up to its high watermark %d", c.Node, kc.key, holder.Node, holder.HW),
		})
	}
}

// finding accumulates one node's cases of one anomaly on one key.
type finding struct {
	first  int64
	values []int64
	others string
	n      int
}

// agreement compares the copies offset by offset below their high
// watermarks.
func (kc *keyCheck) agreement(col *verdict.Collector) {
	offsets := map[int64]bool{}
	for _, m := range kc.vals {
		for o := range m {
			offsets[o] = true
		}
	}
	sorted := make([]int64, 0, len(offsets))
	for o := range offsets {
		sorted = append(sorted, o)
	}
	slices.Sort(sorted)
	div := map[int]*finding{}
	holes := map[int]*finding{}
	for _, o := range sorted {
		present := map[int64][]int{} // value -> copies holding it
		var absent []int
		for i, c := range kc.copies {
			if o >= c.HW || o < c.LogStart {
				continue
			}
			if v, ok := kc.vals[i][o]; ok {
				present[v] = append(present[v], i)
			} else {
				absent = append(absent, i)
			}
		}
		if len(present) == 0 {
			continue
		}
		for _, i := range absent {
			h := holes[i]
			if h == nil {
				v, holders := anyValue(present)
				h = &finding{first: o, values: []int64{v}, others: kc.names(holders)}
				holes[i] = h
			}
			h.n++
		}
		if len(present) < 2 {
			continue
		}
		major, ok := majority(present)
		for v, idx := range present {
			if ok && v == major {
				continue
			}
			for _, i := range idx {
				d := div[i]
				if d == nil {
					other, holders := major, present[major]
					if !ok {
						other, holders = otherValue(present, v)
					}
					d = &finding{first: o, values: []int64{v, other}, others: kc.names(holders)}
					div[i] = d
				}
				d.n++
			}
		}
	}
	for i := range kc.copies {
		c := kc.copies[i]
		if d := div[i]; d != nil {
			col.Add(AnomalyDivergence, verdict.Case{
				Key: kc.key, Ops: []int64{}, Values: d.values, Offsets: []int64{d.first}, Fatal: true, Node: c.Node,
				Explanation: fmt.Sprintf("%s holds %d at offset %d of %s where %s hold %d (%d offsets of this copy differ)",
					c.Node, d.values[0], d.first, kc.key, d.others, d.values[1], d.n),
			})
		}
		if h := holes[i]; h != nil {
			col.Add(AnomalyHole, verdict.Case{
				Key: kc.key, Ops: []int64{}, Values: h.values, Offsets: []int64{h.first}, Fatal: true, Node: c.Node,
				Explanation: fmt.Sprintf("%s has no record at offset %d of %s, below its high watermark %d, where %s hold %d (%d offsets missing)",
					c.Node, h.first, kc.key, c.HW, h.others, h.values[0], h.n),
			})
		}
	}
}

// acked checks every acknowledged value on every copy and returns how
// many checks it made.
func (kc *keyCheck) acked(col *verdict.Collector, acks []Ack) int {
	slices.SortFunc(acks, func(a, b Ack) int { return cmp.Compare(a.Offset, b.Offset) })
	n := 0
	for i, c := range kc.copies {
		var first *Ack
		var found string
		missing := 0
		for j := range acks {
			a := &acks[j]
			n++
			if a.Offset < c.LogStart || c.Truncated && a.Offset >= c.HW {
				// Below the log start nothing is kept; above a cut-short
				// read nothing is known (the verdict is unknown already).
				continue
			}
			v, ok := kc.vals[i][a.Offset]
			if ok && v == a.Value {
				continue
			}
			missing++
			if first == nil {
				first = a
				switch {
				case c.Absent:
					found = "it does not host the partition"
				case a.Offset >= c.HW:
					found = fmt.Sprintf("its high watermark is %d", c.HW)
				case ok:
					found = fmt.Sprintf("it holds %d there", v)
				default:
					found = "it holds no record there"
				}
			}
		}
		if first == nil {
			continue
		}
		col.Add(AnomalyLostWrite, verdict.Case{
			Key: kc.key, Ops: []int64{first.Op}, Values: []int64{first.Value}, Offsets: []int64{first.Offset}, Fatal: true, Node: c.Node,
			Explanation: fmt.Sprintf("value %d acknowledged at offset %d of %s is not on %s: %s (%d acknowledged values missing or misplaced on this copy)",
				first.Value, first.Offset, kc.key, c.Node, found, missing),
		})
	}
	return n
}

func (kc *keyCheck) names(idx []int) string {
	ns := make([]string, len(idx))
	for i, j := range idx {
		ns[i] = kc.copies[j].Node
	}
	return strings.Join(ns, ", ")
}

// majority returns the value more than half of the copies holding a value
// at this offset agree on.
func majority(present map[int64][]int) (int64, bool) {
	total := 0
	for _, idx := range present {
		total += len(idx)
	}
	for v, idx := range present {
		if 2*len(idx) > total {
			return v, true
		}
	}
	return 0, false
}

// anyValue returns the lowest value present and its holders (deterministic).
func anyValue(present map[int64][]int) (int64, []int) {
	vs := make([]int64, 0, len(present))
	for v := range present {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs[0], present[vs[0]]
}

// otherValue returns the lowest value present other than v.
func otherValue(present map[int64][]int, v int64) (int64, []int) {
	rest := map[int64][]int{}
	for w, idx := range present {
		if w != v {
			rest[w] = idx
		}
	}
	return anyValue(rest)
}
