package kafka

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/recordbatch"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// kafka39 is what an Apache Kafka 3.9 broker advertises for the keys this
// broker serves: the validVersions of apache/kafka's
// clients/src/main/resources/common/message/*Request.json on the 3.9
// branch (3.7 and 3.8 differ only in maxima: Produce 10/11, Fetch 16,
// ListOffsets 8, FindCoordinator 4/5, ListGroups 4/5, ApiVersions 3,
// InitProducerId 4/5).
var kafka39 = map[int16][2]int16{
	0: {0, 11}, 1: {0, 17}, 2: {0, 9}, 3: {0, 12}, 8: {0, 9}, 9: {0, 9},
	10: {0, 6}, 11: {0, 9}, 12: {0, 4}, 13: {0, 5}, 14: {0, 5}, 15: {0, 5},
	16: {0, 5}, 18: {0, 4}, 19: {0, 7}, 20: {0, 6}, 22: {0, 5}, 32: {0, 4},
	42: {0, 2}, 47: {0, 0}, 55: {0, 2}, 80: {0, 0}, 81: {0, 0},
	24: {0, 5}, 25: {0, 4}, 26: {0, 4}, 28: {0, 4}, 65: {0, 0}, 66: {0, 1},
}

// newerThan39 and olderThan39 list the keys whose newest served version is
// not Kafka 3.9's, and why.
var (
	newerThan39 = map[int16]string{
		80: "AddRaftVoter v1 (AckWhenCommitted, KIP-1186) is Kafka 4.2's",
	}
	olderThan39 = map[int16]string{
		24: "AddPartitionsToTxn v4-5: the broker-to-broker verification batch and TRANSACTION_ABORTABLE (KIP-890)",
		25: "AddOffsetsToTxn v4: TRANSACTION_ABORTABLE (KIP-890)",
		26: "EndTxn v4: TRANSACTION_ABORTABLE (KIP-890)",
		28: "TxnOffsetCommit v4: TRANSACTION_ABORTABLE (KIP-890)",
	}
)

func TestServedVersionsAreKafka39s(t *testing.T) {
	served := SupportedVersions()
	if len(served) != len(kafka39) {
		t.Errorf("%d keys served, want the %d of the table", len(served), len(kafka39))
	}
	k39 := kversion.V3_9_0()
	for _, k := range served {
		want, ok := kafka39[k.ApiKey]
		if !ok {
			t.Errorf("%s (key %d) served but not in the table", kmsg.NameForKey(k.ApiKey), k.ApiKey)
			continue
		}
		_, newer := newerThan39[k.ApiKey]
		_, older := olderThan39[k.ApiKey]
		if k.MinVersion != want[0] || (k.MaxVersion > want[1]) != newer || (k.MaxVersion < want[1]) != older {
			t.Errorf("%s: serving v%d-%d, Kafka 3.9 serves v%d-%d", kmsg.NameForKey(k.ApiKey), k.MinVersion, k.MaxVersion, want[0], want[1])
		}
		// franz-go's own table of Kafka 3.9 (a ZooKeeper-era broker's,
		// without the KRaft quorum keys), an independent reading.
		if m, ok := k39.LookupMaxKeyVersion(k.ApiKey); ok && m != k.MaxVersion && !newer && !older {
			t.Errorf("%s: max v%d, franz-go's kversion.V3_9_0 says v%d", kmsg.NameForKey(k.ApiKey), k.MaxVersion, m)
		}
	}
}

