package saramacompat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestSarama drives a real chronik-server child process with Sarama, the
// other widely used Go Kafka client. Sarama encodes every request itself
// (not through franz-go's kmsg, which the broker and its other tests share),
// picks request versions from its configured Kafka version clamped to what
// ApiVersions advertises, and implements the consumer-group protocol on its
// own, so it catches encodings and group behaviour that franz-go tolerates.
// Two subtests configure a modern (3.6) and an older (2.1) Kafka version so
// different API versions are exercised. Each covers: admin CreateTopic,
// DescribeTopics and ListTopics (DescribeConfigs); an idempotent acks=all SyncProducer whose
// offsets must be dense per partition; a partition consumer reading every
// record back in order; a consumer group that commits part of the log,
// leaves, and resumes in a second session exactly after its commits; and
// GetOffset, ListConsumerGroups, DescribeConsumerGroups and
// ListConsumerGroupOffsets; and Sarama's transactional producer (commit,
// abort, offsets in a transaction) read back by a read_committed consumer.
// The broker's log must show no closed connection or failed request.
func TestSarama(t *testing.T) {
	bin := serverBinary(t)
	b := startBroker(t, bin)
	saramaLog := captureSaramaLog()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sarama log (tail):\n%s", tail(saramaLog.String(), 80))
		}
	})

	for _, tc := range []struct {
		name    string
		version sarama.KafkaVersion
	}{
		{"v3_6", sarama.V3_6_0_0},
		{"v2_1", sarama.V2_1_0_0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.requestCounts(t)
			exercise(t, b, tc.version, tc.name)
			// Every API the test relies on must have been answered (not
			// just attempted) during this subtest.
			after := b.requestCounts(t)
			for _, api := range []string{"ApiVersions", "Metadata", "CreateTopics", "InitProducerID",
				"Produce", "Fetch", "ListOffsets", "FindCoordinator", "JoinGroup", "SyncGroup",
				"Heartbeat", "OffsetCommit", "OffsetFetch", "LeaveGroup", "DescribeGroups", "ListGroups",
				"AddPartitionsToTxn", "AddOffsetsToTxn", "TxnOffsetCommit", "EndTxn"} {
				if after[api] <= before[api] {
					t.Errorf("the broker answered no %s request during this subtest (metrics before %v, after %v)", api, before[api], after[api])
				}
			}
			b.checkLog(t)
		})
	}
}

