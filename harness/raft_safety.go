package harness

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers"
	"github.com/chronik-chaos/chronik/checkers/verdict"
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
	// than one it had provably written to disk before (it led that term,
	// or another node answered its vote request in it), or became leader
	// in such a lower term. A Raft node's current term never decreases,
	// restarts included (it is persisted before any message that depends
	// on it leaves the node), so this means the node lost its persisted
	// term. Only terms that must have been persisted count, so a crash
	// between raising the term and persisting it is no false alarm.
	AnomalyTermRegression = "term-regression"
)

// leaderLine is one line of a node's log that says something about a
// group's term: a "became leader" line (Kind lineLeader), or one of etcd
// raft's own lines, which the broker logs at debug level: a vote response
// from another node (lineVoted) or the start of the group's Raft instance
// with the term it loaded from disk (lineStart).
type leaderLine struct {
	Kind  lineKind
	Node  string    // the node's log directory name, n1..nN
	Group string    // Raft group name (__meta, topic/partition)
	GID   string    // group id, for humans
	Term  uint64    // the term the node leads, was answered in, or loaded
	At    time.Time // the line's own timestamp
	Line  int       // 1-based line number in the node's log
	Text  string    // the raft message, for lineVoted and lineStart
	// RaftID is the node's Raft id as the line's node attribute gives it;
	// Responder is, on a lineVoted line, the id of the node that answered.
	RaftID, Responder string
	// LogOf is set on a copy of a lineVoted line used as evidence about
	// the responder: the log (candidate's) that holds the line.
	LogOf string
}

type lineKind int8

const (
	lineLeader lineKind = iota
	// lineVoted: "X received MsgVoteResp [rejection ]from Y at term T" with
	// Y another node. Raft persists a candidate's term before its vote
	// requests leave the node (Ready order), and Y could only answer a
	// request that left, so term T was on X's disk. Likewise Y persists its
	// term (and vote) before its answer leaves, so term T was on Y's disk
	// by the time of the line (the containers share the host's clock).
	lineVoted
	// lineStart: "newRaft X [peers: [...], term: T, ...]": the term the
	// node loaded from its disk at (re)start.
	lineStart
)

var (
	reVoteResp = regexp.MustCompile(`^([0-9a-f]+) received MsgVoteResp (?:rejection )?from ([0-9a-f]+) at term ([0-9]+)$`)
	reNewRaft  = regexp.MustCompile(`^newRaft [0-9a-f]+ \[peers: \[[^\]]*\], term: ([0-9]+),`)
)

// maxSafetyExamples caps the examples kept per anomaly.
const maxSafetyExamples = 20

// raftSafetyResult is the harness's log-based Raft safety checker. The
// history cannot show who led which term, but each broker logs
// `msg="became leader" ... group=G ... term=T` whenever it takes over a
// group, and, at --log-level debug, etcd raft's own lines (vote responses,
// the term loaded at start), which the term-regression check uses; reading
// every node's log (runDir/nK/chronik-server.log, the logs
// of all incarnations of the node, appended across restarts) gives the
// leaders of each term. Times in examples are nanoseconds since base (the
// history's time base), so they line up with history operations; the
// containers share the host's clock. A node whose log is missing or
// unreadable is skipped and named in "unread_logs" (the node never started,
// say): the check is then over the logs that exist.
func raftSafetyResult(runDir string, nodes []string, base time.Time) *checkers.Extra {
	var lines []leaderLine
	var unread []string
	for _, n := range nodes {
		f, err := os.Open(filepath.Join(runDir, n, NodeLogFile))
		if err != nil {
			unread = append(unread, n)
			continue
		}
		ls, err := scanLeaderLines(n, f)
		f.Close()
		if err != nil {
			unread = append(unread, n)
		}
		lines = append(lines, ls...)
	}
	return raftSafety(lines, base, unread)
}

// NodeLogFile is a node's log inside its directory of the run (store
// contract: nK/chronik-server.log).
const NodeLogFile = "chronik-server.log"