// TestUnsupportedVersionClosesAfterEarlierAnswers: like Kafka, which reads
// a connection's next request only after answering the previous one, a
// request of a version (or key) we do not serve closes the connection, but
// only after every request before it on that connection was answered.
func TestUnsupportedVersionClosesAfterEarlierAnswers(t *testing.T) {
	s, _, addr := startServer(t, nil)
	// A slow Metadata makes sure the close waits for handlers still running.
	remove := s.ControlKey(3, func(kmsg.Request) (kmsg.Response, error, bool) {
		time.Sleep(200 * time.Millisecond)
		return nil, nil, false
	})
	defer remove()
	newProduce := kmsg.NewPtrProduceRequest()
	newProduce.Version = 12 // Kafka 4.0's, above ours
	unknownKey := append(binary.BigEndian.AppendUint32(nil, 10), 0x7f, 0x00, 0, 0, 0, 0, 0, 9, 0xff, 0xff)
	tests := []struct {
		name string
		bad  []byte
	}{
		{"version above ours", frame(newProduce, 9)},
		{"unknown key", unknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			av := kmsg.NewPtrApiVersionsRequest()
			md := kmsg.NewPtrMetadataRequest()
			md.Version = 1
			var b []byte
			b = append(b, frame(av, 1)...)
			b = append(b, frame(md, 2)...)
			b = append(b, tc.bad...)
			b = append(b, frame(av, 3)...) // after the bad one: never answered
			if _, err := rc.c.Write(b); err != nil {
				t.Fatal(err)
			}
			for _, want := range []int32{1, 2} {
				corr, _, err := rc.recv(false)
				if err != nil || corr != want {
					t.Fatalf("got corr %d err %v, want the answer to request %d", corr, err, want)
				}
			}
			if corr, _, err := rc.recv(false); err == nil {
				t.Fatalf("got an answer (corr %d) after the unsupported request", corr)
			} else if !errors.Is(err, io.EOF) && !isConnReset(err) {
				t.Fatalf("want the connection closed, got %v", err)
			}
		})
	}
}

// TestKafkaPythonVersionProbe replays kafka-python's check_version: an
// ApiVersions v0 and, right behind it on the same connection, a Metadata
// v0 with no topics; both must be answered (the broker closing the
// connection on the Metadata v0 made kafka-python drop the ApiVersions
// answer and settle on a 0.8/0.9 protocol). Metadata v0's empty list
// means every topic.
func TestKafkaPythonVersionProbe(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: "a", Partitions: 1}, {Name: "b", Partitions: 2}}, false)
	rc := dialRaw(t, addr)
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 0
	md.Topics = []kmsg.MetadataRequestTopic{}
	b := append(frame(kmsg.NewPtrApiVersionsRequest(), 1), frame(md, 2)...)
	if _, err := rc.c.Write(b); err != nil {
		t.Fatal(err)
	}
	corr, body, err := rc.recv(false)
	if err != nil || corr != 1 {
		t.Fatalf("ApiVersions: corr %d err %v", corr, err)
	}
	av := kmsg.NewPtrApiVersionsResponse()
	if err := av.ReadFrom(body); err != nil || av.ErrorCode != 0 || len(av.ApiKeys) != len(kafka39) {
		t.Fatalf("ApiVersions v0: err %v code %d keys %d", err, av.ErrorCode, len(av.ApiKeys))
	}
	corr, body, err = rc.recv(false)
	if err != nil || corr != 2 {
		t.Fatalf("Metadata v0: corr %d err %v", corr, err)
	}
	mr := md.ResponseKind().(*kmsg.MetadataResponse)
	if err := mr.ReadFrom(body); err != nil || len(mr.Topics) != 2 || len(mr.Brokers) != 1 {
		t.Fatalf("Metadata v0: err %v topics %d brokers %d, want 2 topics and 1 broker", err, len(mr.Topics), len(mr.Brokers))
	}
}

func TestMetadataTopicLists(t *testing.T) {
	_, fb, addr := startServer(t, func(c *Config) { c.AutoCreateTopics = false })
	fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: "a", Partitions: 1}, {Name: "b", Partitions: 1}}, false)
	rc := dialRaw(t, addr)
	tests := []struct {
		name    string
		version int16
		topics  []kmsg.MetadataRequestTopic
		want    int
	}{
		{"v0 empty is all", 0, []kmsg.MetadataRequestTopic{}, 2},
		{"v0 one", 0, []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("a")}}, 1},
		{"v1 null is all", 1, nil, 2},
		{"v1 empty is none", 1, []kmsg.MetadataRequestTopic{}, 0},
		{"v12 null is all", 12, nil, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrMetadataRequest()
			req.Version, req.Topics = tc.version, tc.topics
			if n := len(rc.roundTrip(req).(*kmsg.MetadataResponse).Topics); n != tc.want {
				t.Fatalf("%d topics, want %d", n, tc.want)
			}
		})
	}
}

