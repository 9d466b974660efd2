package kafka

// Produce: v0-11
//
// Behavior:
// * v3+ carry RecordBatch v2 (magic 2) only; any other magic is
//   CORRUPT_MESSAGE. Each partition's records may hold several batches;
//   every batch's CRC-32C is checked and a bad one fails its partition with
//   CORRUPT_MESSAGE before anything of that partition is appended.
// * v0-2 carry message sets (magic 0 or 1), which are up-converted to one
//   RecordBatch v2 per partition before they are appended, as Kafka 3.x
//   does (see message_set.go); a bad message CRC, a truncated set or zstd
//   is CORRUPT_MESSAGE. Like Kafka, which does not check the magic of
//   these versions, a v0-2 request carrying RecordBatch v2 is served as
//   v3+. Those versions have no producer id: no idempotence.
// * Each batch is one Backend.Produce call, in order within a partition;
//   partitions of one request, and pipelined requests of one connection,
//   are produced concurrently so they share Raft commits and fsyncs (group
//   commit); produce_chain.go keeps each partition's batches in order.
// * acks -1 waits for commit and apply, 1 for local acceptance, 0 sends no
//   response at all (a failed acks=0 produce closes the connection, as in
//   Kafka, so the client refreshes metadata). Any other acks is
//   INVALID_REQUIRED_ACKS.
// * TimeoutMillis bounds the wait; a batch whose commit is not confirmed in
//   time is REQUEST_TIMED_OUT (it may still commit: the client must treat it
//   as unknown, and an idempotent retry is de-duplicated).
// * Idempotent retries: the core reports ErrDuplicateSequence with the
//   original base offset when it still knows it; we answer NONE with that
//   offset, as Kafka does (since KAFKA-5793 the broker answers a duplicate of
//   one of the last five batches with the original offset and no error).
//   When the original offset is unknown we answer DUPLICATE_SEQUENCE_NUMBER,
//   which franz-go and the Java client treat as success.
// * Transactional batches are appended only within an ongoing transaction
//   of their producer at its current epoch that includes the partition
//   (KIP-890 verification, against the coordinator's replicated state;
//   Backend.Produce checks it and the partition's apply re-checks that the
//   transaction has not ended meanwhile): otherwise INVALID_TXN_STATE, or
//   INVALID_PRODUCER_EPOCH for an older epoch; NOT_ENOUGH_REPLICAS (as
//   Kafka translates it) when the coordinator's state cannot be read.
//   Control batches, and transactional ones without a producer id, are
//   INVALID_RECORD: only the coordinator writes markers.
// * A batch Raft dropped for want of a leader (this node handing leadership
//   over, or an election: nothing was appended) is produced again for up
//   to leaderChangeWait while this node may lead; once another node leads,
//   the answer is NOT_LEADER_OR_FOLLOWER naming it rather than
//   LEADER_NOT_AVAILABLE (see produceUntilLeader).
// * Unknown topics are auto-created when the server allows it; a partition
//   outside the topic is UNKNOWN_TOPIC_OR_PARTITION.
// * ThrottleMillis is always 0.
// * v10+: a NOT_LEADER_OR_FOLLOWER partition carries the leader this node
//   knows (CurrentLeader) and the response that leader's endpoint
//   (NodeEndpoints), KIP-951, so clients skip a metadata round trip.
//
// Version notes:
// * v1: ThrottleMillis
// * v2: LogAppendTime in the response; message format v1 (timestamps)
// * v3: RecordBatch, TransactionalID
// * v5: LogStartOffset (KIP-107)
// * v8: ErrorRecords, ErrorMessage (KIP-467)
// * v9: flexible versions
// * v10-11: KIP-951 leader discovery tags

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/recordbatch"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(0, 0, 11, typed(handleProduce)) }