// exercise runs the whole scenario against b with Sarama configured for
// version; name keeps topics and groups of different subtests apart.
func exercise(t *testing.T, b *broker, version sarama.KafkaVersion, name string) {
	topic := "sarama-" + name
	group := "sarama-group-" + name
	const partitions = 3
	addrs := []string{b.kafka}
	cfg := newConfig(version)

	// --- admin: create and describe the topic.
	admin, err := sarama.NewClusterAdmin(addrs, cfg)
	if err != nil {
		t.Fatalf("sarama.NewClusterAdmin(%v, version %s): %v", addrs, version, err)
	}
	t.Cleanup(func() { admin.Close() })
	maxBytes := "1048588"
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"max.message.bytes": &maxBytes}}, false); err != nil {
		t.Fatalf("CreateTopics %q with %d partitions: %v", topic, partitions, err)
	}
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false); !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		t.Fatalf("CreateTopics %q a second time: got %v, want TOPIC_ALREADY_EXISTS", topic, err)
	}
	mds, err := admin.DescribeTopics([]string{topic})
	if err != nil {
		t.Fatalf("DescribeTopics(%q): %v", topic, err)
	}
	if len(mds) != 1 || mds[0].Name != topic || !errors.Is(mds[0].Err, sarama.ErrNoError) {
		t.Fatalf("DescribeTopics(%q): want one topic without error, got %s", topic, describeMetadata(mds))
	}
	var ids []int32
	for _, p := range mds[0].Partitions {
		ids = append(ids, p.ID)
		if !errors.Is(p.Err, sarama.ErrNoError) || p.Leader != 1 || !slices.Equal(p.Replicas, []int32{1}) || !slices.Equal(p.Isr, []int32{1}) {
			t.Errorf("DescribeTopics(%q) partition %d: %s, leader %d replicas %v isr %v; want no error, leader 1, replicas [1], isr [1]",
				topic, p.ID, kerrString(p.Err), p.Leader, p.Replicas, p.Isr)
		}
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []int32{0, 1, 2}) {
		t.Fatalf("DescribeTopics(%q): partitions %v, want [0 1 2]", topic, ids)
	}
	checkListTopics(t, admin, topic, partitions)

	// --- idempotent acks=all producer: dense offsets per partition.
	client, err := sarama.NewClient(addrs, cfg)
	if err != nil {
		t.Fatalf("sarama.NewClient: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	prod, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		t.Fatalf("NewSyncProducer (idempotent, acks=all): %v", err)
	}
	t.Cleanup(func() { prod.Close() })
	rl := newLog(partitions)
	const total = 1000
	const single = 100 // the first records one SendMessage at a time, the rest in batches
	for i := range single {
		m := rl.message(topic, i)
		p, off, err := prod.SendMessage(m)
		if err != nil {
			t.Fatalf("SendMessage of record %d: %v", i, err)
		}
		rl.acked(t, m, p, off)
	}
	for start := single; start < total; start += 100 {
		var batch []*sarama.ProducerMessage
		for i := start; i < start+100; i++ {
			batch = append(batch, rl.message(topic, i))
		}
		if err := prod.SendMessages(batch); err != nil {
			t.Fatalf("SendMessages of records %d..%d: %v", start, start+99, err)
		}
		for _, m := range batch {
			rl.acked(t, m, m.Partition, m.Offset)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	for p := range int32(partitions) {
		if len(rl.recs[p]) == 0 {
			t.Fatalf("no record of %d went to partition %d (sizes %v)", total, p, rl.sizes())
		}
	}
	t.Logf("produced %d records, per partition %v", total, rl.sizes())
	checkOffsets(t, client, topic, rl)

	// --- partition consumer: every record back, in order.
	cons, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	t.Cleanup(func() { cons.Close() })
	for p := range int32(partitions) {
		consumePartition(t, cons, topic, p, sarama.OffsetOldest, rl.recs[p])
	}
	mid := int64(len(rl.recs[1]) / 2)
	consumePartition(t, cons, topic, 1, mid, rl.recs[1][mid:])

	// --- consumer group, session 1: mark and commit the first half of
	// every partition only, then leave.
	cut := map[int32]int64{}
	for p := range int32(partitions) {
		cut[p] = int64(len(rl.recs[p]) / 2)
	}
	groupSession(t, cfg, addrs, group, topic, rl, func(p int32) int64 { return 0 }, cut, nil)
	checkCommitted(t, admin, group, topic, cut)
	checkGroupListed(t, admin, group)
	desc := describeGroup(t, admin, group)
	if desc.State != "Empty" || len(desc.Members) != 0 {
		t.Errorf("DescribeGroups(%q) after the only member left: state %q with %d members, want Empty with 0", group, desc.State, len(desc.Members))
	}

	// More records, then session 2 of the same group must start exactly at
	// the committed offsets and read to the new end.
	for i := total; i < total+30; i++ {
		m := rl.message(topic, i)
		p, off, err := prod.SendMessage(m)
		if err != nil {
			t.Fatalf("SendMessage of record %d: %v", i, err)
		}
		rl.acked(t, m, p, off)
	}
	end := map[int32]int64{}
	for p := range int32(partitions) {
		end[p] = int64(len(rl.recs[p]))
	}
	groupSession(t, cfg, addrs, group, topic, rl, func(p int32) int64 { return cut[p] }, end, func() {
		// While the member is in the group: it is Stable, with one
		// member owning every partition, and it has sent heartbeats.
		desc := describeGroup(t, admin, group)
		if desc.State != "Stable" || desc.ProtocolType != "consumer" || len(desc.Members) != 1 {
			t.Errorf("DescribeGroups(%q) during session 2: state %q protocol type %q with %d members, want Stable, consumer, 1",
				group, desc.State, desc.ProtocolType, len(desc.Members))
		}
		for id, m := range desc.Members {
			if m.ClientId != cfg.ClientID {
				t.Errorf("DescribeGroups(%q) member %s: client id %q, want %q", group, id, m.ClientId, cfg.ClientID)
			}
			a, err := m.GetMemberAssignment()
			if err != nil || a == nil {
				t.Errorf("DescribeGroups(%q) member %s: assignment %v, decode error %v", group, id, a, err)
				continue
			}
			got := slices.Clone(a.Topics[topic])
			slices.Sort(got)
			if !slices.Equal(got, []int32{0, 1, 2}) || len(a.Topics) != 1 {
				t.Errorf("DescribeGroups(%q) member %s: assignment %v, want %s: [0 1 2]", group, id, a.Topics, topic)
			}
		}
		b.waitHeartbeats(t, 10*time.Second)
	})
	checkCommitted(t, admin, group, topic, end)
	exerciseTxn(t, addrs, admin, version, name)
}

// exerciseTxn runs Sarama's transactional producer: a committed
// transaction, an aborted one, and one that also commits a consumer
// group's offset (AddOffsetsToTxn, TxnOffsetCommit). A read_committed
// partition consumer must read exactly the committed records, and the
// group's offset must be the one committed in the transaction.
func exerciseTxn(t *testing.T, addrs []string, admin sarama.ClusterAdmin, version sarama.KafkaVersion, name string) {
	topic := "sarama-txn-" + name
	group := "sarama-txn-group-" + name
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("CreateTopics %q: %v", topic, err)
	}
	cfg := newConfig(version)
	cfg.Producer.Transaction.ID = "sarama-tx-" + name
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	prod, err := sarama.NewSyncProducer(addrs, cfg)
	if err != nil {
		t.Fatalf("NewSyncProducer (transactional id %q): %v", cfg.Producer.Transaction.ID, err)
	}
	t.Cleanup(func() { prod.Close() })
	txn := func(commit bool, values ...string) {
		t.Helper()
		if err := prod.BeginTxn(); err != nil {
			t.Fatalf("BeginTxn: %v", err)
		}
		for _, v := range values {
			if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(v)}); err != nil {
				t.Fatalf("SendMessage %q in a transaction: %v", v, err)
			}
		}
		if !commit {
			if err := prod.AbortTxn(); err != nil {
				t.Fatalf("AbortTxn: %v", err)
			}
			return
		}
		if values[0] == "c3" {
			offsets := map[string][]*sarama.PartitionOffsetMetadata{topic: {{Partition: 0, Offset: 3, LeaderEpoch: -1}}}
			if err := prod.AddOffsetsToTxn(offsets, group); err != nil {
				t.Fatalf("AddOffsetsToTxn: %v", err)
			}
		}
		if err := prod.CommitTxn(); err != nil {
			t.Fatalf("CommitTxn: %v", err)
		}
	}
	txn(true, "c1", "c2")
	txn(false, "a1")
	txn(true, "c3")

	ccfg := newConfig(version)
	ccfg.Consumer.IsolationLevel = sarama.ReadCommitted
	cons, err := sarama.NewConsumer(addrs, ccfg)
	if err != nil {
		t.Fatalf("NewConsumer (read_committed): %v", err)
	}
	t.Cleanup(func() { cons.Close() })
	pc, err := cons.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatalf("ConsumePartition(%s/0, read_committed): %v", topic, err)
	}
	defer pc.Close()
	var got []string
	deadline := time.After(15 * time.Second)
	for len(got) < 3 {
		select {
		case m := <-pc.Messages():
			got = append(got, string(m.Value))
		case err := <-pc.Errors():
			t.Fatalf("read_committed consumer of %s/0: %v", topic, err)
		case <-deadline:
			t.Fatalf("read_committed consumer of %s/0 read %q in 15 s, want c1 c2 c3", topic, got)
		}
	}
	select {
	case m := <-pc.Messages():
		got = append(got, string(m.Value))
	case <-time.After(500 * time.Millisecond):
	}
	if !slices.Equal(got, []string{"c1", "c2", "c3"}) {
		t.Fatalf("read_committed consumer of %s/0 read %q, want [c1 c2 c3]: the aborted record must not be delivered", topic, got)
	}
	checkCommitted(t, admin, group, topic, map[int32]int64{0: 3})
}