// TestOffsetCommitFetchVersions commits with OffsetCommit v0, v2 and v9
// and reads back through OffsetFetch v0 (which reads the same group
// offsets as v1+) and v9 (groups batched, member fields ignored).
func TestOffsetCommitFetchVersions(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: "t", Partitions: 3}}, false)
	rc := dialRaw(t, addr)
	for _, c := range []struct {
		version int16
		p       int32
		off     int64
	}{{0, 0, 11}, {2, 1, 22}, {9, 2, 33}} {
		oc := kmsg.NewPtrOffsetCommitRequest()
		oc.Version, oc.Group, oc.Generation = c.version, "g", -1
		oc.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: c.p, Offset: c.off, Metadata: kmsg.StringPtr("m")}}}}
		if code := rc.roundTrip(oc).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("commit v%d: code %d", c.version, code)
		}
	}
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version, of.Group = 0, "g"
	of.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0, 1, 2}}}
	ps := rc.roundTrip(of).(*kmsg.OffsetFetchResponse).Topics[0].Partitions
	for i, want := range []int64{11, 22, 33} {
		if ps[i].ErrorCode != 0 || ps[i].Offset != want {
			t.Errorf("v0 partition %d: code %d offset %d, want %d", i, ps[i].ErrorCode, ps[i].Offset, want)
		}
	}
	if *ps[0].Metadata != "m" {
		t.Errorf("metadata %q", *ps[0].Metadata)
	}
	of9 := kmsg.NewPtrOffsetFetchRequest()
	of9.Version = 9
	of9.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g", MemberID: kmsg.StringPtr("whoever"), MemberEpoch: 7}, {Group: "none"}}
	gs := rc.roundTrip(of9).(*kmsg.OffsetFetchResponse).Groups
	if len(gs) != 2 || gs[0].ErrorCode != 0 || len(gs[0].Topics) != 1 || len(gs[0].Topics[0].Partitions) != 3 || gs[0].Topics[0].Partitions[2].Offset != 33 || len(gs[1].Topics) != 0 {
		t.Errorf("v9: %+v", gs)
	}
}

func TestListOffsetsSpecsAndV0(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: "t", Partitions: 1}, {Name: "empty", Partitions: 1}}, false)
	rc := dialRaw(t, addr)
	// Offsets 0-4 at 1000..1040, 5-7 at 2000, 1900, 1800: the largest
	// timestamp is in the second batch's first record.
	second := timedBatch(3, 2000, -100)
	binary.BigEndian.PutUint64(second[recordbatch.MaxTimestamp:], 2000)
	fixCRC(second)
	for _, b := range [][]byte{timedBatch(5, 1000, 10), second} {
		if r := rc.roundTrip(produceReq("t", -1, b)).(*kmsg.ProduceResponse); r.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("produce: code %d", r.Topics[0].Partitions[0].ErrorCode)
		}
	}
	list := func(version int16, topic string, ts int64, maxN int32) kmsg.ListOffsetsResponseTopicPartition {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version, req.ReplicaID = version, -1
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp, rp.CurrentLeaderEpoch, rp.MaxNumOffsets = ts, -1, maxN
		req.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: topic, Partitions: []kmsg.ListOffsetsRequestTopicPartition{rp}}}
		return rc.roundTrip(req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	}
	tests := []struct {
		name     string
		version  int16
		topic    string
		ts       int64
		code     int16
		off, rts int64
	}{
		{"max timestamp v7", 7, "t", -3, 0, 5, 2000},
		{"max timestamp empty", 7, "empty", -3, 0, -1, -1},
		{"max timestamp before v7", 6, "t", -3, kerr.UnsupportedVersion.Code, -1, -1},
		{"earliest local v8", 8, "t", -4, 0, 0, -1},
		{"earliest local before v8", 7, "t", -4, kerr.UnsupportedVersion.Code, -1, -1},
		{"latest tiered v9", 9, "t", -5, 0, -1, -1},
		{"latest tiered before v9", 8, "t", -5, kerr.UnsupportedVersion.Code, -1, -1},
		{"undefined spec", 9, "t", -6, kerr.UnsupportedVersion.Code, -1, -1},
		{"latest v9", 9, "t", -1, 0, 8, -1},
		{"time v1", 1, "t", 1015, 0, 2, 1020},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := list(tc.version, tc.topic, tc.ts, 1)
			if p.ErrorCode != tc.code || p.Offset != tc.off || p.Timestamp != tc.rts {
				t.Fatalf("code %d offset %d ts %d, want %d %d %d", p.ErrorCode, p.Offset, p.Timestamp, tc.code, tc.off, tc.rts)
			}
		})
	}
	v0 := []struct {
		name string
		ts   int64
		maxN int32
		want []int64
	}{
		{"latest", -1, 10, []int64{8, 0}},
		{"latest one", -1, 1, []int64{8}},
		{"earliest", -2, 10, []int64{0}},
		{"time", 1015, 10, []int64{2}},
		{"after every record", 5000, 10, nil},
		{"none asked", -1, 0, nil},
	}
	for _, tc := range v0 {
		t.Run("v0 "+tc.name, func(t *testing.T) {
			p := list(0, "t", tc.ts, tc.maxN)
			if p.ErrorCode != 0 || !equalInt64s(p.OldStyleOffsets, tc.want) {
				t.Fatalf("code %d offsets %v, want %v", p.ErrorCode, p.OldStyleOffsets, tc.want)
			}
		})
	}
}

