package kafka

// Fetch: v0-17
//
// Behavior:
// * Reads through Backend.Fetch, which never returns data above the high
//   watermark and proves leadership (ReadIndex) before answering; a node
//   that is not the partition's leader serves the read from its own copy
//   once it applied the leader's read index (linearizable follower reads).
// * v0-3 clients read message sets, not RecordBatch v2: their answers are
//   down-converted to uncompressed messages of magic 0 (v0-1) or 1 (v2-3),
//   records before the fetch offset left out and headers dropped, as Kafka
//   3.x does with its default message.downconversion.enable=true (see
//   message_set.go).
// * v13+ name topics by id (KIP-516); an unknown id is UNKNOWN_TOPIC_ID.
// * MaxWaitMillis/MinBytes: when fewer than MinBytes are available the
//   request waits until any requested partition gets new data or MaxWait
//   passes, then reads again. Any partition error answers at once.
// * MaxBytes (v3+) bounds the response, PartitionMaxBytes each partition;
//   the first partition with data always gets at least one whole batch,
//   even an oversized one (KIP-74), later partitions only what fits.
// * LastStableOffset is the partition's last stable offset (the first
//   offset of its earliest open transaction, else the high watermark).
//   read_committed (IsolationLevel 1) reads only below it and gets
//   AbortedTransactions: every aborted transaction (producer id, first
//   offset) whose range overlaps the returned batches, so the consumer
//   drops their records; it never sees a record of an open or aborted
//   transaction. Its MaxWait waits for the last stable offset to move, not
//   the high watermark. read_uncommitted gets everything up to the high
//   watermark and null AbortedTransactions, as in Kafka. Control batches
//   (markers) are returned like any batch; clients skip them.
// * CurrentLeaderEpoch (v9+, KIP-320): a client epoch older than the
//   partition's is FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH
//   (this node has not yet heard of that leader).
// * Fetch sessions (KIP-227) are not kept: every response has session id 0,
//   which tells the client to send full fetches (the Java consumer's
//   FetchSessionHandler then starts every request as a new full fetch,
//   epoch 0; epoch -1 is a sessionless full fetch, served the same way).
//   An incremental fetch (SessionEpoch > 0) names a session we do not have
//   and lists only changed partitions, so it is answered, as Kafka answers
//   an unknown session, with the top-level FETCH_SESSION_ID_NOT_FOUND and
//   no partitions: the client falls back to a full fetch.
// * Rack (v11, KIP-392): the leader of a partition answers a consumer
//   whose Rack is the --rack of another replica of the partition with that
//   replica as PreferredReadReplica and no records (Kafka's
//   RackAwareReplicaSelector); the consumer then fetches from it. Any
//   replica may be chosen, lagging or not: follower reads are
//   linearizable (ReadIndex). Otherwise PreferredReadReplica is -1.
// * v12+: NOT_LEADER_OR_FOLLOWER carries the leader this node knows
//   (CurrentLeader, KIP-951), and v16+ also that leader's endpoint
//   (NodeEndpoints).
// * LastFetchedEpoch (v12) is ignored: divergence is impossible for a
//   consumer because only committed data is ever served.
// * ReplicaID / ReplicaState (v15, KIP-903) and ReplicaDirectoryID (v17,
//   KIP-853) are ignored: followers replicate through Raft, not Fetch.
//
// Version notes:
// * v2: message format v1 (timestamps)
// * v3: MaxBytes
// * v4: isolation level, LastStableOffset, AbortedTransactions; RecordBatch
// * v5: LogStartOffset (KIP-107)
// * v7: fetch sessions (KIP-227)
// * v9: CurrentLeaderEpoch (KIP-320)
// * v11: Rack, PreferredReadReplica (KIP-392)
// * v12: flexible versions, LastFetchedEpoch
// * v13: topic ids (KIP-516)
// * v14: OFFSET_MOVED_TO_TIERED_STORAGE may be answered (KIP-405); never here
// * v15: ReplicaState (KIP-903)
// * v16: NodeEndpoints (KIP-951)
// * v17: ReplicaDirectoryID (KIP-853)

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/recordbatch"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(1, 0, 17, typed(handleFetch)) }

// maxFetchWait bounds a client's MaxWaitMillis so that one request cannot
// hold a handler for long.
const maxFetchWait = 30 * time.Second

func handleFetch(ctx context.Context, s *Server, _ *clientConn, req *kmsg.FetchRequest, resp *kmsg.FetchResponse) error {
	if req.Version >= 7 && req.SessionEpoch > 0 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return nil
	}
	names := fetchTopicNames(s.backend, req)
	wait := min(time.Duration(req.MaxWaitMillis)*time.Millisecond, maxFetchWait)
	deadline := time.Now().Add(wait)
	for {
		bytes, final := fetchOnce(ctx, s, req, names, resp)
		remaining := time.Until(deadline)
		if final || bytes >= int(req.MinBytes) || remaining <= 0 || ctx.Err() != nil {
			return nil
		}
		waitForAny(ctx, s.backend, req, names, remaining)
		if time.Until(deadline) <= 0 {
			// One last read so that data that arrived just now is seen.
			fetchOnce(ctx, s, req, names, resp)
			return nil
		}
	}
}

// fetchTopicNames resolves the requested topics to names, by id for v13+
// ("" for an unknown id).
func fetchTopicNames(b Backend, req *kmsg.FetchRequest) []string {
	names := make([]string, len(req.Topics))
	for i, rt := range req.Topics {
		names[i] = rt.Topic
		if req.Version >= 13 {
			t, _ := topicByID(b, rt.TopicID)
			names[i] = t.Name
		}
	}
	return names
}

