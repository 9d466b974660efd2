package harness

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/verdict"
	"github.com/chronik-chaos/chronik/nemesis"
)

// RaftSafetyName is the log-based Raft safety checker's section in
// results.json.
const RaftSafetyName = "raft-safety"

// Raft safety anomaly names.
const (
	// AnomalyElectionSafety: two different nodes became leader of the same
	// Raft group in the same term. Raft's election safety property (at most
	// one leader per term, §5.2 of the Raft paper) forbids it; it happens
	// when a node votes twice in one term, e.g. because its vote was not
	// persisted across a restart.
	AnomalyElectionSafety = "election-safety"
	// AnomalyTermRegression: a node restarted a group with a term lower
	// than one it had written to disk before (it logged the term as
	// persisted, or led it), or became leader in such a lower term. A
	// Raft node's current term never decreases, restarts included (it is
	// persisted before any message that depends on it leaves the node), so
	// this means the node lost its persisted term. Only terms the broker
	// logged after they were on disk count, so a crash between raising the
	// term and persisting it is no false alarm.
	AnomalyTermRegression = "term-regression"
	// AnomalyLostVote: a node restarted a group in a term it had voted in
	// (it logged the vote as persisted) without that vote. A Raft node's
	// vote is persistent state (Figure 2 of the Raft paper): within one
	// term it only ever goes from none to one candidate, restarts
	// included, which is what keeps a node from voting twice in a term.
	AnomalyLostVote = "lost-vote"
	// AnomalyUnsafeConfChange: a node applied a configuration change
	// whose voters before and after can both form majorities that share
	// no node. Raft changes voters either one at a time (any majority of
	// the old set and any of the new one overlap) or through a joint
	// configuration C_new&&C_old that needs a majority of both (Raft
	// thesis §4.1 and §4.3, etcd raft's ConfChangeV2); a jump from C_old
	// to C_new that differ in two voters lets two leaders commit at once
	// while the nodes apply the change at different times.
	AnomalyUnsafeConfChange = "unsafe-conf-change"
	// AnomalyConfDivergence: two nodes applied different configuration
	// changes at the same index of a group's log. Every replica applies
	// the same log, so the configurations must agree at every index.
	AnomalyConfDivergence = "conf-divergence"
)

// The broker's Raft events (broker/cluster/raft_events.go): constant
// messages whose attributes carry the facts, logged at info level on every
// node. Every line also has "time", "node" (the Raft id) and the group's
// "group" and "gid".
const (
	// eventLoaded: a group's Raft instance started from this state on
	// disk ("term", "vote", "commit"); once per group per process start.
	eventLoaded = "raft state loaded"
	// eventPersisted: a new term or vote ("term", "vote") is on disk.
	eventPersisted = "raft state persisted"
	// eventLeader: the node became the group's leader in "term".
	eventLeader = "became leader"
	// eventConf: the node applied the configuration change at "index",
	// the group's voters going from "from" to "to" ("1,2,3", or
	// "1,2,4&&1,2,3" for a joint configuration: incoming && outgoing).
	eventConf = "configuration applied"
)

// raftEvent is one of the broker's Raft events in one node's log.
type raftEvent struct {
	Msg   string    // eventLoaded, eventPersisted or eventLeader
	Node  string    // the node's log directory name, n1..nN
	Group string    // Raft group name (__meta, topic/partition)
	GID   string    // Raft group id: a deleted topic's name may come back with a new group
	Term  uint64    // the term loaded, persisted or led
	Vote  uint64    // the vote loaded or persisted (0: none)
	At    time.Time // the line's own timestamp
	Line  int       // 1-based line number in the node's log
	Text  string    // the line as logged
	// HasVote is set when the line carries a vote (loaded, persisted).
	HasVote bool
	// Index, From and To are a configuration change's (eventConf).
	Index    uint64
	From, To string
}

// nodeEvents is what one node's log yields.
type nodeEvents struct {
	events []raftEvent
	// unparsed are lines that carry an event's message but not its
	// attributes (a broker change, a torn line): evidence the check
	// could not use.
	unparsed []verdict.LogLine
	err      error
}