func equalInt64s(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// message builds one message of magic 0 or 1 with a correct CRC.
func message(magic int8, attrs int8, ts int64, key, value []byte) []byte {
	var b []byte
	if magic == 0 {
		m := kmsg.MessageV0{Attributes: attrs, Key: key, Value: value}
		b = m.AppendTo(nil)
	} else {
		m := kmsg.MessageV1{Magic: 1, Attributes: attrs, Timestamp: ts, Key: key, Value: value}
		b = m.AppendTo(nil)
	}
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[12:], crc32.ChecksumIEEE(b[16:]))
	return b
}

func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestProduceMessageSets: Produce v0-2 message sets are up-converted; a
// broken one fails its partition with CORRUPT_MESSAGE and appends nothing.
func TestProduceMessageSets(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	plain := append(message(1, 0, 5000, []byte("k"), []byte("a")), message(1, 0, 5001, nil, []byte("b"))...)
	badCRC := bytes.Clone(plain)
	badCRC[len(badCRC)-1] ^= 1
	inner := append(message(1, 0, 7000, nil, []byte("c")), message(1, 0, 7002, nil, []byte("d"))...)
	wrapped := message(1, 1, 7002, nil, gzipped(t, inner))
	nested := message(1, 1, 0, nil, gzipped(t, wrapped))
	zstd := message(1, 4, 0, nil, []byte("not really"))
	tests := []struct {
		name    string
		version int16
		records []byte
		code    int16
		values  []string
		times   []int64
	}{
		{"v0 magic 0", 0, message(0, 0, 0, nil, []byte("z")), 0, []string{"z"}, []int64{-1}},
		{"v2 magic 1", 2, plain, 0, []string{"a", "b"}, []int64{5000, 5001}},
		{"v1 gzip wrapper", 1, wrapped, 0, []string{"c", "d"}, []int64{7000, 7002}},
		{"v2 RecordBatch v2", 2, makeBatch(2, -1, -1), 0, []string{"a", "b"}, []int64{1000, 1000}},
		{"bad crc", 2, badCRC, kerr.CorruptMessage.Code, nil, nil},
		{"truncated", 2, plain[:len(plain)-3], kerr.CorruptMessage.Code, nil, nil},
		{"nested compression", 2, nested, kerr.CorruptMessage.Code, nil, nil},
		{"zstd in a message set", 2, zstd, kerr.CorruptMessage.Code, nil, nil},
		{"message set in v3", 3, plain, kerr.CorruptMessage.Code, nil, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			topic := "ms" + string(rune('a'+i))
			rc := dialRaw(t, addr)
			req := produceReq(topic, -1, tc.records)
			req.Version = tc.version
			p := rc.roundTrip(req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
			if p.ErrorCode != tc.code {
				t.Fatalf("code %d, want %d", p.ErrorCode, tc.code)
			}
			res, err := fb.Fetch(t.Context(), tpOf(topic, 0), 0, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := storedRecords(tpOf(topic, 0), res.Batches, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(tc.values) {
				t.Fatalf("%d records stored, want %d", len(recs), len(tc.values))
			}
			for j, r := range recs {
				if string(r.Value) != tc.values[j] || r.Timestamp.UnixMilli() != tc.times[j] || r.Offset != int64(j) {
					t.Errorf("record %d: offset %d value %q ts %d, want %q %d", j, r.Offset, r.Value, r.Timestamp.UnixMilli(), tc.values[j], tc.times[j])
				}
			}
			if tc.version < 3 && tc.code == 0 && r0Key(recs) != keyOf(tc.records) {
				t.Errorf("first key %q, want %q", r0Key(recs), keyOf(tc.records))
			}
		})
	}
}

func r0Key(recs []*kgo.Record) string { return string(recs[0].Key) }

// keyOf is the key of the first message of an uncompressed message set,
// or "" for anything else.
func keyOf(set []byte) string {
	if len(set) < 17 || set[16] == 2 {
		return ""
	}
	var m kmsg.MessageV1
	if set[16] == 0 || m.ReadFrom(set) != nil || m.Attributes&7 != 0 {
		return ""
	}
	return string(m.Key)
}

// TestFetchDownConvertsOnTheWire: Fetch v0-1 answers magic 0 messages,
// v2-3 magic 1 with the record's timestamp, v4+ the stored RecordBatch;
// records before the fetch offset are left out of message sets.
func TestFetchDownConvertsOnTheWire(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: "t", Partitions: 1}}, false)
	rc := dialRaw(t, addr)
	if r := rc.roundTrip(produceReq("t", -1, timedBatch(4, 3000, 5))).(*kmsg.ProduceResponse); r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("produce: code %d", r.Topics[0].Partitions[0].ErrorCode)
	}
	for _, tc := range []struct {
		version int16
		magic   byte
	}{{0, 0}, {1, 0}, {2, 1}, {3, 1}, {4, 2}, {12, 2}} {
		fr := kmsg.NewPtrFetchRequest()
		fr.Version, fr.ReplicaID, fr.MaxBytes = tc.version, -1, 1<<20
		fr.Topics = []kmsg.FetchRequestTopic{{Topic: "t", Partitions: []kmsg.FetchRequestTopicPartition{{FetchOffset: 2, PartitionMaxBytes: 1 << 20, CurrentLeaderEpoch: -1}}}}
		p := rc.roundTrip(fr).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.HighWatermark != 4 || len(p.RecordBatches) < 17 {
			t.Fatalf("v%d: code %d hw %d %d bytes", tc.version, p.ErrorCode, p.HighWatermark, len(p.RecordBatches))
		}
		if m := p.RecordBatches[16]; m != tc.magic {
			t.Fatalf("v%d: magic %d, want %d", tc.version, m, tc.magic)
		}
		if tc.magic == 2 {
			continue
		}
		var offs, times []int64
		for set := p.RecordBatches; len(set) > 0; {
			n := 12 + int(binary.BigEndian.Uint32(set[8:]))
			var m kmsg.MessageV1
			if tc.magic == 0 {
				var m0 kmsg.MessageV0
				if err := m0.ReadFrom(set[:n]); err != nil {
					t.Fatal(err)
				}
				m.Offset, m.Timestamp = m0.Offset, -1
			} else if err := m.ReadFrom(set[:n]); err != nil {
				t.Fatal(err)
			}
			if crc32.ChecksumIEEE(set[16:n]) != binary.BigEndian.Uint32(set[12:]) {
				t.Fatalf("v%d: bad crc at offset %d", tc.version, m.Offset)
			}
			offs, times = append(offs, m.Offset), append(times, m.Timestamp)
			set = set[n:]
		}
		wantTimes := []int64{3010, 3015}
		if tc.magic == 0 {
			wantTimes = []int64{-1, -1}
		}
		if !equalInt64s(offs, []int64{2, 3}) || !equalInt64s(times, wantTimes) {
			t.Fatalf("v%d: offsets %v times %v, want [2 3] %v", tc.version, offs, times, wantTimes)
		}
	}
}

