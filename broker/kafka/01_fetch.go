package kafka

// Fetch: v4-12
//
// Behavior:
// * Reads through Backend.Fetch, which never returns data above the high
//   watermark and proves leadership (ReadIndex) before answering; a node
//   that is not the partition's leader answers NOT_LEADER_OR_FOLLOWER.
// * MaxWaitMillis/MinBytes: when fewer than MinBytes are available the
//   request waits until any requested partition gets new data or MaxWait
//   passes, then reads again. Any partition error answers at once.
// * MaxBytes bounds the response, PartitionMaxBytes each partition; the
//   first partition with data always gets at least one whole batch, even an
//   oversized one (KIP-74), later partitions only what fits.
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
// * Rack (v11, KIP-392) is ignored; PreferredReadReplica is -1.
// * v12: NOT_LEADER_OR_FOLLOWER carries the leader this node knows
//   (CurrentLeader, KIP-951).
// * LastFetchedEpoch (v12) is ignored: divergence is impossible for a
//   consumer because only committed data is ever served.
//
// Version notes:
// * v4: isolation level, LastStableOffset, AbortedTransactions
// * v5: LogStartOffset (KIP-107)
// * v7: fetch sessions (KIP-227)
// * v9: CurrentLeaderEpoch (KIP-320)
// * v11: Rack, PreferredReadReplica (KIP-392)
// * v12: flexible versions, LastFetchedEpoch
// (v13+ name topics by id; not served.)

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/recordbatch"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(1, 4, 12, handleFetch) }

// maxFetchWait bounds a client's MaxWaitMillis so that one request cannot
// hold a handler for long.
const maxFetchWait = 30 * time.Second

func handleFetch(ctx context.Context, s *Server, _ *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.FetchRequest)
	if req.Version >= 7 && req.SessionEpoch > 0 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, nil
	}
	wait := min(time.Duration(req.MaxWaitMillis)*time.Millisecond, maxFetchWait)
	deadline := time.Now().Add(wait)
	for {
		resp, bytes, final := fetchOnce(ctx, s, req)
		remaining := time.Until(deadline)
		if final || bytes >= int(req.MinBytes) || remaining <= 0 || ctx.Err() != nil {
			return resp, nil
		}
		waitForAny(ctx, s.backend, req, remaining)
		if time.Until(deadline) <= 0 {
			// One last read so that data that arrived just now is seen.
			resp, _, _ = fetchOnce(ctx, s, req)
			return resp, nil
		}
	}
}

// fetchOnce reads every requested partition once. final is true when some
// partition failed, in which case the response must not wait.
func fetchOnce(ctx context.Context, s *Server, req *kmsg.FetchRequest) (resp *kmsg.FetchResponse, bytes int, final bool) {
	resp = req.ResponseKind().(*kmsg.FetchResponse)
	resp.SessionID = 0
	budget := int(req.MaxBytes)
	if budget <= 0 {
		budget = 1 << 30
	}
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		topic, known := s.backend.Topic(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.PreferredReadReplica = -1
			// Empty, not null: librdkafka rejects a null record set
			// ("invalid MessageSetSize -1"), and Kafka never sends one.
			sp.RecordBatches = []byte{}
			pi, ok := findPartition(topic, rp.Partition)
			switch {
			case !known || !ok:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.CurrentLeaderEpoch >= 0 && rp.CurrentLeaderEpoch < pi.LeaderEpoch:
				sp.ErrorCode = kerr.FencedLeaderEpoch.Code
			case rp.CurrentLeaderEpoch > pi.LeaderEpoch:
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
			}
			if sp.ErrorCode != 0 {
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
			tp := cluster.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
			res, err := s.backend.Fetch(ctx, tp, rp.FetchOffset, int32(min(limit, 1<<30)))
			if err == nil && readCommitted(req) {
				stableOnly(&res, &sp)
			}
			if err != nil {
				sp.ErrorCode = errCode(err)
				if sp.ErrorCode == kerr.NotLeaderForPartition.Code && req.Version >= 12 && pi.Leader != s.backend.NodeID() {
					// KIP-951: point the client at the leader we know.
					sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = pi.Leader, pi.LeaderEpoch
				}
				final = true
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			sp.HighWatermark = res.HighWatermark
			sp.LastStableOffset = res.LastStable
			sp.LogStartOffset = res.LogStartOffset
			n := 0
			for _, b := range res.Batches {
				n += len(b)
			}
			// Only the first partition with data may exceed the budget.
			if n > 0 && (bytes == 0 || n <= budget) {
				sp.RecordBatches = make([]byte, 0, n)
				for _, b := range res.Batches {
					sp.RecordBatches = append(sp.RecordBatches, b...)
				}
				bytes += n
				budget -= n
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, bytes, final
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
func waitForAny(ctx context.Context, b Backend, req *kmsg.FetchRequest, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	done := make(chan struct{}, 1)
	n := 0
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			n++
			tp := cluster.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
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