// newConfig is the Sarama configuration of every client in the test:
// version as given, the idempotent acks=all producer the brief asks for,
// manual commits, and short group intervals so heartbeats happen.
func newConfig(version sarama.KafkaVersion) *sarama.Config {
	c := sarama.NewConfig()
	c.Version = version
	c.ClientID = "chronik-sarama-compat"
	c.Net.DialTimeout = 5 * time.Second
	c.Net.ReadTimeout = 15 * time.Second
	c.Net.WriteTimeout = 10 * time.Second
	c.Net.MaxOpenRequests = 1
	c.Metadata.Retry.Max = 10
	c.Metadata.Retry.Backoff = 200 * time.Millisecond
	c.Admin.Timeout = 10 * time.Second
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Retry.Max = 5
	c.Producer.Retry.Backoff = 100 * time.Millisecond
	c.Consumer.Return.Errors = true
	c.Consumer.MaxWaitTime = 250 * time.Millisecond
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = false
	c.Consumer.Group.Session.Timeout = 6 * time.Second
	c.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
	c.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	return c
}

// record is one produced record as acknowledged.
type record struct{ key, value string }

// recordLog is what the producer got acknowledged: per partition, the
// records in offset order (recs[p][o] is at offset o).
type recordLog struct{ recs [][]record }

