package harness

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The log workload checks each partition as a linearizable log (Porcupine):
// appends are ProduceSync-like sends, and reads are single Fetch requests
// sent straight to the partition's leader on one broker connection, with
// no consumer in between. The operation's invoke/complete window is then
// exactly the request's round trip, which is what linearizability needs; a
// consumer's prefetching would make a poll's window meaningless.
const pLogRead = 0.5

// Where reads go. The broker promises linearizable reads from any replica
// (ReadIndex), so half the reads bypass the leader: a random other node
// (a follower, perhaps one that just restarted and is catching up) or the
// partition's previous leader (perhaps deposed without knowing it yet).
const (
	pReadLeader     = 0.5
	pReadPrevLeader = 0.2
	// the rest: a random node other than the leader
)

// readMaxBytes bounds one read's response.
const readMaxBytes = 1 << 20

type logClient struct {
	procBase
	meta map[Key]partMeta
	hw   map[Key]int64 // last high watermark seen per key
	// brokers are the node ids metadata listed; leaders the last leader
	// seen per key and prevLeader the one before it (kept across metadata
	// resets, to send reads to deposed leaders).
	brokers    []int32
	leaders    map[Key]int32
	prevLeader map[Key]int32
}

// partMeta is what a direct fetch needs to know about a partition.
type partMeta struct {
	leader  int32
	topicID [16]byte
}

// lookupPartMeta asks metadata for k's leader and topic id; the whole
// answer comes back too (the log client keeps its broker list).
func lookupPartMeta(ctx context.Context, cl *kgo.Client, k Key) (partMeta, kadm.Metadata, error) {
	md, err := kadm.NewClient(cl).Metadata(ctx, k.Topic)
	if err != nil {
		return partMeta{}, md, fmt.Errorf("metadata %s: %w", k.Topic, err)
	}
	td, ok := md.Topics[k.Topic]
	if !ok || td.Err != nil {
		return partMeta{}, md, fmt.Errorf("metadata %s: %w", k.Topic, errors.Join(td.Err, errors.New("topic not in metadata")))
	}
	pd, ok := td.Partitions[k.Partition]
	if !ok || pd.Leader < 0 {
		return partMeta{}, md, fmt.Errorf("metadata %s: no leader", k)
	}
	return partMeta{leader: pd.Leader, topicID: td.ID}, md, nil
}

func (c *logClient) close() { closeBounded(c.producer, 2*time.Second) }

func (c *logClient) step(ctx context.Context) {
	if c.rng.Float64() < pLogRead {
		act := c.cfg.Keys.Active()
		k := act[c.rng.IntN(len(act))]
		// Mostly the recent tail (cheap, and where the action is), now and
		// then the whole log.
		from := int64(0)
		if c.rng.IntN(4) > 0 {
			from = max(0, c.hw[k]-int64(c.rng.IntN(16)))
		}
		c.read(ctx, k, from)
		return
	}
	if c.send(ctx) == history.Info {
		c.newProcess()
		c.meta = nil
	}
}

// read records one direct fetch of k from offset from:
// invoke ["read", k, from]; ok ["read", k, [from, [[o, v]...], hw]].
// Reads change nothing, so any error is a fail.
func (c *logClient) read(ctx context.Context, k Key, from int64) ([]history.Record, int64, bool) {
	c.rec.Invoke(c.proc, history.FRead, []history.Mop{history.Read(k.String(), from)})
	recs, hw, node, err := c.fetch(ctx, k, from)
	meta := OpMeta{}
	if node >= 0 {
		meta.Node = nodeName(node)
	}
	if err != nil {
		c.meta = nil // the leader may have moved
		c.rec.CompleteMeta(c.proc, ClassifyRead(err), history.FRead, []history.Mop{history.Read(k.String(), from)}, err, meta)
		return nil, 0, false
	}
	if c.hw == nil {
		c.hw = map[Key]int64{}
	}
	c.hw[k] = hw
	m := history.Read(k.String(), from)
	m.Done, m.Records, m.HW = true, recs, hw
	c.rec.CompleteMeta(c.proc, history.Ok, history.FRead, []history.Mop{m}, nil, meta)
	return recs, hw, true
}

