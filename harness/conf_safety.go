package harness

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// confChanges checks every configuration change the nodes logged
// (eventConf): each must follow Raft's rule for changing voters
// (confStepOK), and all nodes that applied the entry at one index of a
// group must have applied the same change. A change is reported once per
// (group, index), by the first node that logged it.
func (c *safetyCheck) confChanges(all []raftEvent) {
	type at struct {
		group groupID
		index uint64
	}
	first := map[at]raftEvent{}
	diverged := map[at]bool{}
	for _, e := range all {
		if e.Msg != eventConf {
			continue
		}
		k := at{e.group(), e.Index}
		f, seen := first[k]
		if !seen {
			first[k] = e
			if why := confStepOK(e.From, e.To); why != "" {
				c.add(AnomalyUnsafeConfChange, e, e, fmt.Sprintf("%s applied the configuration change at index %d of %s from voters %s to %s: %s",
					e.Node, e.Index, e.Group, e.From, e.To, why))
			}
			continue
		}
		if (f.From != e.From || f.To != e.To) && !diverged[k] {
			diverged[k] = true
			c.add(AnomalyConfDivergence, f, e, fmt.Sprintf("at index %d of %s, %s applied %s -> %s but %s applied %s -> %s",
				e.Index, e.Group, f.Node, f.From, f.To, e.Node, e.From, e.To))
		}
	}
}

// confStepOK returns "" when a group may go from the voters from to the
// voters to in one configuration change, and otherwise why not. Allowed
// (Raft thesis §4.1, §4.3): no change of voters; one voter added or
// removed; entering a joint configuration C_new&&C_old from C_old;
// leaving C_new&&C_old for C_new; the first configuration of a group (no
// voters before). Anything else lets a majority of the voters before and
// one of the voters after share no node.
func confStepOK(from, to string) string {
	fin, fout := parseVoters(from)
	tin, tout := parseVoters(to)
	switch {
	case len(fin) == 0 && len(fout) == 0:
		return ""
	case len(fout) == 0 && len(tout) == 0:
		if d := symDiff(fin, tin); d > 1 {
			return fmt.Sprintf("%d voters changed in one step without a joint configuration, so two disjoint majorities (%s)", d, disjointMajorities(fin, tin))
		}
		return ""
	case len(fout) == 0:
		if !slices.Equal(tout, fin) {
			return fmt.Sprintf("the joint configuration's outgoing voters %s are not the voters %s it was entered from", idList(tout), idList(fin))
		}
		return ""
	case len(tout) == 0:
		if !slices.Equal(tin, fin) {
			return fmt.Sprintf("leaving the joint configuration for %s, not for its incoming voters %s", idList(tin), idList(fin))
		}
		return ""
	}
	if !slices.Equal(fin, tin) || !slices.Equal(fout, tout) {
		return "the voters of a joint configuration changed without leaving it"
	}
	return ""
}

// parseVoters reads "1,2,4&&1,2,3" as its incoming and outgoing voters,
// sorted.
func parseVoters(s string) (in, out []uint64) {
	a, b, _ := strings.Cut(s, "&&")
	return parseIDs(a), parseIDs(b)
}

func parseIDs(s string) []uint64 {
	var out []uint64
	for _, f := range strings.Split(s, ",") {
		if id, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64); err == nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// symDiff is the number of voters in one set and not the other.
func symDiff(a, b []uint64) int {
	n := 0
	for _, x := range a {
		if !slices.Contains(b, x) {
			n++
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			n++
		}
	}
	return n
}

// disjointMajorities names a majority of a and a majority of b that share
// no node, for the explanation ("" when there are none).
func disjointMajorities(a, b []uint64) string {
	// Take a's majority from the voters b lacks first, then b's from the
	// voters a lacks first, then the rest of each without reuse.
	ma := pickMajority(a, b, nil)
	mb := pickMajority(b, a, ma)
	if ma == nil || mb == nil {
		return "none found"
	}
	return fmt.Sprintf("%s of the voters before, %s of the voters after", idList(ma), idList(mb))
}

func pickMajority(set, other, avoid []uint64) []uint64 {
	need := len(set)/2 + 1
	var out []uint64
	for _, pass := range []func(uint64) bool{
		func(x uint64) bool { return !slices.Contains(other, x) },
		func(x uint64) bool { return slices.Contains(other, x) && !slices.Contains(avoid, x) },
	} {
		for _, x := range set {
			if len(out) < need && pass(x) && !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
	}
	if len(out) < need {
		return nil
	}
	slices.Sort(out)
	return out
}

func idList(ids []uint64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatUint(id, 10)
	}
	return "{" + strings.Join(parts, ",") + "}"
}
