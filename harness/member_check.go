package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/checkers/windows"
)

// MembershipName is the membership checker's section in results.json.
const MembershipName = "membership"

// AnomalyMemberStall: writes stopped for longer than MemberStallLimit
// during a membership change while a majority of the voters before the
// change was up and no network fault was in effect. Raft keeps a group
// available while a majority of its voters is up and connected, and a
// membership change must not take that away: a new server joins as a
// learner that counts in no quorum until it has caught up (Raft thesis
// §4.2.1), a removed leader hands over first, and a replacement swaps
// voters through a joint configuration whose both majorities are up.
// What is left is at most a leader change, a few election timeouts.
const AnomalyMemberStall = "member-stall"

// AnomalyMemberUnsettled: after the final heal, with every node up and
// connected, a membership change that the broker had accepted still had
// not ended (a member stayed joining or leaving). Raft guarantees that a
// committed configuration change completes once a majority of the new
// (and old) configuration can communicate; the broker promotes or removes
// a member once it caught up or left every group.
const AnomalyMemberUnsettled = "member-unsettled"

// MemberStallLimit is the longest gap between acknowledged writes that a
// membership change may cause under the conditions above: several
// election timeouts (500 ms each) plus the clients' metadata refresh and
// retry back-off after a leader moved.
var MemberStallLimit = 7 * time.Second

// memberChange is one member action of the history and what the check
// measured in it.
type memberChange struct {
	Op      string   `json:"op"`
	Nodes   []string `json:"nodes"`
	StartS  float64  `json:"start_s"`
	TookS   float64  `json:"took_s"`
	Refused string   `json:"refused,omitempty"`
	// Unfinished says the change did not complete within its action.
	Unfinished bool `json:"unfinished,omitempty"`
	// LongestStallS is the longest gap between acknowledged writes within
	// the change (from its request to its verification).
	LongestStallS float64 `json:"longest_stall_s"`
	// Judged says the conditions of AnomalyMemberStall held; otherwise
	// Why says which did not.
	Judged bool   `json:"judged"`
	Why    string `json:"why,omitempty"`
	index  int64
	end    time.Duration
	start  time.Duration
	before []uint64
}

// memberValue is the part of a member action's value the check reads.
type memberValue struct {
	Op           string   `json:"op"`
	Nodes        []string `json:"nodes"`
	VotersBefore []uint64 `json:"voters_before"`
	Skipped      string   `json:"skipped"`
	Final        bool     `json:"final"`
	Verified     struct {
		Refused    string `json:"refused"`
		Unfinished string `json:"unfinished"`
		Unsettled  string `json:"unsettled"`
	} `json:"verified"`
}

// memberResult checks the write availability of every membership change
// in the history (AnomalyMemberStall) and reports each change's longest
// write stall. The verdict is true when there was no change to judge.
func memberResult(histPath string) *checkers.Extra {
	f, err := os.Open(histPath)
	if err != nil {
		return &checkers.Extra{Valid: verdict.Unknown, Error: err.Error()}
	}
	defer f.Close()
	rd := history.NewReader(f)
	tr := windows.NewTracker()
	var writes []time.Duration
	var changes []*memberChange
	var unsettled []verdict.Case
	// lastInvoke is the last write the clients began: the workload ends
	// there, while a change in progress is finished after it.
	var lastInvoke time.Duration
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &checkers.Extra{Valid: verdict.Unknown, Error: fmt.Sprintf("read history: %v", err)}
		}
		tr.Observe(&e)
		if !e.Process.Nemesis {
			if e.F == history.FSend || e.F == history.FTxn {
				switch e.Type {
				case history.Ok:
					writes = append(writes, e.Time)
				case history.Invoke:
					lastInvoke = e.Time
				}
			}
			continue
		}
		if e.F != history.NemesisMember.Start || e.Type != history.Info || e.InvokeIndex == e.Index {
			continue
		}
		var v memberValue
		if json.Unmarshal(e.Value, &v) != nil || v.Skipped != "" {
			continue
		}
		if v.Final {
			if v.Verified.Unsettled != "" {
				unsettled = append(unsettled, verdict.Case{Ops: []int64{e.Index}, Fatal: true,
					Explanation: "after the final heal, with every node up: " + v.Verified.Unsettled})
			}
			continue
		}
		changes = append(changes, &memberChange{
			Op: v.Op, Nodes: v.Nodes, StartS: e.InvokeTime.Seconds(), TookS: (e.Time - e.InvokeTime).Seconds(),
			Refused: v.Verified.Refused, Unfinished: v.Verified.Unfinished != "",
			index: e.InvokeIndex, start: e.InvokeTime, end: e.Time, before: v.VotersBefore,
		})
	}
	ws := tr.Windows()
	col := verdict.NewCollector(maxLogExamples)
	longest := map[string]float64{}
	for _, ch := range changes {
		// Writes in flight at the end of the workload complete within
		// one operation deadline; the clients' silence after that is no
		// stall.
		end := min(ch.end, lastInvoke)
		if end <= ch.start {
			ch.Why = "after the workload"
			continue
		}
		gap, from := longestGap(writes, ch.start, end)
		ch.LongestStallS = gap.Seconds()
		longest[ch.Op] = max(longest[ch.Op], ch.LongestStallS)
		ch.Why = stallConditions(ch, ws, ch.start, ch.end, 0)
		ch.Judged = ch.Why == ""
		if !ch.Judged {
			// A change can last through more faults than Raft tolerates
			// (two kills of different voters, one after the other)
			// and still stall while it tolerated them: each stall is
			// judged by the faults in effect during it, or ended less
			// than faultGrace before it.
			for _, g := range gapsOver(writes, ch.start, end, MemberStallLimit) {
				if stallConditions(ch, ws, g.from, g.from+g.d, faultGrace) == "" {
					gap, from = g.d, g.from
					ch.Judged, ch.Why = true, ""
					break
				}
			}
		}
		if ch.Judged && gap > MemberStallLimit {
			col.Add(AnomalyMemberStall, verdict.Case{
				Ops: []int64{ch.index}, Fatal: true, Time: verdict.At(int64(from)),
				Explanation: fmt.Sprintf("no write was acknowledged for %.1f s (from %.1f s) during the %s of %v, with a majority of the voters %v up and no network fault; a membership change may cost at most a leader change (%s)",
					gap.Seconds(), from.Seconds(), ch.Op, ch.Nodes, ch.before, MemberStallLimit),
			})
		}
	}
	for _, cs := range unsettled {
		col.Add(AnomalyMemberUnsettled, cs)
	}
	res := &checkers.Extra{Errors: col.Errors(), Valid: verdict.Of(len(col.Errors()) == 0), Fields: map[string]any{
		"changes": len(changes), "stall_limit_s": MemberStallLimit.Seconds(),
	}}
	if len(changes) > 0 {
		res.Fields["longest_stall_s"] = longest
		res.Fields["list"] = changes
	}
	return res
}

