package nemesis

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// AnyGroup as Options.LeaderGroup aims "leader" targets at the leader of a
// group drawn at random, each time, from the groups the nodes report
// (__meta and every topic-partition).
const AnyGroup = "*"

// statusDoc is the part of the broker's GET /status the nemesis reads.
type statusDoc struct {
	NodeID uint64 `json:"node_id"`
	Groups []struct {
		Name   string `json:"name"`
		Role   string `json:"role"`
		Term   uint64 `json:"term"`
		Leader uint64 `json:"leader"`
	} `json:"groups"`
}

// statusTimeout bounds one admin request: a paused node never answers.
const statusTimeout = 2 * time.Second

// FindLeader returns the leader of group ("__meta" or "topic/partition")
// as FindLeaders sees it, or "" when no node knows one.
func FindLeader(ctx context.Context, c Cluster, nodes []string, group string) string {
	return FindLeaders(ctx, c, nodes)[group]
}

// FindLeaders asks every listed node for /status and returns, per Raft
// group, the leader in the highest term any node reports: a node that says
// it is the leader wins over others' opinions of who leads. Node ids map to
// names as id K -> "nK"; leaders that are not cluster nodes are dropped.
func FindLeaders(ctx context.Context, c Cluster, nodes []string) map[string]string {
	type vote struct {
		term   uint64
		leader string
		self   bool
	}
	var (
		mu    sync.Mutex
		votes = map[string][]vote{}
		wg    sync.WaitGroup
	)
	for _, node := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx, cancel := context.WithTimeout(ctx, statusTimeout)
			defer cancel()
			code, body, err := c.Admin(sctx, node, "GET", "/status")
			if err != nil || code != 200 {
				return
			}
			var doc statusDoc
			if json.Unmarshal(body, &doc) != nil {
				return
			}
			for _, g := range doc.Groups {
				v := vote{term: g.Term}
				role := strings.ToLower(g.Role)
				switch {
				case role == "leader" || role == "stateleader":
					v.leader, v.self = node, true
				case g.Leader != 0:
					v.leader = fmt.Sprintf("n%d", g.Leader)
				default:
					continue
				}
				mu.Lock()
				votes[g.Name] = append(votes[g.Name], v)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	members := c.Nodes()
	out := map[string]string{}
	for group, vs := range votes {
		var best vote
		for _, v := range vs {
			if best.leader == "" || v.term > best.term ||
				(v.term == best.term && v.self && !best.self) ||
				(v.term == best.term && v.self == best.self && v.leader < best.leader) {
				best = v
			}
		}
		if slices.Contains(members, best.leader) {
			out[group] = best.leader
		}
	}
	return out
}

// leaderFor resolves the leader Options.LeaderGroup names among the
// answering nodes, drawing the group when it is AnyGroup. It returns the
// group used and its leader ("" when unknown).
func (s *Scheduler) leaderFor(ctx context.Context) (group, leader string) {
	leaders := FindLeaders(ctx, s.c, s.answering(ctx))
	group = s.opts.LeaderGroup
	if group == AnyGroup {
		groups := slices.Sorted(maps.Keys(leaders))
		if len(groups) == 0 {
			return AnyGroup, ""
		}
		group = groups[s.pick.IntN(len(groups))]
	}
	return group, leaders[group]
}

// aimAtLeader resolves the leader a fault aims at (see leaderFor) and
// records the group in v.
func (s *Scheduler) aimAtLeader(ctx context.Context, v Value) string {
	group, leader := s.leaderFor(ctx)
	v["group"] = group
	return leader
}
