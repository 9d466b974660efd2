package kafka

// FindCoordinator: v0-6
//
// Behavior:
// * Every consumer group (key type 0) and every transactional id (key type
//   1) is coordinated by the node leading __meta (Backend.CoordinatorID),
//   which keeps group membership in memory and commits offsets and
//   transaction state through __meta. While no leader is known the answer
//   is COORDINATOR_NOT_AVAILABLE (retriable).
// * Other key types (KIP-932 share groups, v6) are INVALID_REQUEST: there
//   are none, and a retriable COORDINATOR_NOT_AVAILABLE would make the
//   client loop forever.
// * v4 batches several keys (KIP-699); each gets its own entry.
//
// Version notes:
// * v1: KeyType, ErrorMessage, ThrottleMillis
// * v3: flexible versions
// * v4: CoordinatorKeys batching (KIP-699)
// * v5: TRANSACTION_ABORTABLE may be answered (KIP-890); never here
// * v6: share-group key type (KIP-932)

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(10, 0, 6, typed(handleFindCoordinator)) }

func handleFindCoordinator(_ context.Context, s *Server, _ *clientConn, req *kmsg.FindCoordinatorRequest, resp *kmsg.FindCoordinatorResponse) error {

	answer := func() (node int32, host string, port int32, code int16, msg string) {
		if req.CoordinatorType != 0 && req.CoordinatorType != 1 {
			return -1, "", -1, kerr.InvalidRequest.Code, "only group and transaction coordinators exist"
		}
		id := s.backend.CoordinatorID()
		if id < 0 {
			return -1, "", -1, kerr.CoordinatorNotAvailable.Code, "no __meta leader known"
		}
		for _, b := range s.backend.Brokers() {
			if b.ID == id {
				return id, b.Host, b.Port, 0, ""
			}
		}
		return -1, "", -1, kerr.CoordinatorNotAvailable.Code, "coordinator not registered yet"
	}

	if req.Version >= 4 {
		for _, key := range req.CoordinatorKeys {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key = key
			var msg string
			c.NodeID, c.Host, c.Port, c.ErrorCode, msg = answer()
			if msg != "" {
				c.ErrorMessage = &msg
			}
			resp.Coordinators = append(resp.Coordinators, c)
		}
		return nil
	}
	var msg string
	resp.NodeID, resp.Host, resp.Port, resp.ErrorCode, msg = answer()
	if msg != "" && req.Version >= 1 {
		resp.ErrorMessage = &msg
	}
	return nil
}
