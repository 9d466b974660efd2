package reports

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"

	"github.com/chronik-chaos/chronik/checkers/replicas"
)

// A story's log excerpt says what clients acknowledged and read at each
// offset; when the run read every node's copy of every partition after the
// final heal (replicas.jsonl, package checkers/replicas), it also says what
// each node ended up holding there, so "according to whom" reaches the
// replicas: a duplicate whose nodes agree is a bug in what the log became,
// one where they differ is a divergence of the copies.

// copyCell is what one node's copy holds at one offset of the excerpt.
type copyCell struct {
	Node string
	// Text is the value, or why there is none: "none" (a hole below the
	// copy's high watermark), "above hw", "not hosted", "unread".
	Text  string
	Value bool
	// Odd marks a value the other copies do not hold, or a missing value
	// where another copy has one.
	Odd bool
}

// nodeCopy is one node's copy of one key, indexed by offset.
type nodeCopy struct {
	node    string
	records map[int64]int64
	hw      int64
	absent  bool
	err     string
}

// addReplicaCopies fills the copy cells of every story's log excerpt from
// runDir/replicas.jsonl. A run without the file (or a story without an
// excerpt) is left as it is; a file that cannot be read is noted in each
// excerpt it would have filled.
func (pg *runPage) addReplicaCopies(runDir string) {
	want := map[string]bool{}
	for _, a := range pg.Anomalies {
		if a.Story != nil && a.Story.Log != nil && len(a.Story.Log.Rows) > 0 {
			want[a.Story.Log.Key] = true
		}
	}
	if len(want) == 0 {
		return
	}
	all, err := replicas.Read(filepath.Join(runDir, replicas.File))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	byKey := map[string][]nodeCopy{}
	if err == nil {
		byKey = copiesOf(all, want)
	}
	for _, a := range pg.Anomalies {
		if a.Story == nil || a.Story.Log == nil || !want[a.Story.Log.Key] {
			continue
		}
		lx := a.Story.Log
		if err != nil {
			lx.CopiesNote = fmt.Sprintf("The nodes' copies could not be read from %s: %v.", replicas.File, err)
			continue
		}
		lx.fillCopies(byKey[lx.Key])
	}
}

// copiesOf keeps the copies of the wanted keys, by node name; a node that
// could not be read at all (a line without a key) counts as unread for
// every key.
func copiesOf(all []replicas.Copy, want map[string]bool) map[string][]nodeCopy {
	out := map[string][]nodeCopy{}
	var unread []replicas.Copy
	for _, c := range all {
		if c.Key == "" {
			unread = append(unread, c)
			continue
		}
		if !want[c.Key] {
			continue
		}
		nc := nodeCopy{node: c.Node, hw: c.HW, absent: c.Absent, err: c.Error, records: make(map[int64]int64, len(c.Records))}
		for _, r := range c.Records {
			nc.records[r.Offset] = r.Value
		}
		out[c.Key] = append(out[c.Key], nc)
	}
	for key := range want {
		for _, c := range unread {
			out[key] = append(out[key], nodeCopy{node: c.Node, err: c.Error})
		}
		sort.Slice(out[key], func(i, j int) bool { return out[key][i].node < out[key][j].node })
	}
	return out
}

// fillCopies sets each offset row's cells, one per node, and marks the
// cells that disagree with the value most copies hold.
func (lx *logExcerpt) fillCopies(cs []nodeCopy) {
	if len(cs) == 0 {
		lx.CopiesNote = "No node's copy of this key was read after the final heal."
		return
	}
	lx.HasCopies = true
	for i := range lx.Rows {
		row := &lx.Rows[i]
		if row.Skip > 0 {
			continue
		}
		votes := map[int64]int{}
		for _, c := range cs {
			cell := copyCell{Node: c.node}
			switch v, ok := c.records[row.Offset]; {
			case c.err != "":
				cell.Text = "unread"
			case c.absent:
				cell.Text = "not hosted"
			case ok:
				cell.Text, cell.Value = fmt.Sprint(v), true
				votes[v]++
			case row.Offset >= c.hw:
				cell.Text = "above hw"
			default:
				cell.Text = "none"
			}
			row.Copies = append(row.Copies, cell)
		}
		if len(votes) == 0 {
			continue
		}
		best, n := int64(0), -1
		for v, k := range votes {
			if k > n || k == n && v < best {
				best, n = v, k
			}
		}
		for j := range row.Copies {
			c := &row.Copies[j]
			held := c.Value && c.Text == fmt.Sprint(best)
			c.Odd = !held && (c.Value || c.Text == "none")
		}
		row.CopiesDisagree = len(votes) > 1 || slices.ContainsFunc(row.Copies, func(c copyCell) bool { return c.Odd })
	}
}
