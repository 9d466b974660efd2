package nemesis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// TargetVoter aims a fault at a node in the middle of an election: one
// that, in some Raft group, has granted its vote in its current term to
// another node, that node has already won the term (it reports itself the
// leader), and the voter has not heard from it yet. Raft's safety rests
// on that vote being durable before the grant left the node (a node that
// forgets it can vote again in the same term, and two leaders of one term
// can both commit); a crash or power loss right then is the moment that
// tests it, and a fault drawn at a random time seldom lands there (the
// window lasts until the new leader's first message arrives: one round
// trip, longer under packet loss). Kill, pause, power-loss and crash
// resolve it (the client fault draws one random node instead).
const TargetVoter = "voter"

// Waiting for a voter: /status of every available node is polled every
// voterPoll for at most voterWait (an election happens within a few
// election timeouts of a fault that takes a leader or a quorum away);
// when none is seen, the fault falls back to one random node and says so.
const (
	voterPoll = 20 * time.Millisecond
	voterWait = 4 * time.Second
)

// voterDoc is the part of a node's /status that shows its votes.
type voterDoc struct {
	NodeID uint64       `json:"node_id"`
	Groups []voterGroup `json:"groups"`
}

// voterGroup is one Raft group of voterDoc.
type voterGroup struct {
	Name   string `json:"name"`
	Role   string `json:"role"`
	Term   uint64 `json:"term"`
	Vote   uint64 `json:"vote"`
	Leader uint64 `json:"leader"`
}

// leaderKey names a node that leads a group in a term.
type leaderKey struct {
	group string
	term  uint64
	id    uint64
}

// votedGroup returns the first group (by name) in which doc's node has
// voted for another node in its current term and knows no leader while
// that node already leads the group in that term (leaders), with the term
// and the leader voted for. A vote whose candidate has not won yet is
// passed over: a fault then would also lose the grant on its way, and the
// vote would elect nobody.
func votedGroup(doc voterDoc, leaders map[leaderKey]bool) (group string, term, vote uint64, ok bool) {
	groups := slices.Clone(doc.Groups)
	slices.SortFunc(groups, func(a, b voterGroup) int { return strings.Compare(a.Name, b.Name) })
	for _, g := range groups {
		role := strings.ToLower(g.Role)
		if g.Vote != 0 && g.Vote != doc.NodeID && g.Leader == 0 && strings.HasSuffix(role, "follower") &&
			leaders[leaderKey{g.Name, g.Term, g.Vote}] {
			return g.Name, g.Term, g.Vote, true
		}
	}
	return "", 0, 0, false
}

// FindVoter polls /status of nodes every poll until one of them is a
// voter (see TargetVoter) or wait has passed, and returns the first one
// found in node order with the group, term and leader voted for; ok is
// false when none was seen. At most wait/poll+1 rounds are made.
func FindVoter(ctx context.Context, c Cluster, nodes []string, wait, poll time.Duration) (node, group string, term, vote uint64, ok bool) {
	rounds := int(wait/poll) + 1
	for range rounds {
		docs := make([]*voterDoc, len(nodes))
		var wg sync.WaitGroup
		for i, n := range nodes {
			wg.Go(func() {
				sctx, cancel := context.WithTimeout(ctx, statusTimeout)
				defer cancel()
				code, body, err := c.Admin(sctx, n, "GET", "/status")
				if err != nil || code != 200 {
					return
				}
				var doc voterDoc
				if json.Unmarshal(body, &doc) == nil {
					docs[i] = &doc
				}
			})
		}
		wg.Wait()
		leaders := map[leaderKey]bool{}
		for _, d := range docs {
			for _, g := range d.groupsOrNil() {
				if strings.HasSuffix(strings.ToLower(g.Role), "leader") {
					leaders[leaderKey{g.Name, g.Term, d.NodeID}] = true
				}
			}
		}
		for i, d := range docs {
			if d == nil {
				continue
			}
			if g, t, v, found := votedGroup(*d, leaders); found {
				return nodes[i], g, t, v, true
			}
		}
		select {
		case <-ctx.Done():
			return "", "", 0, 0, false
		case <-time.After(poll):
		}
	}
	return "", "", 0, 0, false
}

// groupsOrNil returns d's groups, none for a node that did not answer.
func (d *voterDoc) groupsOrNil() []voterGroup {
	if d == nil {
		return nil
	}
	return d.Groups
}

// aimAtVoter resolves the voter target among avail, recording what it
// found (or that it fell back to one random node) in v.
func (s *Scheduler) aimAtVoter(ctx context.Context, avail []string, v Value) []string {
	node, group, term, vote, ok := FindVoter(ctx, s.c, avail, voterWait, voterPoll)
	var nodes []string
	if ok {
		nodes = []string{node}
		v["voter"] = fmt.Sprintf("%s voted for n%d, the leader of term %d of %s, and knew no leader", node, vote, term, group)
	} else {
		nodes, _ = SelectTargets(TargetOne, len(s.c.Nodes()), avail, "", s.pick)
		v["voter"] = fmt.Sprintf("no node was between a vote and a leader within %v; one random node instead", voterWait)
	}
	v["nodes"] = nonNil(nodes)
	return nodes
}
