package kafka

// ListGroups: v0-4
//
// Behavior:
// * The coordinator lists every group it has in memory plus every group
//   with committed offsets (Empty, protocol type "consumer"); other nodes
//   list none, so a client asking every broker sees each group once.
// * StatesFilter (v4, KIP-518) is applied case-insensitively.
//
// Version notes:
// * v1: ThrottleMillis
// * v3: flexible versions
// * v4: StatesFilter, GroupState (KIP-518)
// (v5 TypesFilter, KIP-848, is not served.)

import (
	"context"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(16, 0, 4, handleListGroups) }

func handleListGroups(_ context.Context, s *Server, _ *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	committed := s.backend.Groups()
	c := s.groups
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.isCoordinatorLocked() {
		return resp, nil
	}
	type entry struct{ ptype, state string }
	all := map[string]entry{}
	for _, name := range committed {
		all[name] = entry{"consumer", stateEmpty.String()}
	}
	for name, g := range c.groups {
		all[name] = entry{g.protocolType, g.state.String()}
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := all[n]
		if len(req.StatesFilter) > 0 {
			keep := false
			for _, f := range req.StatesFilter {
				keep = keep || strings.EqualFold(f, e.state)
			}
			if !keep {
				continue
			}
		}
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState = n, e.ptype, e.state
		resp.Groups = append(resp.Groups, rg)
	}
	return resp, nil
}