func newLog(partitions int) *recordLog { return &recordLog{recs: make([][]record, partitions)} }

func (l *recordLog) message(topic string, i int) *sarama.ProducerMessage {
	return &sarama.ProducerMessage{
		Topic: topic,
		Key:   sarama.StringEncoder("key-" + strconv.Itoa(i)),
		Value: sarama.StringEncoder(fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", i%50))),
	}
}

// acked records that m was acknowledged at p/off, which must be the next
// offset of p: acks=all idempotent produce with one request in flight
// leaves no gaps and no reordering.
func (l *recordLog) acked(t *testing.T, m *sarama.ProducerMessage, p int32, off int64) {
	t.Helper()
	if p < 0 || int(p) >= len(l.recs) {
		t.Fatalf("record %s acknowledged on partition %d of a %d-partition topic", m.Key, p, len(l.recs))
	}
	if want := int64(len(l.recs[p])); off != want {
		t.Fatalf("record %s acknowledged at partition %d offset %d, want the next offset %d (offsets must be dense)", m.Key, p, off, want)
	}
	k, _ := m.Key.Encode()
	v, _ := m.Value.Encode()
	l.recs[p] = append(l.recs[p], record{string(k), string(v)})
}

func (l *recordLog) sizes() []int {
	var out []int
	for _, r := range l.recs {
		out = append(out, len(r))
	}
	return out
}

// checkListTopics calls ClusterAdmin.ListTopics, which Sarama builds from
// Metadata plus DescribeConfigs (API 32): the topic must be listed with its
// partition count and the config it was created with (Sarama leaves
// defaults out of ConfigEntries).
func checkListTopics(t *testing.T, admin sarama.ClusterAdmin, topic string, partitions int32) {
	t.Helper()
	topics, err := admin.ListTopics()
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	d, ok := topics[topic]
	if !ok || d.NumPartitions != partitions {
		t.Fatalf("ListTopics: %q has %+v (listed: %v), want %d partitions", topic, d, ok, partitions)
	}
	if v := d.ConfigEntries["max.message.bytes"]; v == nil || *v != "1048588" || len(d.ConfigEntries) != 1 {
		t.Fatalf("ListTopics: %q configs %v, want only max.message.bytes=1048588 (given at creation)", topic, d.ConfigEntries)
	}
}

// checkOffsets compares GetOffset (ListOffsets) with what was produced.
func checkOffsets(t *testing.T, client sarama.Client, topic string, l *recordLog) {
	t.Helper()
	for p := range int32(len(l.recs)) {
		newest, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatalf("GetOffset(%s/%d, newest): %v", topic, p, err)
		}
		oldest, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("GetOffset(%s/%d, oldest): %v", topic, p, err)
		}
		if newest != int64(len(l.recs[p])) || oldest != 0 {
			t.Fatalf("GetOffset(%s/%d): oldest %d newest %d, want 0 and %d", topic, p, oldest, newest, len(l.recs[p]))
		}
	}
}