func handleProduce(ctx context.Context, s *Server, _ *clientConn, req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse) error {

	timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = cluster.DefaultProposalTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if s.cfg.AutoCreateTopics && req.Acks >= -1 && req.Acks <= 1 {
		var missing []string
		for _, t := range req.Topics {
			if _, ok := s.backend.Topic(t.Topic); !ok {
				missing = append(missing, t.Topic)
			}
		}
		if len(missing) > 0 {
			s.autoCreate(ctx, missing)
		}
	}

	var wg sync.WaitGroup
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		topic, known := s.backend.Topic(rt.Topic)
		for i, rp := range rt.Partitions {
			sp := &st.Partitions[i]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			switch {
			case req.Acks < -1 || req.Acks > 1:
				sp.ErrorCode = kerr.InvalidRequiredAcks.Code
				continue
			case !known:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			if _, ok := findPartition(topic, rp.Partition); !ok {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			tp := cluster.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
			wg.Add(1)
			go func(records []byte) {
				defer wg.Done()
				producePartition(ctx, s, tp, records, req.Acks, req.Version, sp)
			}(rp.Records)
		}
		resp.Topics = append(resp.Topics, st)
	}
	wg.Wait()
	if req.Acks == 0 {
		// No response exists to carry an error, so, as Kafka does, a
		// failed acks=0 produce closes the connection: the client
		// notices, refreshes its metadata and reconnects.
		for _, st := range resp.Topics {
			for _, sp := range st.Partitions {
				if sp.ErrorCode != 0 {
					return fmt.Errorf("acks=0 produce to %s/%d failed with code %d", st.Topic, sp.Partition, sp.ErrorCode)
				}
			}
		}
		return errNoResponse
	}
	if req.Version >= 10 {
		addProduceLeaders(s, resp)
	}
	return nil
}

// leaderChangeWait bounds how long a produce whose batch was dropped for
// want of a leader waits for one (see produceUntilLeader): an election or
// a leadership transfer takes a few round trips.
const leaderChangeWait = time.Second

// produceUntilLeader handles a batch Raft dropped because no leader could
// take it (ErrNotReady: nothing was appended), which happens while this
// node hands leadership over and while a partition elects a leader.
// Answering LEADER_NOT_AVAILABLE at once sends the client to its metadata,
// which it may refresh only seconds later (franz-go waits up to its 5 s
// metadata min age), so instead, for up to leaderChangeWait, the batch is
// produced again while this node may still become the leader, and as soon
// as another node leads, the answer is NOT_LEADER_OR_FOLLOWER naming it
// (KIP-951), on which the client moves at once.
func produceUntilLeader(ctx context.Context, s *Server, link *chainLink, tp cluster.TopicPartition, b cluster.Batch, acks int16, err error) (cluster.ProduceResult, error) {
	// The wait is bounded, not the produce: a batch taken at last gets the
	// request's whole timeout to commit.
	wait, cancel := context.WithTimeout(ctx, leaderChangeWait)
	defer cancel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	var res cluster.ProduceResult
	for errors.Is(err, cluster.ErrNotReady) {
		select {
		case <-wait.Done():
			return res, err
		case <-t.C:
		}
		topic, _ := s.backend.Topic(tp.Topic)
		if p, ok := findPartition(topic, tp.Partition); ok {
			if _, elsewhere := s.otherLeader(p); elsewhere {
				return res, fmt.Errorf("produce to %s/%d: leader is node %d: %w", tp.Topic, tp.Partition, p.Leader, cluster.ErrNotLeader)
			}
		}
		res, err = produceChained(ctx, s, link, tp, b, acks)
	}
	return res, err
}

// addProduceLeaders fills KIP-951's CurrentLeader of every partition that
// failed with NOT_LEADER_OR_FOLLOWER and the leaders' endpoints, so the
// client can move its batches to the new leader without first refreshing
// metadata (a faster failover).
func addProduceLeaders(s *Server, resp *kmsg.ProduceResponse) {
	need := map[int32]bool{}
	for ti := range resp.Topics {
		st := &resp.Topics[ti]
		topic, _ := s.backend.Topic(st.Topic)
		for pi := range st.Partitions {
			sp := &st.Partitions[pi]
			p, found := findPartition(topic, sp.Partition)
			if l, ok := s.otherLeader(p); ok && found && sp.ErrorCode == kerr.NotLeaderForPartition.Code {
				sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = l.Leader, l.LeaderEpoch
				need[l.Leader] = true
			}
		}
	}
	resp.Brokers = s.leaderEndpoints(need)
}

// producePartition appends the batches of one partition and fills sp.
func producePartition(ctx context.Context, s *Server, tp cluster.TopicPartition, records []byte, acks, version int16, sp *kmsg.ProduceResponseTopicPartition) {
	fail := func(code int16, err error) {
		sp.ErrorCode = code
		if version >= 8 {
			msg := err.Error()
			sp.ErrorMessage = &msg
		}
	}
	if version < 3 && (len(records) <= recordbatch.Magic || records[recordbatch.Magic] != 2) {
		converted, err := upConvert(records)
		if err != nil {
			s.log.Warn("produce refused", "topic", tp.Topic, "partition", tp.Partition, "err", err)
			fail(kerr.CorruptMessage.Code, err)
			return
		}
		records = converted
	}
	batches, err := splitBatches(records)
	if err != nil {
		code := kerr.CorruptMessage.Code
		if errors.Is(err, errUnsupportedBatch) {
			code = kerr.InvalidRecord.Code
		}
		s.log.Warn("produce refused", "topic", tp.Topic, "partition", tp.Partition, "err", err)
		fail(code, err)
		return
	}
	link := linkOf(ctx, tp)
	if link != nil {
		// Later requests wait on this partition, not on the whole request.
		defer link.finish()
	}
	for i, b := range batches {
		res, err := produceChained(ctx, s, link, tp, b, acks)
		if errors.Is(err, cluster.ErrNotReady) {
			res, err = produceUntilLeader(ctx, s, link, tp, b, acks, err)
		}
		if errors.Is(err, cluster.ErrDuplicateSequence) && res.BaseOffset >= 0 {
			err = nil
		}
		if err != nil {
			fail(errCode(err), err)
			return
		}
		if i == 0 {
			sp.BaseOffset = res.BaseOffset
			sp.LogAppendTime = res.LogAppendTime
		}
		sp.LogStartOffset = res.LogStartOffset
	}
}