// scanLeaderLines returns the term lines (leaderLine) of one node's log, in
// file order. Lines that are not slog text records are ignored.
func scanLeaderLines(node string, r io.Reader) ([]leaderLine, error) {
	var out []leaderLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for no := 1; sc.Scan(); no++ {
		text := sc.Text()
		if !strings.Contains(text, `msg="became leader"`) && !strings.Contains(text, "MsgVoteResp") && !strings.Contains(text, `msg="newRaft `) {
			continue
		}
		kv := parseLogfmt(text)
		l := leaderLine{Node: node, Group: kv["group"], GID: kv["gid"], Line: no, RaftID: kv["node"]}
		if l.Group == "" {
			continue
		}
		l.At, _ = time.Parse(time.RFC3339Nano, kv["time"])
		msg := kv["msg"]
		var term string
		switch {
		case msg == "became leader":
			l.Kind, term = lineLeader, kv["term"]
		case reVoteResp.MatchString(msg):
			m := reVoteResp.FindStringSubmatch(msg)
			if m[1] == m[2] {
				continue // its own vote: not proof that a request left
			}
			l.Kind, term, l.Text, l.Responder = lineVoted, m[3], msg, m[2]
		case reNewRaft.MatchString(msg):
			l.Kind, term, l.Text = lineStart, reNewRaft.FindStringSubmatch(msg)[1], msg
		default:
			continue
		}
		var err error
		if l.Term, err = strconv.ParseUint(term, 10, 64); err != nil {
			continue
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read %s log: %w", node, err)
	}
	return out, nil
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

// safetyRef names one log line in an example.
type safetyRef struct {
	Node string `json:"node"`
	// LogOf names the log holding the line when it is another node's (a
	// vote response seen by the candidate proves the responder's term).
	LogOf   string `json:"log_of,omitempty"`
	Term    uint64 `json:"term"`
	Time    int64  `json:"time"` // ns since the history's time base
	LogTime string `json:"log_time"`
	Line    int    `json:"line"`
}

// safetyExample is one anomaly: the group and the two leader lines that
// contradict each other. Time is when the contradiction arose (the later
// line), in history time.
type safetyExample struct {
	Group   string    `json:"group"`
	GID     string    `json:"gid,omitempty"`
	Term    uint64    `json:"term"`
	Time    int64     `json:"time"`
	First   safetyRef `json:"first"`
	Second  safetyRef `json:"second"`
	Message string    `json:"message"`
}

// raftSafety checks leader lines from all nodes. It is separate from the
// file reading so it can be tested on fixtures.
func raftSafety(lines []leaderLine, base time.Time, unread []string) *checkers.Extra {
	ref := func(l leaderLine) safetyRef {
		return safetyRef{Node: l.Node, Term: l.Term, Time: int64(l.At.Sub(base)), LogTime: l.At.UTC().Format(time.RFC3339Nano), Line: l.Line}
	}
	// Election safety: the first leader of each (group, term), then any
	// other node claiming the same term. Order by time so "first" is first.
	sorted := append([]leaderLine(nil), lines...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].At.Before(sorted[j].At) })
	type gt struct {
		group string
		term  uint64
	}
	leaders := map[gt]leaderLine{}
	reported := map[gt]map[string]bool{}
	var election []safetyExample
	for _, l := range sorted {
		if l.Kind != lineLeader {
			continue
		}
		k := gt{l.Group, l.Term}
		first, ok := leaders[k]
		if !ok {
			leaders[k] = l
			continue
		}
		if first.Node == l.Node || reported[k][l.Node] {
			continue
		}
		if reported[k] == nil {
			reported[k] = map[string]bool{}
		}
		reported[k][l.Node] = true
		election = append(election, safetyExample{
			Group: l.Group, GID: l.GID, Term: l.Term, Time: int64(l.At.Sub(base)),
			First: ref(first), Second: ref(l),
			Message: fmt.Sprintf("%s and %s both became leader of %s in term %d", first.Node, l.Node, l.Group, l.Term),
		})
	}
	// Term regression, per node and group, in time order: the highest term
	// known to be on the node's disk (it led it, another node answered its
	// vote request in it, or it answered another node's request in it)
	// against the term it loads at a restart or leads later.
	dirOf := map[string]string{} // Raft id -> log directory
	for _, l := range lines {
		if l.RaftID != "" {
			dirOf[l.RaftID] = l.Node
		}
	}
	var events []leaderLine
	for _, l := range lines {
		events = append(events, l)
		if l.Kind == lineVoted {
			if dir, ok := dirOf[l.Responder]; ok && dir != l.Node {
				// The same line, as evidence about the responder.
				e := l
				e.Node, e.LogOf = dir, l.Node
				events = append(events, e)
			}
		}
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].At.Before(events[j].At) })
	type ng struct{ node, group string }
	highest := map[ng]leaderLine{}
	var regress []safetyExample
	for _, l := range events {
		k := ng{l.Node, l.Group}
		h, ok := highest[k]
		if ok && l.Term < h.Term && l.Kind != lineVoted {
			what := fmt.Sprintf("became leader of %s in term %d", l.Group, l.Term)
			if l.Kind == lineStart {
				what = fmt.Sprintf("restarted %s with term %d", l.Group, l.Term)
			}
			var how string
			switch {
			case h.Kind == lineLeader:
				how = fmt.Sprintf("after leading term %d", h.Term)
			case h.LogOf == "":
				how = fmt.Sprintf("after its vote request was answered in term %d (%q)", h.Term, h.Text)
			default:
				how = fmt.Sprintf("after answering a vote request in term %d (%q)", h.Term, h.Text)
			}
			ex := safetyExample{
				Group: l.Group, GID: l.GID, Term: l.Term, Time: int64(l.At.Sub(base)),
				First: ref(h), Second: ref(l),
				Message: fmt.Sprintf("%s %s %s", l.Node, what, how),
			}
			ex.First.LogOf = h.LogOf
			regress = append(regress, ex)
		}
		if l.Kind != lineStart && (!ok || l.Term > h.Term) {
			highest[k] = l
		}
	}
	errs := map[string]any{}
	for name, ex := range map[string][]safetyExample{AnomalyElectionSafety: election, AnomalyTermRegression: regress} {
		if len(ex) == 0 {
			continue
		}
		n := len(ex)
		if len(ex) > maxSafetyExamples {
			ex = ex[:maxSafetyExamples]
		}
		errs[name] = map[string]any{"count": n, "examples": ex}
	}
	counts := map[lineKind]int{}
	for _, l := range lines {
		counts[l.Kind]++
	}
	// raft_lines 0 means the broker ran without debug logging: term
	// regression was then checked on leader lines only.
	fields := map[string]any{"errors": errs, "leader_lines": counts[lineLeader],
		"raft_lines": counts[lineVoted] + counts[lineStart], "terms": len(leaders)}
	if len(unread) > 0 {
		fields["unread_logs"] = unread
	}
	return &checkers.Extra{Valid: verdict.Of(len(errs) == 0), Fields: fields}
}

// safetyCounts returns the anomaly counts of a raftSafetyResult, for the
// run's summary line.
func safetyCounts(e *checkers.Extra) map[string]int {
	out := map[string]int{}
	errs, _ := e.Fields["errors"].(map[string]any)
	for name, v := range errs {
		if m, ok := v.(map[string]any); ok {
			if n, ok := m["count"].(int); ok {
				out[name] = n
			}
		}
	}
	return out
}