// consumePartition reads want from p starting at from (OffsetOldest or an
// offset) and checks offsets, keys, values, that nothing else follows, and
// the high watermark.
func consumePartition(t *testing.T, cons sarama.Consumer, topic string, p int32, from int64, want []record) {
	t.Helper()
	pc, err := cons.ConsumePartition(topic, p, from)
	if err != nil {
		t.Fatalf("ConsumePartition(%s/%d, from %d): %v", topic, p, from, err)
	}
	defer pc.Close()
	first := from
	if from == sarama.OffsetOldest {
		first = 0
	}
	for i, w := range want {
		wantOff := first + int64(i)
		select {
		case m := <-pc.Messages():
			if m.Offset != wantOff || m.Partition != p || m.Topic != topic || string(m.Key) != w.key || string(m.Value) != w.value {
				t.Fatalf("ConsumePartition(%s/%d, from %d): record %d is %s/%d@%d key %q value %q, want offset %d key %q value %q",
					topic, p, from, i, m.Topic, m.Partition, m.Offset, m.Key, m.Value, wantOff, w.key, w.value)
			}
		case err := <-pc.Errors():
			t.Fatalf("ConsumePartition(%s/%d, from %d) after %d of %d records: %v", topic, p, from, i, len(want), err)
		case <-time.After(30 * time.Second):
			t.Fatalf("ConsumePartition(%s/%d, from %d): only %d of %d records within 30s", topic, p, from, i, len(want))
		}
	}
	select {
	case m := <-pc.Messages():
		t.Fatalf("ConsumePartition(%s/%d, from %d): unexpected record after the last produced one: offset %d key %q", topic, p, from, m.Offset, m.Key)
	case <-time.After(300 * time.Millisecond):
	}
	if hwm, want := pc.HighWaterMarkOffset(), first+int64(len(want)); hwm != want {
		t.Fatalf("ConsumePartition(%s/%d): high watermark %d, want %d", topic, p, hwm, want)
	}
}

