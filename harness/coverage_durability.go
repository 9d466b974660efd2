package harness

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/nemesis"
)

// durabilityFacts are the durability nemeses' results as their infos
// recorded them in the history.
type durabilityFacts struct {
	// losses are the power losses of single nodes, by a power-loss
	// action or a crash point armed with power_loss.
	losses []nodeLoss
	// crashed counts crash points reached by point; notReached counts
	// armings disarmed unreached.
	crashed    map[string]int
	notReached int
	// corrupt counts the damaged nodes' answers: started, repaired,
	// refused, exited.
	corrupt map[string]int
}

// nodeLoss is what one power loss dropped on one node.
type nodeLoss struct {
	node string
	at   time.Duration
	via  string // the family name "power-loss", or "crash point <name>"
	drop nemesis.PowerLossDrop
}

// observeDurability reads one nemesis info of the durability families.
func (d *durabilityFacts) observe(e *history.Entry) {
	if e.Type != history.Info || len(e.Value) == 0 {
		return
	}
	switch e.F {
	case history.NemesisPowerLoss.Start:
		var v struct {
			Verified struct {
				Dropped map[string]nemesis.PowerLossDrop `json:"dropped"`
			} `json:"verified"`
		}
		if json.Unmarshal(e.Value, &v) != nil {
			return
		}
		for _, n := range slices.Sorted(maps.Keys(v.Verified.Dropped)) {
			d.losses = append(d.losses, nodeLoss{node: n, at: e.Time, via: history.NemesisPowerLoss.Name, drop: v.Verified.Dropped[n]})
		}
	case history.NemesisCrash.Stop:
		var v struct {
			Verified struct {
				Crashed map[string]struct {
					Point   string                 `json:"point"`
					Dropped *nemesis.PowerLossDrop `json:"dropped"`
				} `json:"crashed"`
				NotReached []string `json:"not_reached"`
			} `json:"verified"`
		}
		if json.Unmarshal(e.Value, &v) != nil {
			return
		}
		if d.crashed == nil {
			d.crashed = map[string]int{}
		}
		for _, n := range slices.Sorted(maps.Keys(v.Verified.Crashed)) {
			c := v.Verified.Crashed[n]
			d.crashed[c.Point]++
			if c.Dropped != nil {
				d.losses = append(d.losses, nodeLoss{node: n, at: e.Time, via: "crash point " + c.Point, drop: *c.Dropped})
			}
		}
		d.notReached += len(v.Verified.NotReached)
	case history.NemesisCorrupt.Stop:
		var v struct {
			Verified struct {
				Started map[string]struct {
					Repaired string `json:"repaired"`
				} `json:"started"`
				Refused map[string]string `json:"refused"`
				Exited  map[string]any    `json:"exited"`
			} `json:"verified"`
		}
		if json.Unmarshal(e.Value, &v) != nil {
			return
		}
		if d.corrupt == nil {
			d.corrupt = map[string]int{}
		}
		for _, s := range v.Verified.Started {
			d.corrupt["started"]++
			if s.Repaired != "" {
				d.corrupt["repaired"]++
			}
		}
		d.corrupt["refused"] += len(v.Verified.Refused)
		d.corrupt["exited"] += len(v.Verified.Exited)
	}
}

// busyWindow is how far back a power loss looks for acknowledged sends: a
// node that lost power within this long of the cluster acknowledging
// writes had unsynced state only if it fsyncs less than it must, or was
// caught mid-fsync; dropping nothing then is worth saying.
const busyWindow = 2 * time.Second

// durability adds the rows of the durability families: power losses with
// what they dropped per node, crash points reached, and how damaged nodes
// answered. A power loss that dropped nothing on a node while writes were
// being acknowledged is flagged: the fault did not bite (on a correct
// broker that is common, since every Raft append waits for its fsync; a
// broker that skips fsyncs shows drops).
func (c *coverage) durability() {
	d := c.in.hist.durability
	fams := c.in.faults
	if slices.Contains(fams, nemesis.FamilyPowerLoss) || len(d.losses) > 0 {
		var bytes int64
		perNode := map[string]int64{}
		nothing := 0
		for _, l := range d.losses {
			bytes += l.drop.BytesDropped
			perNode[l.node] += l.drop.BytesDropped
			dropped := l.drop.BytesDropped > 0 || l.drop.FilesRemoved+l.drop.FilesTruncated+l.drop.RenamesUndone+l.drop.RemovesUndone > 0
			if dropped {
				continue
			}
			nothing++
			if acks := c.acksBefore(l.at, busyWindow); acks > 0 {
				c.warn("power-loss: %s lost power at %s (%s) while %d writes were acknowledged in the %s before, and the loss dropped nothing (0 bytes, 0 files): nothing unsynced was there to lose, so this loss tested nothing",
					l.node, seconds(l.at), l.via, acks, busyWindow)
			}
		}
		var parts []string
		for _, n := range slices.Sorted(maps.Keys(perNode)) {
			parts = append(parts, fmt.Sprintf("%s %d B", n, perNode[n]))
		}
		detail := fmt.Sprintf("%d bytes dropped in all (%s); %d losses dropped nothing", bytes, orNone(parts), nothing)
		c.add("node power losses", count(int64(len(d.losses))), "history: power-loss and crash-restart infos (the broker's answer or log line)", detail)
		c.powerLossDrops = nonNilLosses(d.losses)
	}
	if slices.Contains(fams, nemesis.FamilyCrash) {
		n := 0
		var parts []string
		for _, p := range slices.Sorted(maps.Keys(d.crashed)) {
			n += d.crashed[p]
			parts = append(parts, fmt.Sprintf("%s %d", p, d.crashed[p]))
		}
		c.add("crash points reached", count(int64(n)), "history: crash-restart infos (exit 5 and the node's line)",
			fmt.Sprintf("%s; %d armings not reached before their stop", orNone(parts), d.notReached))
	}
	if slices.Contains(fams, nemesis.FamilyCorrupt) {
		total := d.corrupt["started"] + d.corrupt["refused"] + d.corrupt["exited"]
		c.add("stores damaged", count(int64(total)), "history: corrupt-start infos",
			fmt.Sprintf("%d started (%d with a torn tail repaired), %d refused (exit 3), %d exited otherwise",
				d.corrupt["started"], d.corrupt["repaired"], d.corrupt["refused"], d.corrupt["exited"]))
	}
}

// acksBefore counts sends acknowledged in (at-window, at].
func (c *coverage) acksBefore(at, window time.Duration) int {
	n := 0
	for _, spans := range c.in.hist.sends {
		for _, s := range spans {
			if s.to > at-window && s.to <= at {
				n++
			}
		}
	}
	return n
}

// powerLossTable renders the per-node drops for the results' fields.
func powerLossTable(ls []nodeLoss) []map[string]any {
	out := make([]map[string]any, 0, len(ls))
	for _, l := range ls {
		out = append(out, map[string]any{
			"node": l.node, "at_s": l.at.Seconds(), "via": l.via, "bytes_dropped": l.drop.BytesDropped,
			"files_truncated": l.drop.FilesTruncated, "files_removed": l.drop.FilesRemoved,
			"renames_undone": l.drop.RenamesUndone, "removes_undone": l.drop.RemovesUndone, "torn_writes": l.drop.TornWrites,
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i]["at_s"].(float64) < out[j]["at_s"].(float64) })
	return out
}

func nonNilLosses(ls []nodeLoss) []nodeLoss {
	if ls == nil {
		return []nodeLoss{}
	}
	return ls
}
