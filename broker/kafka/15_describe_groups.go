package kafka

// DescribeGroups: v0-5
//
// Behavior:
// * A group with members in memory reports its state (Empty,
//   PreparingRebalance, CompletingRebalance, Stable), protocol type and
//   protocol, and its members with the chosen protocol's metadata and, once
//   Stable, their assignments.
// * A group known only by committed offsets is Empty; an unknown group is
//   Dead with no error (as Kafka before v6).
// * Authorized operations (v3+) are not computed (-2147483648).
//
// Version notes:
// * v1: ThrottleMillis
// * v3: IncludeAuthorizedOperations (KIP-430)
// * v4: InstanceID (KIP-345)
// * v5: flexible versions

import (
	"context"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(15, 0, 5, typed(handleDescribeGroups)) }

func handleDescribeGroups(_ context.Context, s *Server, _ *clientConn, req *kmsg.DescribeGroupsRequest, resp *kmsg.DescribeGroupsResponse) error {
	resp.Groups = s.groups.describe(req.Groups, s.backend.Groups())
	return nil
}

// describe reports each named group, from one view of the coordinator:
// its members when it has any in memory, Empty when only committed offsets
// (committed lists the groups that have some) know it, Dead when nothing
// does.
func (c *groupCoordinator) describe(names, committed []string) []kmsg.DescribeGroupsResponseGroup {
	c.mu.Lock()
	defer c.mu.Unlock()
	coordinator := c.isCoordinatorLocked()
	out := make([]kmsg.DescribeGroupsResponseGroup, 0, len(names))
	for _, name := range names {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group = name
		rg.AuthorizedOperations = -2147483648
		g := c.groups[name]
		switch {
		case !coordinator:
			rg.ErrorCode = kerr.NotCoordinator.Code
		case g != nil:
			rg.State, rg.ProtocolType, rg.Protocol = g.state.String(), g.protocolType, g.protocol
			rg.Members = g.describeMembers()
		case slices.Contains(committed, name):
			rg.State, rg.ProtocolType = stateEmpty.String(), "consumer"
		default:
			rg.State = "Dead"
		}
		out = append(out, rg)
	}
	return out
}

// describeMembers lists g's members by id, with the chosen protocol's
// metadata and, once Stable, their assignments.
func (g *group) describeMembers() []kmsg.DescribeGroupsResponseGroupMember {
	ids := make([]string, 0, len(g.members))
	for id := range g.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]kmsg.DescribeGroupsResponseGroupMember, 0, len(ids))
	for _, id := range ids {
		m := g.members[id]
		rm := kmsg.NewDescribeGroupsResponseGroupMember()
		rm.MemberID, rm.InstanceID, rm.ClientID, rm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		for _, p := range m.protocols {
			if p.Name == g.protocol {
				rm.ProtocolMetadata = p.Metadata
			}
		}
		if g.state == stateStable {
			rm.MemberAssignment = m.assignment
		}
		out = append(out, rm)
	}
	return out
}