// raftSafetyResult is the harness's log-based Raft safety checker. The
// history cannot show who led which term, but each broker logs its Raft
// events (eventLoaded, eventPersisted, eventLeader) as structured
// attributes; reading every node's log (runDir/nK/chronik-server.log, the
// logs of all incarnations of the node, appended across restarts) gives
// the leaders of each term and each node's persisted terms. Times in
// examples are nanoseconds since base (the history's time base), so they
// line up with history operations; the containers share the host's clock.
//
// nodes are the nodes the run started (today every node of the cluster:
// setup starts them all, staggered or not); a node never started has no
// log and is not passed. The check must not pass on missing input: when a
// started node's log is missing or unreadable ("unread_logs"), holds no
// Raft event at all ("silent_logs": a broker without these events, or
// logging above info), or has event lines that do not parse
// ("unparsed_lines"), the verdict is unknown unless the logs that were read
// prove an anomaly (then false): a second leader of a term, or the state a
// node lost, may be in the part not read.
func raftSafetyResult(runDir string, nodes []string, base time.Time) *checkers.Extra {
	logs := map[string]nodeEvents{}
	for _, n := range nodes {
		f, err := os.Open(filepath.Join(runDir, n, NodeLogFile))
		if err != nil {
			logs[n] = nodeEvents{err: err}
			continue
		}
		logs[n] = scanRaftEvents(n, f)
		f.Close()
	}
	return raftSafety(nodes, logs, base)
}

// raftSafetyDamaged is raftSafetyResult for a run whose corrupt nemesis
// damaged stores: damaged are the nodes started again on a damaged store. What the fault removed may
// be durable state (a WAL tail cut off, bits flipped in a record), so a
// term regression or lost vote at the first load of each group after such
// a start is the fault's doing, not the broker's: it is reported allowed
// (not fatal). Everything after that first load counts as usual.
func raftSafetyDamaged(runDir string, nodes []string, base time.Time, damaged []nemesis.Damage) *checkers.Extra {
	saved := damagedStarts
	damagedStarts = damaged
	defer func() { damagedStarts = saved }()
	return raftSafetyResult(runDir, nodes, base)
}

// damagedStarts is raftSafetyDamaged's input while it runs (the checker
// runs once per run, on one goroutine).
var damagedStarts []nemesis.Damage

// NodeLogFile is a node's log inside its directory of the run (store
// contract: nK/chronik-server.log).
const NodeLogFile = "chronik-server.log"

// scanRaftEvents returns the Raft events of one node's log, in file order.
// Lines that carry no event message are ignored; an event line without
// its attributes is returned as unparsed.
func scanRaftEvents(node string, r io.Reader) nodeEvents {
	var out nodeEvents
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for no := 1; sc.Scan(); no++ {
		text := sc.Text()
		if !strings.Contains(text, `msg="`+eventLoaded+`"`) && !strings.Contains(text, `msg="`+eventPersisted+`"`) &&
			!strings.Contains(text, `msg="`+eventLeader+`"`) && !strings.Contains(text, `msg="`+eventConf+`"`) {
			continue
		}
		e, ok := parseRaftEvent(node, no, text)
		if !ok {
			out.unparsed = append(out.unparsed, verdict.LogLine{File: nodeLogPath(node), Line: no, Text: text})
			continue
		}
		out.events = append(out.events, e)
	}
	if err := sc.Err(); err != nil {
		out.err = fmt.Errorf("read %s log: %w", node, err)
	}
	return out
}

// parseRaftEvent reads one event line; ok is false when a field the check
// needs is missing or malformed.
func parseRaftEvent(node string, no int, text string) (raftEvent, bool) {
	kv := parseLogfmt(text)
	e := raftEvent{Msg: kv["msg"], Node: node, Group: kv["group"], GID: kv["gid"], Line: no, Text: text}
	switch e.Msg {
	case eventLoaded, eventPersisted, eventLeader, eventConf:
	default:
		return e, false // the message was inside another attribute
	}
	var err error
	if e.At, err = time.Parse(time.RFC3339Nano, kv["time"]); err != nil || e.Group == "" {
		return e, false
	}
	if e.Msg == eventConf {
		var okF, okT bool
		e.From, okF = kv["from"]
		e.To, okT = kv["to"]
		if e.Index, err = strconv.ParseUint(kv["index"], 10, 64); err != nil || !okF || !okT {
			return e, false
		}
		return e, true
	}
	if e.Term, err = strconv.ParseUint(kv["term"], 10, 64); err != nil {
		return e, false
	}
	if e.Msg != eventLeader {
		if e.Vote, err = strconv.ParseUint(kv["vote"], 10, 64); err != nil {
			return e, false
		}
		e.HasVote = true
	}
	return e, true
}