// TestFetchByTopicID: v13+ name topics by id; an unknown id is
// UNKNOWN_TOPIC_ID, and v16+ point a client that reached a follower at
// the leader's endpoint.
func TestFetchByTopicID(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: "t", Partitions: 1}, {Name: "moved", Partitions: 1}}, false)
	rc := dialRaw(t, addr)
	rc.roundTrip(produceReq("t", -1, makeBatch(3, -1, -1)))
	fb.moveLeader(tpOf("moved", 0))
	ti, _ := fb.Topic("t")
	mi, _ := fb.Topic("moved")
	for _, v := range []int16{13, 15, 16, 17} {
		fr := kmsg.NewPtrFetchRequest()
		fr.Version, fr.ReplicaID, fr.MaxBytes = v, -1, 1<<20
		fr.ReplicaState.ID = -1
		part := []kmsg.FetchRequestTopicPartition{{PartitionMaxBytes: 1 << 20, CurrentLeaderEpoch: -1}}
		fr.Topics = []kmsg.FetchRequestTopic{{TopicID: ti.ID, Partitions: part}, {TopicID: [16]byte{9}, Partitions: part}, {TopicID: mi.ID, Partitions: part}}
		resp := rc.roundTrip(fr).(*kmsg.FetchResponse)
		known, unknown, moved := resp.Topics[0], resp.Topics[1], resp.Topics[2]
		if known.TopicID != ti.ID || known.Partitions[0].ErrorCode != 0 || known.Partitions[0].HighWatermark != 3 || len(known.Partitions[0].RecordBatches) == 0 {
			t.Errorf("v%d known id: %+v", v, known)
		}
		if unknown.Partitions[0].ErrorCode != kerr.UnknownTopicID.Code {
			t.Errorf("v%d unknown id: code %d, want UNKNOWN_TOPIC_ID", v, unknown.Partitions[0].ErrorCode)
		}
		if mp := moved.Partitions[0]; mp.ErrorCode != kerr.NotLeaderForPartition.Code || mp.CurrentLeader.LeaderID != 2 {
			t.Errorf("v%d moved: code %d leader %+v", v, mp.ErrorCode, mp.CurrentLeader)
		}
		wantBrokers := 0
		if v >= 16 {
			wantBrokers = 1
		}
		if len(resp.Brokers) != wantBrokers || (wantBrokers == 1 && resp.Brokers[0].Host != "elsewhere") {
			t.Errorf("v%d node endpoints %+v, want %d", v, resp.Brokers, wantBrokers)
		}
	}
}

