package kafka

// ListGroups: v0-5
//
// Behavior:
// * The coordinator lists every group it has in memory plus every group
//   with committed offsets (Empty, protocol type "consumer"); other nodes
//   list none, so a client asking every broker sees each group once.
// * StatesFilter (v4, KIP-518) is applied case-insensitively.
// * Every group is a classic group (GroupType "classic", v5): KIP-848
//   consumer groups and KIP-932 share groups are not served. As in Kafka's
//   classic group coordinator, a TypesFilter (v5) that does not name
//   "classic" (case-insensitively) lists nothing.
//
// Version notes:
// * v1: ThrottleMillis
// * v3: flexible versions
// * v4: StatesFilter, GroupState (KIP-518)
// * v5: TypesFilter, GroupType (KIP-848)

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(16, 0, 5, typed(handleListGroups)) }

func handleListGroups(_ context.Context, s *Server, _ *clientConn, req *kmsg.ListGroupsRequest, resp *kmsg.ListGroupsResponse) error {
	if len(req.TypesFilter) > 0 && !slices.ContainsFunc(req.TypesFilter, func(t string) bool { return strings.EqualFold(t, "classic") }) {
		return nil
	}
	for _, rg := range s.groups.list(s.backend.Groups()) {
		if len(req.StatesFilter) == 0 || slices.ContainsFunc(req.StatesFilter, func(f string) bool { return strings.EqualFold(f, rg.GroupState) }) {
			resp.Groups = append(resp.Groups, rg)
		}
	}
	return nil
}

// list returns, sorted by name, every group this node coordinates: those in
// memory and those that only have committed offsets (Empty consumer
// groups). A node that does not coordinate lists none.
func (c *groupCoordinator) list(committed []string) []kmsg.ListGroupsResponseGroup {
	all := map[string]kmsg.ListGroupsResponseGroup{}
	entry := func(name, ptype string, state groupState) {
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState, rg.GroupType = name, ptype, state.String(), "classic"
		all[name] = rg
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.isCoordinatorLocked() {
		return nil
	}
	for _, name := range committed {
		entry(name, "consumer", stateEmpty)
	}
	for name, g := range c.groups {
		entry(name, g.protocolType, g.state)
	}
	out := make([]kmsg.ListGroupsResponseGroup, 0, len(all))
	for _, rg := range all {
		out = append(out, rg)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}