// fetchOnce reads every requested partition once into resp (replacing what
// an earlier read put there). final is true when some partition failed, in
// which case the response must not wait.
func fetchOnce(ctx context.Context, s *Server, req *kmsg.FetchRequest, names []string, resp *kmsg.FetchResponse) (bytes int, final bool) {
	resp.Topics, resp.Brokers = resp.Topics[:0], nil
	resp.SessionID = 0
	budget := int(req.MaxBytes)
	if budget <= 0 || req.Version < 3 {
		budget = 1 << 30
	}
	leaders := map[int32]bool{}
	for i, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = names[i], rt.TopicID
		topic, known := s.backend.Topic(names[i])
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.PreferredReadReplica = -1
			// Empty, not null: librdkafka rejects a null record set
			// ("invalid MessageSetSize -1"), and Kafka never sends one.
			sp.RecordBatches = []byte{}
			pi, code := readablePartition(topic, known, rp.Partition, rp.CurrentLeaderEpoch)
			if !known && req.Version >= 13 {
				code = kerr.UnknownTopicID.Code
			}
			if code != 0 {
				sp.ErrorCode = code
				final = true
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			limit := int(rp.PartitionMaxBytes)
			if limit <= 0 || limit > budget {
				limit = budget
			}
			if limit <= 0 {
				limit = 1 // still read for the high watermark
			}
			tp := cluster.TopicPartition{Topic: names[i], Partition: rp.Partition}
			res, err := s.backend.Fetch(ctx, tp, rp.FetchOffset, int32(min(limit, 1<<30)))
			if err == nil && readCommitted(req) {
				stableOnly(&res, &sp)
			}
			if err != nil {
				sp.ErrorCode = errCode(err)
				if l, ok := s.otherLeader(pi); ok && sp.ErrorCode == kerr.NotLeaderForPartition.Code && req.Version >= 12 {
					sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = l.Leader, l.LeaderEpoch
					leaders[l.Leader] = true
				}
				final = true
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			sp.HighWatermark = res.HighWatermark
			sp.LastStableOffset = res.LastStable
			sp.LogStartOffset = res.LogStartOffset
			if r := s.preferredReadReplica(req, pi); r >= 0 {
				sp.PreferredReadReplica = r
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			data, err := fetchedRecords(tp, res.Batches, rp.FetchOffset, req.Version)
			if err != nil {
				s.log.Error("fetch: stored batches unreadable", "topic", tp.Topic, "partition", tp.Partition, "err", err)
				sp.ErrorCode = kerr.UnknownServerError.Code
				final = true
			}
			// Only the first partition with data may exceed the budget.
			if n := len(data); n > 0 && (bytes == 0 || n <= budget) {
				sp.RecordBatches = data
				bytes += n
				budget -= n
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if req.Version >= 16 {
		for _, b := range s.leaderEndpoints(leaders) {
			resp.Brokers = append(resp.Brokers, kmsg.FetchResponseBroker(b))
		}
	}
	return bytes, final
}

// fetchedRecords is the records field of one partition's answer: the
// stored batches as they are, or down-converted for v0-3.
func fetchedRecords(tp cluster.TopicPartition, batches [][]byte, from int64, version int16) ([]byte, error) {
	if version < 4 {
		magic := int8(1)
		if version < 2 {
			magic = 0
		}
		return downConvert(tp, batches, from, magic)
	}
	n := 0
	for _, b := range batches {
		n += len(b)
	}
	out := make([]byte, 0, n)
	for _, b := range batches {
		out = append(out, b...)
	}
	return out, nil
}

func readCommitted(req *kmsg.FetchRequest) bool { return req.IsolationLevel == 1 }

// stableOnly cuts a read_committed answer at the last stable offset and
// lists the aborted transactions of what is left.
func stableOnly(res *cluster.FetchResult, sp *kmsg.FetchResponseTopicPartition) {
	keep := res.Batches[:0]
	end := int64(-1)
	for _, b := range res.Batches {
		base := int64(binary.BigEndian.Uint64(b))
		if base >= res.LastStable {
			break
		}
		keep = append(keep, b)
		end = base + int64(int32(binary.BigEndian.Uint32(b[recordbatch.LastOffsetDelta:]))) + 1
	}
	res.Batches = keep
	sp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
	for _, a := range res.Aborted {
		if a.FirstOffset < end {
			at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
			at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
			sp.AbortedTransactions = append(sp.AbortedTransactions, at)
		}
	}
}

// waitForAny blocks until one requested partition may have data beyond its
// fetch offset, ctx is done, or d passes.
func waitForAny(ctx context.Context, b Backend, req *kmsg.FetchRequest, names []string, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	done := make(chan struct{}, 1)
	n := 0
	for i, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			n++
			tp := cluster.TopicPartition{Topic: names[i], Partition: rp.Partition}
			go func(off int64) {
				b.WaitForData(ctx, tp, off, d, readCommitted(req))
				select {
				case done <- struct{}{}:
				default:
				}
			}(rp.FetchOffset)
		}
	}
	if n == 0 {
		<-ctx.Done()
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// preferredReadReplica is the replica of pi, other than this leader, whose
// broker is in the consumer's rack (v11+), or -1.
func (s *Server) preferredReadReplica(req *kmsg.FetchRequest, pi cluster.PartitionInfo) int32 {
	self := s.backend.NodeID()
	if req.Version < 11 || req.Rack == "" || pi.Leader != self {
		return -1
	}
	racks := map[int32]string{}
	for _, b := range s.backend.Brokers() {
		racks[b.ID] = b.Rack
	}
	for _, r := range pi.Replicas {
		if r != self && racks[r] == req.Rack {
			return r
		}
	}
	return -1
}