// longestGap is the longest stretch of [start, end] without an
// acknowledged write (writes sorted), and where it began.
func longestGap(writes []time.Duration, start, end time.Duration) (time.Duration, time.Duration) {
	i, _ := slices.BinarySearch(writes, start)
	prev := start
	var best, from time.Duration
	for ; i < len(writes) && writes[i] <= end; i++ {
		if d := writes[i] - prev; d > best {
			best, from = d, prev
		}
		prev = writes[i]
	}
	if d := end - prev; d > best {
		best, from = d, prev
	}
	return best, from
}

// faultGrace is how long a node counts as down after its kill or pause
// ended, and a network fault as in effect after its heal: a restarted
// broker opens its store, rejoins its groups and catches up, and a healed
// cluster elects leaders, before the clients' writes go through again.
var faultGrace = MemberStallLimit

// gap is a stretch of time without an acknowledged write.
type gap struct{ from, d time.Duration }

// gapsOver lists the stretches of [start, end] without an acknowledged
// write (writes sorted) that are longer than limit.
func gapsOver(writes []time.Duration, start, end, limit time.Duration) []gap {
	var out []gap
	i, _ := slices.BinarySearch(writes, start)
	prev := start
	for ; i < len(writes) && writes[i] <= end; i++ {
		if d := writes[i] - prev; d > limit {
			out = append(out, gap{prev, d})
		}
		prev = writes[i]
	}
	if d := end - prev; d > limit {
		out = append(out, gap{prev, d})
	}
	return out
}

// stallConditions returns "" when, from start to end, a majority of the
// change's voters before was up and no network fault was in effect, or
// which condition failed. A fault that ended less than grace before
// start still counts.
func stallConditions(ch *memberChange, ws []windows.Window, start, end, grace time.Duration) string {
	if ch.Refused != "" {
		return "refused: " + ch.Refused
	}
	if len(ch.before) == 0 {
		return "voters before unknown"
	}
	down := map[uint64]bool{}
	for _, w := range ws {
		if w.Instant || w.End+grace <= start || w.Start >= end {
			continue
		}
		fam, _ := history.NemesisFamilyNamed(w.Family)
		switch {
		case fam.Name == history.NemesisKill.Name || fam.Name == history.NemesisPause.Name:
			for _, n := range w.Nodes {
				if id := nodeIDOf(n); slices.Contains(ch.before, id) {
					down[id] = true
				}
			}
		case fam.Name == "":
		default:
			return fmt.Sprintf("%s in effect", fam.Name)
		}
	}
	if len(down) > (len(ch.before)-1)/2 {
		return fmt.Sprintf("%d of %d voters down", len(down), len(ch.before))
	}
	return ""
}

// nodeIDOf is the Raft id of node "nK".
func nodeIDOf(n string) uint64 {
	var id uint64
	if _, err := fmt.Sscanf(n, "n%d", &id); err != nil {
		return 0
	}
	return id
}