// groupSession runs one consumer-group member on topic until every
// partition p has delivered offsets start(p)..stop[p]-1, in order and
// matching log; it marks each of them, commits, calls during (if set)
// while still a member, and closes the group (LeaveGroup). Any delivered
// offset below start(p) (a committed record delivered again) or a gap fails.
func groupSession(t *testing.T, cfg *sarama.Config, addrs []string, group, topic string, l *recordLog,
	start func(p int32) int64, stop map[int32]int64, during func()) {
	t.Helper()
	cg, err := sarama.NewConsumerGroup(addrs, group, cfg)
	if err != nil {
		t.Fatalf("NewConsumerGroup(%q): %v", group, err)
	}
	closed := false
	closeGroup := func() {
		if !closed {
			closed = true
			if err := cg.Close(); err != nil {
				t.Errorf("ConsumerGroup(%q).Close: %v", group, err)
			}
		}
	}
	defer closeGroup()

	h := &groupHandler{l: l, topic: topic, start: start, stop: stop, next: map[int32]int64{}, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	consumed := make(chan error, 1)
	go func() {
		for {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil {
				consumed <- err
				return
			}
			if ctx.Err() != nil {
				consumed <- nil
				return
			}
		}
	}()
	var groupErrs []error
	errsDone := make(chan struct{})
	go func() {
		defer close(errsDone)
		for err := range cg.Errors() {
			groupErrs = append(groupErrs, err)
		}
	}()

	select {
	case <-h.done:
	case err := <-consumed:
		t.Fatalf("ConsumerGroup(%q).Consume ended before all records arrived: %v (%s)", group, err, h.progress())
	case <-ctx.Done():
		t.Fatalf("ConsumerGroup(%q): records not all delivered within 90s: %s", group, h.progress())
	}
	if err := h.failure(); err != nil {
		t.Fatalf("ConsumerGroup(%q): %v", group, err)
	}
	if during != nil {
		during()
	}
	cancel()
	select {
	case err := <-consumed:
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("ConsumerGroup(%q).Consume: %v", group, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("ConsumerGroup(%q).Consume did not return within 30s of its context being cancelled", group)
	}
	closeGroup()
	select {
	case <-errsDone:
	case <-time.After(30 * time.Second):
		t.Fatalf("ConsumerGroup(%q).Errors not closed within 30s of Close", group)
	}
	if err := h.failure(); err != nil {
		t.Fatalf("ConsumerGroup(%q): %v", group, err)
	}
	for _, err := range groupErrs {
		t.Errorf("ConsumerGroup(%q) reported an error: %v", group, err)
	}
}

// groupHandler is the sarama.ConsumerGroupHandler of groupSession.
type groupHandler struct {
	l     *recordLog
	topic string
	start func(p int32) int64
	stop  map[int32]int64

	mu        sync.Mutex
	next      map[int32]int64 // next expected offset per partition
	committed bool
	err       error
	done      chan struct{}
}

func (h *groupHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	claims := slices.Clone(s.Claims()[h.topic])
	slices.Sort(claims)
	if !slices.Equal(claims, []int32{0, 1, 2}) && h.err == nil {
		h.err = fmt.Errorf("generation %d member %s was assigned %v of %s, want [0 1 2]", s.GenerationID(), s.MemberID(), s.Claims(), h.topic)
	}
	return nil
}

func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *groupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-c.Messages():
			if !ok {
				return nil
			}
			h.deliver(s, m)
		case <-s.Context().Done():
			return nil
		}
	}
}

func (h *groupHandler) deliver(s sarama.ConsumerGroupSession, m *sarama.ConsumerMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := m.Partition
	next, ok := h.next[p]
	if !ok {
		next = h.start(p)
	}
	fail := func(format string, a ...any) {
		if h.err == nil {
			h.err = fmt.Errorf("partition %d: "+format, append([]any{p}, a...)...)
		}
	}
	switch {
	case m.Offset < h.start(p):
		fail("delivered offset %d, below the committed offset %d", m.Offset, h.start(p))
		return
	case m.Offset != next:
		// A rebalance may legitimately restart a partition at the last
		// commit; this test has one member and one generation, so any
		// jump is an error.
		fail("delivered offset %d, want %d", m.Offset, next)
		return
	case m.Offset >= int64(len(h.l.recs[p])):
		fail("delivered offset %d beyond the %d produced records", m.Offset, len(h.l.recs[p]))
		return
	}
	if w := h.l.recs[p][m.Offset]; string(m.Key) != w.key || string(m.Value) != w.value {
		fail("offset %d: key %q value %q, want %q %q", m.Offset, m.Key, m.Value, w.key, w.value)
		return
	}
	h.next[p] = m.Offset + 1
	if m.Offset < h.stop[p] {
		s.MarkMessage(m, "")
	}
	if h.committed {
		return
	}
	for p, stop := range h.stop {
		n, ok := h.next[p]
		if !ok {
			n = h.start(p)
		}
		if n < stop {
			return
		}
	}
	h.committed = true
	s.Commit()
	close(h.done)
}

func (h *groupHandler) failure() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

func (h *groupHandler) progress() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return fmt.Sprintf("next offsets %v, want %v, first error %v", h.next, h.stop, h.err)
}