func TestDeleteTopicsByID(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: "a", Partitions: 1}, {Name: "b", Partitions: 1}}, false)
	ai, _ := fb.Topic("a")
	bi, _ := fb.Topic("b")
	rc := dialRaw(t, addr)
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version, req.TimeoutMillis = 6, 5000
	req.Topics = []kmsg.DeleteTopicsRequestTopic{
		{TopicID: ai.ID},
		{Topic: kmsg.StringPtr("b")},
		{TopicID: [16]byte{7}},
		{},
		{Topic: kmsg.StringPtr("a"), TopicID: ai.ID},
		{Topic: kmsg.StringPtr("nope")},
	}
	got := rc.roundTrip(req).(*kmsg.DeleteTopicsResponse).Topics
	want := []struct {
		name string
		id   [16]byte
		code int16
	}{
		{"a", ai.ID, 0},
		{"b", bi.ID, 0},
		{"", [16]byte{7}, kerr.UnknownTopicID.Code},
		{"", [16]byte{}, kerr.InvalidRequest.Code},
		{"a", ai.ID, kerr.InvalidRequest.Code},
		{"nope", [16]byte{}, kerr.UnknownTopicOrPartition.Code},
	}
	if len(got) != len(want) {
		t.Fatalf("%d answers, want %d", len(got), len(want))
	}
	for i, w := range want {
		name := ""
		if got[i].Topic != nil {
			name = *got[i].Topic
		}
		if name != w.name || got[i].TopicID != w.id || got[i].ErrorCode != w.code {
			t.Errorf("entry %d: %q %x code %d, want %q %x %d", i, name, got[i].TopicID, got[i].ErrorCode, w.name, w.id, w.code)
		}
	}
	if len(fb.Topics()) != 0 {
		t.Errorf("topics left: %v", fb.Topics())
	}
}

func TestListGroupsTypesFilter(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: "t", Partitions: 1}}, false)
	rc := dialRaw(t, addr)
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Version, oc.Group, oc.Generation = 2, "g", -1
	oc.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Offset: 1}}}}
	rc.roundTrip(oc)
	for _, tc := range []struct {
		types []string
		want  int
	}{{nil, 1}, {[]string{"Classic"}, 1}, {[]string{"consumer"}, 0}, {[]string{"share", "classic"}, 1}} {
		req := kmsg.NewPtrListGroupsRequest()
		req.Version, req.TypesFilter = 5, tc.types
		gs := rc.roundTrip(req).(*kmsg.ListGroupsResponse).Groups
		if len(gs) != tc.want || (tc.want == 1 && (gs[0].GroupType != "classic" || gs[0].GroupState != "Empty")) {
			t.Errorf("types %v: %+v, want %d classic groups", tc.types, gs, tc.want)
		}
	}
}

