package kafka

// AddPartitionsToTxn: v0-3
//
// Behavior:
// * Transaction coordinator only (the __meta leader); elsewhere every
//   partition is NOT_COORDINATOR.
// * Adds the partitions to the producer's transaction through __meta,
//   beginning a transaction if none is ongoing; the transaction's markers
//   go to every partition added. A partition that does not exist is
//   UNKNOWN_TOPIC_OR_PARTITION and, as in Kafka, nothing of the request is
//   attempted then (the others are OPERATION_NOT_ATTEMPTED).
// * Producer checks: an unknown transactional id, or one that owns another
//   producer id, is INVALID_PRODUCER_ID_MAPPING; another epoch is
//   PRODUCER_FENCED (v0-1: INVALID_PRODUCER_EPOCH). While the id's
//   previous transaction still writes its markers the request waits for
//   them, then CONCURRENT_TRANSACTIONS if they take longer.
// * Adding a partition is what makes it accept the producer's
//   transactional batches (KIP-890 verification, see Produce); there is no
//   separate verification request.
//
// Version notes:
// * v1: ThrottleMillis behaviour (KIP-219)
// * v2: PRODUCER_FENCED (KIP-588)
// * v3: flexible versions
// (v4+ batch transactions for broker-to-broker verification, KIP-890;
// not served: this broker verifies against replicated state instead.)

import (
	"context"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(24, 0, 3, handleAddPartitionsToTxn) }

func handleAddPartitionsToTxn(ctx context.Context, s *Server, _ *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	tps, codes := txnPartitions(s, req.Topics)
	if codes == nil {
		var err error
		if s.isTxnCoordinator() {
			p := cluster.TxnProducer{ID: req.TransactionalID, ProducerID: req.ProducerID, Epoch: req.ProducerEpoch}
			err = s.backend.AddTxnPartitions(ctx, p, tps)
		} else {
			err = cluster.ErrNotLeader
		}
		code := txnErrCode(err, req.Version < 2)
		codes = map[cluster.TopicPartition]int16{}
		for _, tp := range tps {
			codes[tp] = code
		}
	}
	for _, rt := range req.Topics {
		st := kmsg.NewAddPartitionsToTxnResponseTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			sp.Partition = p
			sp.ErrorCode = codes[cluster.TopicPartition{Topic: rt.Topic, Partition: p}]
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