// readTarget picks the node a read of k goes to (see pReadLeader).
func (c *logClient) readTarget(k Key, leader int32) int32 {
	r := c.rng.Float64()
	if r < pReadLeader || len(c.brokers) < 2 {
		return leader
	}
	if p, ok := c.prevLeader[k]; ok && p != leader && r < pReadLeader+pReadPrevLeader {
		return p
	}
	others := make([]int32, 0, len(c.brokers))
	for _, b := range c.brokers {
		if b != leader {
			others = append(others, b)
		}
	}
	return others[c.rng.IntN(len(others))]
}

// fetch sends one Fetch request for k at from to a node chosen by
// readTarget and decodes the records at or above from. node is the node
// asked, -1 if none was.
func (c *logClient) fetch(ctx context.Context, k Key, from int64) (recs []history.Record, hw int64, node int32, err error) {
	node = -1
	cl, err := c.getProducer()
	if err != nil {
		return nil, 0, node, err
	}
	octx, cancel := c.opContext(ctx)
	defer cancel()
	pm, err := c.partition(octx, cl, k)
	if err != nil {
		return nil, 0, node, err
	}
	node = c.readTarget(k, pm.leader)
	recs, hw, err = c.fetchFrom(octx, cl, pm, node, k, from)
	return recs, hw, node, err
}

// fetchFrom sends the Fetch to node.
func (c *logClient) fetchFrom(octx context.Context, cl *kgo.Client, pm partMeta, node int32, k Key, from int64) ([]history.Record, int64, error) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0 // answer at once: the read is a point in time
	req.MinBytes = 0
	req.MaxBytes = readMaxBytes
	req.SessionEpoch = -1 // no fetch session: every read stands alone
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = k.Topic, pm.topicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = k.Partition, from, readMaxBytes
	rp.CurrentLeaderEpoch, rp.LogStartOffset = -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.Broker(int(node)).Request(octx, req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch %s from broker %d: %w", k, node, err)
	}
	fr := resp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(fr.ErrorCode); err != nil {
		return nil, 0, fmt.Errorf("fetch %s: %w", k, err)
	}
	for i := range fr.Topics {
		for j := range fr.Topics[i].Partitions {
			p := &fr.Topics[i].Partitions[j]
			if p.Partition != k.Partition {
				continue
			}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, 0, fmt.Errorf("fetch %s: %w", k, err)
			}
			fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
				Offset: from, Topic: k.Topic, Partition: k.Partition,
			}, p, kgo.DefaultDecompressor(), nil)
			if fp.Err != nil {
				return nil, 0, fmt.Errorf("fetch %s: decode: %w", k, fp.Err)
			}
			recs := make([]history.Record, 0, len(fp.Records))
			for _, r := range fp.Records {
				if r.Offset < from || r.Offset >= p.HighWatermark {
					continue
				}
				v, err := strconv.ParseInt(string(r.Value), 10, 64)
				if err != nil {
					continue
				}
				recs = append(recs, history.Record{Offset: r.Offset, Value: v})
			}
			return recs, p.HighWatermark, nil
		}
	}
	return nil, 0, fmt.Errorf("fetch %s: partition missing from response", k)
}

// partition returns k's leader and topic id, from the cache or metadata.
func (c *logClient) partition(ctx context.Context, cl *kgo.Client, k Key) (partMeta, error) {
	if pm, ok := c.meta[k]; ok {
		return pm, nil
	}
	pm, md, err := lookupPartMeta(ctx, cl, k)
	if err != nil {
		return partMeta{}, err
	}
	if c.meta == nil {
		c.meta = map[Key]partMeta{}
	}
	if c.leaders == nil {
		c.leaders, c.prevLeader = map[Key]int32{}, map[Key]int32{}
	}
	c.meta[k] = pm
	if old, ok := c.leaders[k]; ok && old != pm.leader {
		c.prevLeader[k] = old
	}
	c.leaders[k] = pm.leader
	c.brokers = c.brokers[:0]
	for _, b := range md.Brokers {
		c.brokers = append(c.brokers, b.NodeID)
	}
	return pm, nil
}