func TestFindCoordinatorKeyTypes(t *testing.T) {
	_, _, addr := startServer(t, nil)
	rc := dialRaw(t, addr)
	for _, tc := range []struct {
		keyType int8
		code    int16
	}{{0, 0}, {1, 0}, {2, kerr.InvalidRequest.Code}} { // groups, transactions, share groups
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.Version, req.CoordinatorType, req.CoordinatorKeys = 6, tc.keyType, []string{"k"}
		c := rc.roundTrip(req).(*kmsg.FindCoordinatorResponse).Coordinators[0]
		if c.ErrorCode != tc.code {
			t.Errorf("key type %d: code %d, want %d", tc.keyType, c.ErrorCode, tc.code)
		}
	}
}

// TestEveryServedVersionAnswers sends a small request of every served key
// at every served version on one connection and decodes each answer at
// that version: no version closes the connection or answers in another
// layout.
func TestEveryServedVersionAnswers(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: "t", Partitions: 1}}, false)
	rc := dialRaw(t, addr)
	for _, k := range SupportedVersions() {
		for v := k.MinVersion; v <= k.MaxVersion; v++ {
			req := kmsg.RequestForKey(k.ApiKey)
			req.SetVersion(v)
			switch r := req.(type) {
			case *kmsg.ProduceRequest:
				r.Acks, r.TimeoutMillis = 1, 5000
				records := makeBatch(1, -1, -1)
				if v < 3 {
					records = message(1, 0, 1, nil, []byte("x"))
				}
				r.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Records: records}}}}
			case *kmsg.FetchRequest:
				r.ReplicaID, r.MaxBytes, r.SessionEpoch = -1, 1<<20, -1
				r.Topics = []kmsg.FetchRequestTopic{{Topic: "t", Partitions: []kmsg.FetchRequestTopicPartition{{PartitionMaxBytes: 1 << 20, CurrentLeaderEpoch: -1}}}}
			case *kmsg.JoinGroupRequest:
				r.Group, r.ProtocolType, r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = "", "consumer", 10000, 10000
			case *kmsg.SyncGroupRequest:
				r.Group, r.MemberID = "g", "nobody"
			}
			resp := rc.roundTrip(req)
			if resp.GetVersion() != v {
				t.Fatalf("%s v%d answered as v%d", kmsg.NameForKey(k.ApiKey), v, resp.GetVersion())
			}
		}
	}
}

// TestProduceAcrossLeaderChange: a batch Raft dropped for want of a leader
// (a leadership transfer, an election) is produced again while this node
// may still lead, and answered NOT_LEADER_OR_FOLLOWER naming the new
// leader once another node leads, instead of LEADER_NOT_AVAILABLE, which
// would send the client to its metadata. With no leader for longer than
// leaderChangeWait the answer is LEADER_NOT_AVAILABLE.
func TestProduceAcrossLeaderChange(t *testing.T) {
	tests := []struct {
		name   string
		drops  int
		moves  bool
		code   int16
		leader int32
	}{
		{"this node keeps leading", 3, false, 0, -1},
		{"leadership moved", 2, true, kerr.NotLeaderForPartition.Code, 2},
		{"no leader for too long", 1 << 20, false, kerr.LeaderNotAvailable.Code, -1},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, fb, addr := startServer(t, nil)
			topic := fmt.Sprintf("move%d", i)
			fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: topic, Partitions: 1}}, false)
			fb.mu.Lock()
			fb.drops = tc.drops
			if tc.moves {
				// Called with fb.mu held, from Produce.
				fb.afterDrops = func() {
					p := &fb.topics[topic].info.Partitions[0]
					p.Leader, p.LeaderEpoch = 2, p.LeaderEpoch+1
					fb.second = true
				}
			}
			fb.mu.Unlock()
			rc := dialRaw(t, addr)
			req := produceReq(topic, -1, makeBatch(1, -1, -1))
			req.Version = 11
			resp := rc.roundTrip(req).(*kmsg.ProduceResponse)
			p := resp.Topics[0].Partitions[0]
			if p.ErrorCode != tc.code {
				t.Fatalf("code %d, want %d", p.ErrorCode, tc.code)
			}
			if tc.leader >= 0 && (p.CurrentLeader.LeaderID != tc.leader || len(resp.Brokers) != 1) {
				t.Fatalf("current leader %+v brokers %+v, want node %d named", p.CurrentLeader, resp.Brokers, tc.leader)
			}
		})
	}
}
