package harness

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Late batches: the network fault behind KIP-890 (Jepsen's Bufstream
// finding, reproduced on Kafka). A produce of a transaction is delayed on
// its way to the partition leader; the client gives up on it, ends the
// transaction, and begins the next; then the delayed request arrives. Its
// producer id and epoch are current and its sequence number is the next
// one the partition expects, so only the broker's verification that the
// producer has an ongoing transaction on the partition stands between it
// and the producer's next transaction, whose marker would decide it.
//
// franz-go never sends a produce it has not accounted for, and no fault of
// the harness delays client traffic, so the workload plays the slow
// network itself: in some transactions aborted on purpose, one planned
// send is held back and delivered, as a raw transactional Produce with the
// producer's id, epoch and next sequence number for the partition, after
// the abort was acknowledged. The send is part of the failed transaction
// in the history; the correct broker refuses it (INVALID_TXN_STATE), so
// reading its value is an aborted read (G1a).
const pTxnLate = 0.3

// LateStats counts the late batches of a run's txn workload.
type LateStats struct {
	// Delivered late batches got an answer; Taken of them were appended.
	Delivered, Taken atomic.Int64
}

// seqs counts the records the session's producer wrote per partition in
// its current epoch: franz-go numbers one record per produce from 0 per
// partition and epoch, so the count is the next sequence number. A
// session whose produce failed is no longer counted (franz-go may have
// reset or bumped its sequences); nil seqs means unknown.
type seqs map[Key]int32

// lateKey is the key of the failed transaction's send that may be
// delivered late: a key the transaction already wrote to (so its
// partition was added to the transaction, as the delayed request's would
// have been), with a known next sequence number.
func (c *txnClient) lateKey(p txnPlan, sent []bool) bool {
	if c.seqs == nil || p.late < 0 {
		return false
	}
	k := p.keys[p.late]
	for i := range p.late {
		if sent[i] && p.keys[i] == k {
			return true
		}
	}
	return false
}

// deliverLate sends one transactional record with value v to k as the
// session's producer, after its transaction ended. It returns nil when the
// broker refused it, as it must, and an error saying so when the broker
// took it.
func (c *txnClient) deliverLate(ctx context.Context, k Key, v int64) error {
	cl := c.sess.Client()
	id, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("late batch: producer id: %w", err)
	}
	md, err := kadm.NewClient(cl).Metadata(ctx, k.Topic)
	if err != nil {
		return fmt.Errorf("late batch: metadata %s: %w", k.Topic, err)
	}
	pd, ok := md.Topics[k.Topic].Partitions[k.Partition]
	if !ok || pd.Leader < 0 {
		return fmt.Errorf("late batch: no leader for %s", k)
	}
	seq := c.seqs[k]
	req := kmsg.NewPtrProduceRequest()
	tid := c.txnID()
	req.TransactionID = &tid
	req.Acks = -1
	req.TimeoutMillis = int32(c.cfg.OpTimeout / time.Millisecond)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = k.Topic, md.Topics[k.Topic].ID
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = k.Partition
	rp.Records = txnBatch(id, epoch, seq, []byte(strconv.FormatInt(v, 10)), time.Now())
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.Broker(int(pd.Leader)).Request(ctx, req)
	if err != nil {
		return nil // never arrived, or no answer: nothing to say
	}
	pr := resp.(*kmsg.ProduceResponse)
	for _, t := range pr.Topics {
		for _, p := range t.Partitions {
			if p.Partition != k.Partition {
				continue
			}
			if c.cfg.Late != nil {
				c.cfg.Late.Delivered.Add(1)
			}
			if perr := kerr.ErrorForCode(p.ErrorCode); perr != nil {
				return nil
			}
			if c.cfg.Late != nil {
				c.cfg.Late.Taken.Add(1)
			}
			// Taken: franz-go's next record to k reuses this sequence
			// number, so stop counting.
			c.seqs = nil
			return fmt.Errorf("late batch of value %d to %s (producer %d epoch %d sequence %d) was appended at offset %d after its transaction ended", v, k, id, epoch, seq, p.BaseOffset)
		}
	}
	return errors.New("late batch: partition missing from the produce response")
}

// txnBatch encodes a v2 record batch of one transactional record.
func txnBatch(pid int64, epoch int16, seq int32, value []byte, ts time.Time) []byte {
	r := kmsg.Record{Value: value}
	body := r.AppendTo(nil) // Length 0 takes one byte
	r.Length = int32(len(body) - 1)
	recs := r.AppendTo(nil)
	ms := ts.UnixMilli()
	b := kmsg.RecordBatch{
		FirstOffset: 0, PartitionLeaderEpoch: -1, Magic: 2,
		Attributes:     0x10, // transactional, no compression, create time
		FirstTimestamp: ms, MaxTimestamp: ms,
		ProducerID: pid, ProducerEpoch: epoch, FirstSequence: seq,
		NumRecords: 1, Records: recs,
	}
	out := b.AppendTo(nil)
	// Length counts what follows it; the CRC (Castagnoli) covers what
	// follows the CRC, from the attributes on.
	binary.BigEndian.PutUint32(out[8:12], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:21], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}
