package cluster

import (
	"log/slog"
	"slices"
	"strconv"
	"strings"

	pb "go.etcd.io/raft/v3/raftpb"
)

// The Raft events: facts about a group's term and vote, logged at info
// level with constant messages and attributes of their own, so that the
// harness's log-based raft-safety checker reads them from node logs
// without parsing etcd raft's formatted debug text (whose wording a raft
// upgrade may change). Besides the attributes below, every line carries
// the node's "node" and the group's "group" and "gid" (the group logger's
// attributes). They are few: one per group at each start, one per term or
// vote change, one per election won; never one per entry.
const (
	// EventStateLoaded: the group's Raft instance starts from this state
	// ("term", "vote", "commit"), read from disk at open; logged after the
	// state is final, so what raft starts from is what is logged.
	EventStateLoaded = "raft state loaded"
	// EventStatePersisted: a new term or vote ("term", "vote") is on disk:
	// logged after the Ready that carried it was saved, and only when the
	// term or the vote differs from the last one logged.
	EventStatePersisted = "raft state persisted"
	// EventBecameLeader: this node became the group's leader in "term".
	EventBecameLeader = "became leader"
	// EventConfApplied: this node applied the configuration-change entry
	// at "index": the group's voters went from "from" to "to", each
	// written "1,2,3" or, for a joint configuration, "1,2,4&&1,2,3"
	// (incoming && outgoing). Logged for every applied change, whatever
	// path applied it, so that the harness can check Raft's rule for
	// changing voters (one voter at a time, or through a joint
	// configuration) from the logs alone.
	EventConfApplied = "configuration applied"
)

// raftEvents logs a group's Raft events. It is used only by the group's
// goroutine (and by newRaftGroup before that goroutine starts).
type raftEvents struct {
	// term and vote were logged last, as loaded or persisted.
	term, vote uint64
}

// loaded logs the state the group's Raft instance starts from.
func (e *raftEvents) loaded(log *slog.Logger, hs *pb.HardState) {
	e.term, e.vote = hs.GetTerm(), hs.GetVote()
	log.Info(EventStateLoaded, "term", e.term, "vote", e.vote, "commit", hs.GetCommit())
}

// persisted logs hs, just saved, when its term or vote is new. An empty
// hs (no change in the Ready) has term 0 and is skipped.
func (e *raftEvents) persisted(log *slog.Logger, hs *pb.HardState) {
	t, v := hs.GetTerm(), hs.GetVote()
	if t == 0 || (t == e.term && v == e.vote) {
		return
	}
	e.term, e.vote = t, v
	log.Info(EventStatePersisted, "term", t, "vote", v)
}

// becameLeader logs an election won.
func (e *raftEvents) becameLeader(log *slog.Logger, term uint64) {
	log.Info(EventBecameLeader, "term", term)
}

// confApplied logs an applied configuration change.
func (e *raftEvents) confApplied(log *slog.Logger, index uint64, from, to *pb.ConfState) {
	log.Info(EventConfApplied, "index", index, "from", votersText(from), "to", votersText(to))
}

// votersText writes a configuration's voters as EventConfApplied does.
func votersText(cs *pb.ConfState) string {
	s := idsText(cs.GetVoters())
	if out := cs.GetVotersOutgoing(); len(out) > 0 {
		s += "&&" + idsText(out)
	}
	return s
}

func idsText(ids []uint64) string {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	var b strings.Builder
	for i, id := range sorted {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(id, 10))
	}
	return b.String()
}
