package kafka

import (
	"errors"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Shared by the transaction APIs (22, 24, 25, 26, 28, 65, 66): who
// coordinates, and how the coordinator's answers become Kafka codes.

// isTxnCoordinator reports whether this node coordinates transactions now:
// the __meta leader does, as it coordinates consumer groups.
func (s *Server) isTxnCoordinator() bool {
	id := s.backend.CoordinatorID()
	return id >= 0 && id == s.backend.NodeID()
}

// txnErrCode maps a Backend error of a transaction-coordinator call: the
// transaction errors here, the rest (nil, leadership, readiness) as any
// coordinator call, by groupErrCode. oldFenced is set for the request
// versions that predate PRODUCER_FENCED (KIP-588): Kafka answers them
// INVALID_PRODUCER_EPOCH instead, which is all they understand.
func txnErrCode(err error, oldFenced bool) int16 {
	switch {
	case errors.Is(err, cluster.ErrProducerFenced) && oldFenced:
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, cluster.ErrProducerFenced):
		return kerr.ProducerFenced.Code
	case errors.Is(err, cluster.ErrInvalidProducerIDMapping):
		return kerr.InvalidProducerIDMapping.Code
	case errors.Is(err, cluster.ErrInvalidTxnState):
		return kerr.InvalidTxnState.Code
	case errors.Is(err, cluster.ErrConcurrentTransactions):
		return kerr.ConcurrentTransactions.Code
	case errors.Is(err, cluster.ErrInvalidTxnTimeout):
		return kerr.InvalidTransactionTimeout.Code
	case errors.Is(err, cluster.ErrTransactionalIDNotFound):
		return kerr.TransactionalIDNotFound.Code
	}
	return groupErrCode(err)
}

// validateTxnCommit checks a TxnOffsetCommit against the group's
// membership, as Kafka's group coordinator does for transactional
// commits: a request without member information (generation -1, no
// member id or instance id: every version before 3, and producers that
// do not know their group) is accepted whatever the group's state, so
// that a transaction may commit offsets for a group it does not belong
// to; otherwise the member must be current, as in OffsetCommit.
func (c *groupCoordinator) validateTxnCommit(name string, generation int32, memberID string, instanceID *string) int16 {
	if generation < 0 && memberID == "" && instanceID == nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.checkGroupLocked(name)
	}
	return c.validateCommit(name, generation, memberID, instanceID)
}

// txnPartitions is the request's partitions as cluster partitions, with
// Kafka's rule for batched requests: when any partition is unknown, none
// is attempted (unknown ones get UNKNOWN_TOPIC_OR_PARTITION, the others
// OPERATION_NOT_ATTEMPTED). codes is nil when every partition exists.
func txnPartitions(s *Server, topics []kmsg.AddPartitionsToTxnRequestTopic) (tps []cluster.TopicPartition, codes map[cluster.TopicPartition]int16) {
	for _, rt := range topics {
		topic, known := s.backend.Topic(rt.Topic)
		for _, p := range rt.Partitions {
			tp := cluster.TopicPartition{Topic: rt.Topic, Partition: p}
			tps = append(tps, tp)
			if _, ok := findPartition(topic, p); !known || !ok {
				if codes == nil {
					codes = map[cluster.TopicPartition]int16{}
				}
				codes[tp] = kerr.UnknownTopicOrPartition.Code
			}
		}
	}
	if codes != nil {
		for _, tp := range tps {
			if _, bad := codes[tp]; !bad {
				codes[tp] = kerr.OperationNotAttempted.Code
			}
		}
	}
	return tps, codes
}
