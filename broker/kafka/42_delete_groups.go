package kafka

// DeleteGroups: v0-2
//
// Behavior:
// * Coordinator only (NOT_COORDINATOR elsewhere). As in Kafka's
//   GroupCoordinator: an empty group name is INVALID_GROUP_ID, a group
//   with neither members nor committed offsets GROUP_ID_NOT_FOUND, a group
//   with members NON_EMPTY_GROUP; an empty group loses its committed
//   offsets through __meta (Backend.DeleteOffsets) and is forgotten.
// * Each group is answered on its own; a failed deletion (no __meta
//   quorum, timeout) is that group's error only.
//
// Version notes:
// * v1: ThrottleMillis behavior change only
// * v2: flexible versions

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(42, 0, 2, typed(handleDeleteGroups)) }

func handleDeleteGroups(ctx context.Context, s *Server, _ *clientConn, req *kmsg.DeleteGroupsRequest, resp *kmsg.DeleteGroupsResponse) error {
	committed := s.backend.Groups()
	for _, name := range req.Groups {
		rg := kmsg.NewDeleteGroupsResponseGroup()
		rg.Group = name
		rg.ErrorCode = s.groups.deletable(name, slices.Contains(committed, name))
		if rg.ErrorCode == 0 {
			if err := s.backend.DeleteOffsets(ctx, name, nil); err != nil {
				rg.ErrorCode = groupErrCode(err)
			} else {
				s.groups.forgetIfEmpty(name)
			}
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return nil
}

// deletable checks that a group may be deleted now.
func (c *groupCoordinator) deletable(name string, hasOffsets bool) int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if code := c.checkGroupLocked(name); code != 0 {
		return code
	}
	g := c.groups[name]
	switch {
	case g != nil && len(g.members) > 0:
		return kerr.NonEmptyGroup.Code
	case g == nil && !hasOffsets:
		return kerr.GroupIDNotFound.Code
	}
	return 0
}

// forgetIfEmpty drops the in-memory record of a group without members.
func (c *groupCoordinator) forgetIfEmpty(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g := c.groups[name]; g != nil && len(g.members) == 0 {
		if g.timer != nil {
			g.timer.Stop()
		}
		delete(c.groups, name)
	}
}
