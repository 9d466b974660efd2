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
	committed := s.backend.Groups()
	for _, name := range req.Groups {
		resp.Groups = append(resp.Groups, s.groups.describe(name, slices.Contains(committed, name)))
	}
	return nil
}

// describe reports one group: its members when it has any in memory, Empty
// when only committed offsets know it, Dead when nothing does.
func (c *groupCoordinator) describe(name string, hasOffsets bool) kmsg.DescribeGroupsResponseGroup {
	rg := kmsg.NewDescribeGroupsResponseGroup()
	rg.Group = name
	rg.AuthorizedOperations = -2147483648
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[name]
	switch {
	case !c.isCoordinatorLocked():
		rg.ErrorCode = kerr.NotCoordinator.Code
	case g != nil:
		rg.State, rg.ProtocolType, rg.Protocol = g.state.String(), g.protocolType, g.protocol
		ids := make([]string, 0, len(g.members))
		for id := range g.members {
			ids = append(ids, id)
		}
		sort.Strings(ids)
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
			rg.Members = append(rg.Members, rm)
		}
	case hasOffsets:
		rg.State, rg.ProtocolType = stateEmpty.String(), "consumer"
	default:
		rg.State = "Dead"
	}
	return rg
}