// parseLogfmt splits a slog text line into its key=value pairs. Values may
// be double-quoted with Go escapes. A repeated key keeps its first value
// (slog's With can repeat "component"; the first is the outer one).
func parseLogfmt(s string) map[string]string {
	kv := map[string]string{}
	for i := 0; i < len(s); {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			break
		}
		key := s[i : i+eq]
		i += eq + 1
		var val string
		if i < len(s) && s[i] == '"' {
			// Find the closing quote, skipping escaped ones.
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				j = len(s) - 1
			}
			if u, err := strconv.Unquote(s[i : j+1]); err == nil {
				val = u
			} else {
				val = s[i+1 : j]
			}
			i = j + 1
		} else {
			j := strings.IndexByte(s[i:], ' ')
			if j < 0 {
				j = len(s) - i
			}
			val = s[i : i+j]
			i += j
		}
		if _, dup := kv[key]; !dup && !strings.ContainsAny(key, " \"") {
			kv[key] = val
		}
	}
	return kv
}

// groupID names one Raft group: its name and id (a topic deleted and
// created again has a new group under the old name).
type groupID struct{ name, gid string }

func (e raftEvent) group() groupID { return groupID{e.Group, e.GID} }

// safetyCheck collects the cases of one raft-safety check.
type safetyCheck struct {
	base time.Time
	col  *verdict.Collector
	// afterDamage are the log lines of damagedNode that are the first
	// load of a group after its store was damaged (raftSafetyDamaged).
	afterDamage map[int]bool
	damagedNode string
}

// markDamagedLoads finds, in one node's events, the first load of each
// group between the node's being stopped to damage its store and its
// answering again.
func (c *safetyCheck) markDamagedLoads(events []raftEvent) {
	c.afterDamage, c.damagedNode = map[int]bool{}, ""
	if len(events) == 0 {
		return
	}
	node := events[0].Node
	for _, d := range damagedStarts {
		if d.Node != node {
			continue
		}
		c.damagedNode = node
		seen := map[groupID]bool{}
		for _, e := range events {
			if e.Msg == eventLoaded && e.At.After(d.Stopped) && !e.At.After(d.Started) && !seen[e.group()] {
				seen[e.group()] = true
				c.afterDamage[e.Line] = true
			}
		}
	}
}

// since is t in history time.
func (c *safetyCheck) since(t time.Time) *int64 { return verdict.At(int64(t.Sub(c.base))) }

// add reports that event e, with the earlier event before, proves anomaly
// name.
func (c *safetyCheck) add(name string, before, e raftEvent, explanation string) {
	cite := func(e raftEvent) verdict.LogLine {
		return verdict.LogLine{File: nodeLogPath(e.Node), Line: e.Line, Time: c.since(e.At), Text: e.Text}
	}
	lines := []verdict.LogLine{cite(before), cite(e)}
	if before.Node == e.Node && before.Line == e.Line {
		lines = lines[1:] // one line is the whole evidence
	}
	fatal := true
	if c.afterDamage[e.Line] && e.Node == c.damagedNode {
		fatal = false
		explanation += " (allowed: the corrupt nemesis damaged this node's store just before this start)"
	}
	c.col.Add(name, verdict.Case{
		Key: e.Group, Ops: []int64{}, Fatal: fatal, Time: c.since(e.At), Node: e.Node,
		Explanation: explanation, Log: lines,
	})
}