// checkCommitted compares ListConsumerGroupOffsets (OffsetFetch) with want.
func checkCommitted(t *testing.T, admin sarama.ClusterAdmin, group, topic string, want map[int32]int64) {
	t.Helper()
	var parts []int32
	for p := range want {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if err != nil {
		t.Fatalf("ListConsumerGroupOffsets(%q): %v", group, err)
	}
	if !errors.Is(resp.Err, sarama.ErrNoError) {
		t.Fatalf("ListConsumerGroupOffsets(%q): %s", group, kerrString(resp.Err))
	}
	for _, p := range parts {
		blk := resp.GetBlock(topic, p)
		if blk == nil {
			t.Fatalf("ListConsumerGroupOffsets(%q): no answer for %s/%d", group, topic, p)
		}
		if !errors.Is(blk.Err, sarama.ErrNoError) || blk.Offset != want[p] {
			t.Fatalf("ListConsumerGroupOffsets(%q) %s/%d: offset %d (%s), want offset %d", group, topic, p, blk.Offset, kerrString(blk.Err), want[p])
		}
	}
}

// checkGroupListed checks ListConsumerGroups (ListGroups) names group as a
// consumer group.
func checkGroupListed(t *testing.T, admin sarama.ClusterAdmin, group string) {
	t.Helper()
	groups, err := admin.ListConsumerGroups()
	if err != nil {
		t.Fatalf("ListConsumerGroups: %v", err)
	}
	if pt, ok := groups[group]; !ok || pt != "consumer" {
		t.Fatalf("ListConsumerGroups: %q has protocol type %q (listed: %v), want consumer; all: %v", group, pt, ok, groups)
	}
}

// describeGroup returns DescribeConsumerGroups' (DescribeGroups') answer
// for group, which must be error-free.
func describeGroup(t *testing.T, admin sarama.ClusterAdmin, group string) *sarama.GroupDescription {
	t.Helper()
	ds, err := admin.DescribeConsumerGroups([]string{group})
	if err != nil {
		t.Fatalf("DescribeConsumerGroups(%q): %v", group, err)
	}
	if len(ds) != 1 || ds[0].GroupId != group || !errors.Is(ds[0].Err, sarama.ErrNoError) {
		var got []string
		for _, d := range ds {
			got = append(got, fmt.Sprintf("%q (%s)", d.GroupId, kerrString(d.Err)))
		}
		t.Fatalf("DescribeConsumerGroups(%q): want one error-free group, got %v", group, got)
	}
	return ds[0]
}

// kerrString names a Kafka error code for a failure message.
func kerrString(e sarama.KError) string {
	if errors.Is(e, sarama.ErrNoError) {
		return "no error"
	}
	return fmt.Sprintf("error %d: %v", int16(e), e)
}

func describeMetadata(mds []*sarama.TopicMetadata) string {
	var out []string
	for _, md := range mds {
		out = append(out, fmt.Sprintf("%q (%s) partitions %d", md.Name, kerrString(md.Err), len(md.Partitions)))
	}
	return "[" + strings.Join(out, ", ") + "]"
}

// --- the broker child process.

// serverBinary returns CHRONIK_SERVER_BIN, or builds chronik-server from
// the repository root (three levels up) into a temporary directory.
func serverBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("CHRONIK_SERVER_BIN"); bin != "" {
		if fi, err := os.Stat(bin); err != nil || fi.IsDir() {
			t.Fatalf("CHRONIK_SERVER_BIN=%q is not a file: %v", bin, err)
		}
		return bin
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(wd, "..", "..", "..")
	if gomod, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !bytes.HasPrefix(gomod, []byte("module github.com/chronik-chaos/chronik\n")) {
		t.Fatalf("%s is not the chronik repository root (go.mod: %v); set CHRONIK_SERVER_BIN", root, err)
	}
	bin := filepath.Join(t.TempDir(), "chronik-server")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-C", root, "-o", bin, "./broker/cmd/chronik-server")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -C %s ./broker/cmd/chronik-server: %v\n%s", root, err, out)
	}
	return bin
}

