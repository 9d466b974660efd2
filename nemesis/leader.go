package nemesis

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
)

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

// statusTimeout bounds one /status request: a paused node never answers.
const statusTimeout = 2 * time.Second

// FindLeader asks every listed node for /status and returns the leader of
// group ("__meta" or "topic/partition") in the highest term any node
// reports: a node that says it is the leader wins over others' opinions of
// who leads. Node ids map to names as id K -> "nK". It returns "" when no
// node knows a leader.
func FindLeader(ctx context.Context, c Cluster, nodes []string, group string) string {
	type vote struct {
		term   uint64
		leader string
		self   bool
	}
	var (
		mu    sync.Mutex
		votes []vote
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
				if g.Name != group {
					continue
				}
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
				votes = append(votes, v)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var best vote
	for _, v := range votes {
		if best.leader == "" || v.term > best.term ||
			(v.term == best.term && v.self && !best.self) ||
			(v.term == best.term && v.self == best.self && v.leader < best.leader) {
			best = v
		}
	}
	for _, n := range c.Nodes() {
		if n == best.leader {
			return best.leader
		}
	}
	return ""
}