// raftSafety checks the events of every node's log. It is separate from
// the file reading so it can be tested on fixtures.
func raftSafety(nodes []string, logs map[string]nodeEvents, base time.Time) *checkers.Extra {
	c := &safetyCheck{base: base, col: verdict.NewCollector(maxLogExamples)}
	var unread, silent []string
	var unparsed []verdict.LogLine
	var all []raftEvent
	counts := map[string]int{}
	for _, n := range nodes {
		ne := logs[n]
		unparsed = append(unparsed, ne.unparsed...)
		for _, e := range ne.events {
			counts[e.Msg]++
		}
		switch {
		case ne.err != nil:
			unread = append(unread, n)
		case !slices.ContainsFunc(ne.events, func(e raftEvent) bool { return e.Msg == eventLoaded }):
			// Every start of a node loads at least __meta.
			silent = append(silent, n)
		}
		c.markDamagedLoads(ne.events)
		c.persistedState(ne.events)
		all = append(all, ne.events...)
	}
	terms := c.electionSafety(all)
	c.confChanges(all)

	res := &checkers.Extra{Errors: c.col.Errors(), Fields: map[string]any{
		"events": map[string]int{"loaded": counts[eventLoaded], "persisted": counts[eventPersisted], "leader": counts[eventLeader],
			"configuration": counts[eventConf]},
		"terms": terms,
	}}
	var missing []string
	if len(unread) > 0 {
		res.Fields["unread_logs"] = unread
		missing = append(missing, fmt.Sprintf("no readable log of %s", strings.Join(unread, ", ")))
	}
	if len(silent) > 0 {
		res.Fields["silent_logs"] = silent
		missing = append(missing, fmt.Sprintf("no Raft event in the log of %s", strings.Join(silent, ", ")))
	}
	if len(unparsed) > 0 {
		res.Fields["unparsed_lines"] = len(unparsed)
		res.Fields["unparsed"] = unparsed[:min(len(unparsed), maxLogExamples)]
		missing = append(missing, fmt.Sprintf("%d Raft event line(s) that do not parse", len(unparsed)))
	}
	fatal := 0
	for _, a := range res.Errors {
		fatal += a.FatalCount
	}
	switch {
	case fatal > 0:
		res.Valid = verdict.False
	case len(nodes) == 0:
		res.Valid, res.Error = verdict.Unknown, "no node to check"
	case len(missing) > 0:
		res.Valid, res.Error = verdict.Unknown, "missing input: "+strings.Join(missing, "; ")
	default:
		res.Valid = verdict.True
	}
	return res
}

// persistedState checks one node's events, per group in file order (one
// node's log is in time order), for term regression and lost votes: the
// highest term the node logged as on disk (it persisted or led it) against
// the term it loads at a restart or leads later, and the last state it
// persisted against the state it loads in that same term.
func (c *safetyCheck) persistedState(events []raftEvent) {
	highest := map[groupID]raftEvent{}
	last := map[groupID]raftEvent{} // the last state persisted or loaded
	for _, e := range events {
		if e.Msg == eventConf {
			continue // no term or vote
		}
		g := e.group()
		if p, ok := last[g]; ok && e.Msg == eventLoaded && p.Msg == eventPersisted &&
			e.Term == p.Term && p.Vote != 0 && e.Vote != p.Vote {
			c.add(AnomalyLostVote, p, e, fmt.Sprintf("%s restarted %s in term %d with vote %d after persisting its vote for %d in that term",
				e.Node, e.Group, e.Term, e.Vote, p.Vote))
		}
		if e.HasVote {
			last[g] = e
		}
		h, ok := highest[g]
		if ok && e.Term < h.Term && e.Msg != eventPersisted {
			what := fmt.Sprintf("became leader of %s in term %d", e.Group, e.Term)
			if e.Msg == eventLoaded {
				what = fmt.Sprintf("restarted %s with term %d", e.Group, e.Term)
			}
			how := fmt.Sprintf("after persisting term %d", h.Term)
			if h.Msg == eventLeader {
				how = fmt.Sprintf("after leading term %d", h.Term)
			}
			c.add(AnomalyTermRegression, h, e, fmt.Sprintf("%s %s %s", e.Node, what, how))
		}
		if e.Msg != eventLoaded && (!ok || e.Term > h.Term) {
			highest[g] = e
		}
	}
}

// electionSafety checks the leader events of all nodes: the first leader
// of each (group, term), in time order, then any other node claiming the
// same term. It returns how many (group, term) pairs had a leader.
func (c *safetyCheck) electionSafety(all []raftEvent) int {
	sorted := slices.Clone(all)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].At.Before(sorted[j].At) })
	type gt struct {
		group groupID
		term  uint64
	}
	leaders := map[gt]raftEvent{}
	reported := map[gt]map[string]bool{}
	for _, e := range sorted {
		if e.Msg != eventLeader {
			continue
		}
		k := gt{e.group(), e.Term}
		first, ok := leaders[k]
		if !ok {
			leaders[k] = e
			continue
		}
		if first.Node == e.Node || reported[k][e.Node] {
			continue
		}
		if reported[k] == nil {
			reported[k] = map[string]bool{}
		}
		reported[k][e.Node] = true
		c.add(AnomalyElectionSafety, first, e, fmt.Sprintf("%s and %s both became leader of %s in term %d", first.Node, e.Node, e.Group, e.Term))
	}
	return len(leaders)
}