// broker is a chronik-server child process.
type broker struct {
	kafka, admin string
	cmd          *exec.Cmd
	exited       chan struct{}
	log          *lockedBuffer
}

// startBroker starts a standalone node on free loopback ports, waits for
// /readyz, and kills it when t ends.
func startBroker(t *testing.T, bin string) *broker {
	t.Helper()
	kport, aport := freePort(t), freePort(t)
	b := &broker{
		kafka:  net.JoinHostPort("127.0.0.1", strconv.Itoa(kport)),
		admin:  net.JoinHostPort("127.0.0.1", strconv.Itoa(aport)),
		exited: make(chan struct{}),
		log:    &lockedBuffer{},
	}
	b.cmd = exec.Command(bin, "--kafka-port", strconv.Itoa(kport), "--admin-port", strconv.Itoa(aport),
		"--listen-host", "127.0.0.1", "--advertised-addr", "127.0.0.1", "--node-id", "1",
		"--data-dir", t.TempDir(), "standalone")
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	// If the test binary dies (a timeout panic), the broker dies with it.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	go func() {
		b.cmd.Wait()
		close(b.exited)
	}()
	t.Cleanup(func() {
		b.cmd.Process.Kill()
		<-b.exited
		if t.Failed() {
			t.Logf("chronik-server log (tail):\n%s", tail(b.log.String(), 80))
		}
	})
	b.waitReady(t, 30*time.Second)
	return b
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitReady polls GET /readyz until 200, the process exiting, or d.
func (b *broker) waitReady(t *testing.T, d time.Duration) {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(d)
	for {
		resp, err := hc.Get("http://" + b.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case <-b.exited:
			t.Fatalf("chronik-server exited before /readyz was 200 (%v):\n%s", b.cmd.ProcessState, b.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("chronik-server /readyz not 200 after %v (last: %v):\n%s", d, err, b.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// requestCounts reads chronik_kafka_requests_total{outcome="ok"} per API
// from /metrics.
func (b *broker) requestCounts(t *testing.T) map[string]float64 {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + b.admin + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		// chronik_kafka_requests_total{api="Produce",outcome="ok"} 12
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, `chronik_kafka_requests_total{api="`)
		if !ok {
			continue
		}
		api, rest, ok := strings.Cut(rest, `"`)
		if !ok || !strings.HasPrefix(rest, `,outcome="ok"} `) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimPrefix(rest, `,outcome="ok"} `), 64)
		if err != nil {
			t.Fatalf("GET /metrics: bad line %q: %v", line, err)
		}
		out[api] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return out
}

// waitHeartbeats waits (at most d) until the broker has answered a
// Heartbeat since the previous call (or the start).
func (b *broker) waitHeartbeats(t *testing.T, d time.Duration) {
	t.Helper()
	before := b.requestCounts(t)["Heartbeat"]
	deadline := time.Now().Add(d)
	for b.requestCounts(t)["Heartbeat"] <= before {
		if time.Now().After(deadline) {
			t.Fatalf("no Heartbeat answered within %v while a group member was active (heartbeat interval 200ms)", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkLog fails on log lines that mean the broker closed a connection
// over a request it could not decode or handle, or hit an error.
func (b *broker) checkLog(t *testing.T) {
	t.Helper()
	for _, line := range strings.Split(b.log.String(), "\n") {
		if strings.Contains(line, "closing kafka connection") || strings.Contains(line, "kafka request failed") ||
			strings.Contains(line, "handler panic") || strings.Contains(line, "level=ERROR") {
			t.Errorf("chronik-server logged: %s", line)
		}
	}
}

// lockedBuffer is an io.Writer safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// captureSaramaLog sends Sarama's package-level log into a buffer, shown
// when the test fails. It is never restored: Sarama's clients close their
// connections asynchronously and may still log after the test.
func captureSaramaLog() *lockedBuffer {
	buf := &lockedBuffer{}
	sarama.Logger = log.New(buf, "[sarama] ", log.Ltime|log.Lmicroseconds)
	return buf
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
