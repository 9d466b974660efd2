package kafka

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/recordbatch"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestApiVersions(t *testing.T) {
	_, _, addr := startServer(t, nil)
	tests := []struct {
		name    string
		version int16
		// wantVersion is the version of the answer: the request's, or 0
		// with UNSUPPORTED_VERSION for a version above ours.
		wantVersion int16
		wantCode    int16
	}{
		{"v0", 0, 0, 0},
		{"v3 flexible", 3, 3, 0},
		{"v4 newest", 4, 4, 0},
		{"v5 above ours falls back to v0", 5, 0, kerr.UnsupportedVersion.Code},
		{"v99 unknown to anyone falls back to v0", 99, 0, kerr.UnsupportedVersion.Code},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			req := kmsg.NewPtrApiVersionsRequest()
			req.Version = min(tc.version, req.MaxVersion())
			req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1.0"
			b := frame(req, int32(i))
			binary.BigEndian.PutUint16(b[6:], uint16(tc.version)) // claim any version
			if _, err := rc.c.Write(b); err != nil {
				t.Fatal(err)
			}
			corr, body, err := rc.recv(false) // ApiVersions responses never carry header tags
			if err != nil {
				t.Fatal(err)
			}
			resp := kmsg.NewPtrApiVersionsResponse()
			resp.Version = tc.wantVersion
			if err := resp.ReadFrom(body); err != nil {
				t.Fatalf("decode v%d: %v", tc.wantVersion, err)
			}
			if corr != int32(i) || resp.ErrorCode != tc.wantCode {
				t.Fatalf("corr %d code %d, want %d %d", corr, resp.ErrorCode, i, tc.wantCode)
			}
			keys := map[int16]kmsg.ApiVersionsResponseApiKey{}
			for _, k := range resp.ApiKeys {
				keys[k.ApiKey] = k
			}
			for _, want := range []int16{0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 22, 24, 25, 26, 28, 32, 42, 47, 65, 66} {
				if _, ok := keys[want]; !ok {
					t.Errorf("key %d (%s) not advertised", want, kmsg.NameForKey(want))
				}
			}
			for _, absent := range []int16{27, 33, 68} { // WriteTxnMarkers (broker-to-broker), AlterConfigs, KIP-848
				if _, ok := keys[absent]; ok {
					t.Errorf("key %d (%s) advertised without a handler", absent, kmsg.NameForKey(absent))
				}
			}
			if k := keys[18]; k.MaxVersion != 4 {
				t.Errorf("ApiVersions max %d, want 4", k.MaxVersion)
			}
		})
	}
}

func TestConnectionClosedOnBadInput(t *testing.T) {
	_, _, addr := startServer(t, func(c *Config) { c.MaxFrameBytes = 1 << 20 })
	hugeFrame := binary.BigEndian.AppendUint32(nil, 1<<20+1)
	negFrame := binary.BigEndian.AppendUint32(nil, 0xffffffff)
	garbage := append(binary.BigEndian.AppendUint32(nil, 12), 0, 3, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0x7f)
	unknownKey := append(binary.BigEndian.AppendUint32(nil, 10), 0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff)
	newProduce := func() []byte {
		r := kmsg.NewPtrProduceRequest()
		r.Version = 12 // above our range (Kafka 4.0's newest)
		return frame(r, 1)
	}()
	truncated := func() []byte {
		r := kmsg.NewPtrMetadataRequest()
		r.Version = 9
		r.Topics = []kmsg.MetadataRequestTopic{{Topic: strPtr("some-topic")}}
		b := frame(r, 1)
		b = b[:len(b)-5]
		binary.BigEndian.PutUint32(b, uint32(len(b)-4))
		return b
	}()
	tests := []struct {
		name  string
		bytes []byte
	}{
		{"frame above max", hugeFrame},
		{"negative frame size", negFrame},
		{"garbage metadata body", garbage},
		{"unknown api key", unknownKey},
		{"unsupported produce version", newProduce},
		{"truncated flexible request", truncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			if _, err := rc.c.Write(tc.bytes); err != nil {
				t.Fatal(err)
			}
			_, _, err := rc.recv(false)
			if err == nil {
				t.Fatal("got a response, want the connection closed")
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("connection still open after bad input")
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !isConnReset(err) {
				t.Fatalf("unexpected error %v", err)
			}
			// The server survives and serves the next connection.
			rc2 := dialRaw(t, addr)
			rc2.send(kmsg.NewPtrApiVersionsRequest(), 7)
			if corr, _, err := rc2.recv(false); err != nil || corr != 7 {
				t.Fatalf("server unusable after bad input: corr %d err %v", corr, err)
			}
		})
	}
}

func isConnReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe)
}

func TestResponsesInRequestOrder(t *testing.T) {
	s, _, addr := startServer(t, nil)
	// Delay every Metadata request so a later ApiVersions finishes first.
	remove := s.ControlKey(3, func(kmsg.Request) (kmsg.Response, error, bool) {
		time.Sleep(150 * time.Millisecond)
		return nil, nil, false
	})
	defer remove()
	rc := dialRaw(t, addr)
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 0
	rc.send(md, 1)
	rc.send(av, 2)
	rc.send(md, 3)
	for _, want := range []struct {
		corr     int32
		flexible bool
	}{{1, true}, {2, false}, {3, true}} {
		corr, _, err := rc.recv(want.flexible)
		if err != nil {
			t.Fatal(err)
		}
		if corr != want.corr {
			t.Fatalf("got correlation id %d, want %d: responses out of order", corr, want.corr)
		}
	}
}

func TestControlKeyDrop(t *testing.T) {
	s, _, addr := startServer(t, nil)
	remove := s.ControlKey(3, func(kmsg.Request) (kmsg.Response, error, bool) { return nil, nil, true })
	rc := dialRaw(t, addr)
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 1
	rc.send(md, 1)
	rc.send(kmsg.NewPtrApiVersionsRequest(), 2)
	corr, _, err := rc.recv(false)
	if err != nil || corr != 2 {
		t.Fatalf("got corr %d err %v, want only the ApiVersions answer (2)", corr, err)
	}
	remove()
	rc.send(md, 3)
	if corr, _, err := rc.recv(false); err != nil || corr != 3 {
		t.Fatalf("after removing the control: corr %d err %v", corr, err)
	}
}

// makeBatch builds a RecordBatch v2 holding n tiny records.
func makeBatch(n int, pid int64, seq int32) []byte {
	var recs []byte
	for i := range n {
		var r []byte
		r = append(r, 0)                     // attributes
		r = binary.AppendVarint(r, 0)        // timestamp delta
		r = binary.AppendVarint(r, int64(i)) // offset delta
		r = binary.AppendVarint(r, -1)       // key
		r = binary.AppendVarint(r, 1)        // value length
		r = append(r, byte('a'+i%26))        // value
		r = binary.AppendVarint(r, 0)        // headers
		recs = append(binary.AppendVarint(recs, int64(len(r))), r...)
	}
	b := make([]byte, recordbatch.HeaderLen)
	binary.BigEndian.PutUint32(b[recordbatch.Length:], uint32(recordbatch.HeaderLen-recordbatch.LengthPrefix+len(recs)))
	b[recordbatch.Magic] = 2
	binary.BigEndian.PutUint32(b[recordbatch.LastOffsetDelta:], uint32(n-1))
	binary.BigEndian.PutUint64(b[recordbatch.FirstTimestamp:], 1000)
	binary.BigEndian.PutUint64(b[recordbatch.MaxTimestamp:], 1000)
	binary.BigEndian.PutUint64(b[recordbatch.ProducerID:], uint64(pid))
	binary.BigEndian.PutUint16(b[recordbatch.ProducerEpoch:], 0)
	binary.BigEndian.PutUint32(b[recordbatch.BaseSequence:], uint32(seq))
	binary.BigEndian.PutUint32(b[recordbatch.RecordCount:], uint32(n))
	b = append(b, recs...)
	binary.BigEndian.PutUint32(b[recordbatch.CRC:], recordbatch.Checksum(b))
	return b
}

func produceReq(topic string, acks int16, records []byte) *kmsg.ProduceRequest {
	r := kmsg.NewPtrProduceRequest()
	r.Version = 9
	r.Acks = acks
	r.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = records
	rt.Partitions = append(rt.Partitions, rp)
	r.Topics = append(r.Topics, rt)
	return r
}

func TestProduceRaw(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	good := makeBatch(3, -1, -1)
	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-1] ^= 0xff
	badMagic := append([]byte(nil), good...)
	badMagic[recordbatch.Magic] = 1
	control := makeBatch(1, 5, 0)
	binary.BigEndian.PutUint16(control[recordbatch.Attributes:], recordbatch.AttrTransactional|recordbatch.AttrControl)
	binary.BigEndian.PutUint32(control[recordbatch.CRC:], recordbatch.Checksum(control))
	txnNoPID := makeBatch(1, -1, -1)
	binary.BigEndian.PutUint16(txnNoPID[recordbatch.Attributes:], recordbatch.AttrTransactional)
	binary.BigEndian.PutUint32(txnNoPID[recordbatch.CRC:], recordbatch.Checksum(txnNoPID))
	tests := []struct {
		name       string
		records    []byte
		acks       int16
		wantCode   int16
		wantOffset int64
	}{
		{"one batch", good, -1, 0, 0},
		{"two batches in one partition", append(append([]byte(nil), good...), good...), 1, 0, 3},
		{"bad crc", badCRC, -1, kerr.CorruptMessage.Code, -1},
		{"magic 1 in v9", badMagic, -1, kerr.CorruptMessage.Code, -1},
		{"truncated", good[:40], -1, kerr.CorruptMessage.Code, -1},
		{"control batch from a client", control, -1, kerr.InvalidRecord.Code, -1},
		{"transactional without producer id", txnNoPID, -1, kerr.InvalidRecord.Code, -1},
		{"bad acks", good, 2, kerr.InvalidRequiredAcks.Code, -1},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, addr)
			req := produceReq("raw", tc.acks, tc.records)
			rc.send(req, int32(i))
			corr, body, err := rc.recv(true)
			if err != nil {
				t.Fatal(err)
			}
			resp := req.ResponseKind().(*kmsg.ProduceResponse)
			if err := resp.ReadFrom(body); err != nil || corr != int32(i) {
				t.Fatalf("decode: %v corr %d", err, corr)
			}
			p := resp.Topics[0].Partitions[0]
			if p.ErrorCode != tc.wantCode || p.BaseOffset != tc.wantOffset {
				t.Fatalf("code %d offset %d, want %d %d", p.ErrorCode, p.BaseOffset, tc.wantCode, tc.wantOffset)
			}
		})
	}
	if _, ok := fb.Topic("raw"); !ok {
		t.Fatal("produce did not auto-create the topic")
	}
}

func TestProduceAcksZeroSendsNothing(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	rc := dialRaw(t, addr)
	rc.send(produceReq("zero", 0, makeBatch(2, -1, -1)), 1)
	rc.send(kmsg.NewPtrApiVersionsRequest(), 2)
	corr, _, err := rc.recv(false)
	if err != nil || corr != 2 {
		t.Fatalf("got corr %d err %v, want the ApiVersions answer first", corr, err)
	}
	res, err := fb.Fetch(t.Context(), tpOf("zero", 0), 0, 1<<20)
	if err != nil || res.HighWatermark != 2 {
		t.Fatalf("acks=0 batch not appended: hw %d err %v", res.HighWatermark, err)
	}
}

func TestSplitBatchesDuplicateAnswersOriginalOffset(t *testing.T) {
	_, _, addr := startServer(t, nil)
	rc := dialRaw(t, addr)
	send := func(corr int32, b []byte) kmsg.ProduceResponseTopicPartition {
		req := produceReq("dup", -1, b)
		rc.send(req, corr)
		_, body, err := rc.recv(true)
		if err != nil {
			t.Fatal(err)
		}
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		if err := resp.ReadFrom(body); err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0]
	}
	first := send(1, makeBatch(2, 77, 0))
	second := send(2, makeBatch(2, 77, 2))
	retry := send(3, makeBatch(2, 77, 0))
	gap := send(4, makeBatch(1, 77, 9))
	if first.ErrorCode != 0 || second.BaseOffset != 2 {
		t.Fatalf("first %+v second %+v", first, second)
	}
	if retry.ErrorCode != 0 || retry.BaseOffset != 0 {
		t.Fatalf("retried batch: code %d offset %d, want success at the original offset 0", retry.ErrorCode, retry.BaseOffset)
	}
	if gap.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("sequence gap: code %d, want OUT_OF_ORDER_SEQUENCE_NUMBER", gap.ErrorCode)
	}
}

func TestLargeFrameWithinLimit(t *testing.T) {
	_, fb, addr := startServer(t, func(c *Config) { c.MaxFrameBytes = 8 << 20 })
	rc := dialRaw(t, addr)
	// A 3 MiB batch: read through the growing-buffer path.
	var records []byte
	for len(records) < 3<<20 {
		records = append(records, makeBatch(1000, -1, -1)...)
	}
	req := produceReq("big", -1, records)
	rc.send(req, 1)
	_, body, err := rc.recv(true)
	if err != nil {
		t.Fatal(err)
	}
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	if err := resp.ReadFrom(body); err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("large produce: %v %+v", err, resp.Topics)
	}
	res, err := fb.Fetch(t.Context(), tpOf("big", 0), 0, 1<<30)
	if err != nil || res.HighWatermark < 3000 {
		t.Fatalf("hw %d err %v", res.HighWatermark, err)
	}
}

func TestNotLeaderPointsAtLeader(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	rc := dialRaw(t, addr)
	fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: "moved", Partitions: 1}}, false)
	fb.moveLeader(tpOf("moved", 0))

	pr := produceReq("moved", -1, makeBatch(1, -1, -1))
	pr.Version = 11
	presp := rc.roundTrip(pr).(*kmsg.ProduceResponse)
	pp := presp.Topics[0].Partitions[0]
	if pp.ErrorCode != kerr.NotLeaderForPartition.Code || pp.CurrentLeader.LeaderID != 2 || pp.CurrentLeader.LeaderEpoch != 4 {
		t.Fatalf("produce: code %d current leader %+v", pp.ErrorCode, pp.CurrentLeader)
	}
	if len(presp.Brokers) != 1 || presp.Brokers[0].Host != "elsewhere" {
		t.Fatalf("produce node endpoints %+v", presp.Brokers)
	}

	tests := []struct {
		name  string
		epoch int32
		want  int16
	}{
		{"no epoch", -1, kerr.NotLeaderForPartition.Code},
		{"older epoch", 3, kerr.FencedLeaderEpoch.Code},
		{"newer epoch", 9, kerr.UnknownLeaderEpoch.Code},
	}
	for _, tc := range tests {
		t.Run("fetch/"+tc.name, func(t *testing.T) {
			fr := kmsg.NewPtrFetchRequest()
			fr.Version = 12
			fr.MaxBytes = 1 << 20
			ft := kmsg.NewFetchRequestTopic()
			ft.Topic = "moved"
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.CurrentLeaderEpoch = tc.epoch
			fp.PartitionMaxBytes = 1 << 20
			ft.Partitions = append(ft.Partitions, fp)
			fr.Topics = append(fr.Topics, ft)
			p := rc.roundTrip(fr).(*kmsg.FetchResponse).Topics[0].Partitions[0]
			if p.ErrorCode != tc.want {
				t.Fatalf("code %d, want %d", p.ErrorCode, tc.want)
			}
			if tc.want == kerr.NotLeaderForPartition.Code && p.CurrentLeader.LeaderID != 2 {
				t.Fatalf("current leader %+v, want node 2", p.CurrentLeader)
			}
		})
	}
}

// TestFetchEmptyRecordsNotNull: librdkafka refuses a null record set
// ("invalid MessageSetSize -1"); an empty partition must answer zero bytes.
func TestFetchEmptyRecordsNotNull(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: "empty", Partitions: 1}}, false)
	rc := dialRaw(t, addr)
	for _, v := range []int16{4, 11, 12} {
		fr := kmsg.NewPtrFetchRequest()
		fr.Version = v
		fr.MaxBytes = 1 << 20
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = "empty"
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.PartitionMaxBytes = 1 << 20
		ft.Partitions = append(ft.Partitions, fp)
		fr.Topics = append(fr.Topics, ft)
		p := rc.roundTrip(fr).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.RecordBatches == nil || p.HighWatermark != 0 {
			t.Fatalf("v%d: code %d records nil=%v hw %d", v, p.ErrorCode, p.RecordBatches == nil, p.HighWatermark)
		}
	}
}

func TestProduceAcksZeroFailureClosesConnection(t *testing.T) {
	_, _, addr := startServer(t, nil)
	rc := dialRaw(t, addr)
	bad := makeBatch(1, -1, -1)
	bad[len(bad)-1] ^= 1 // CRC mismatch
	rc.send(produceReq("zero-bad", 0, bad), 1)
	rc.send(kmsg.NewPtrApiVersionsRequest(), 2)
	if _, _, err := rc.recv(false); err == nil {
		t.Fatal("connection stayed open after a failed acks=0 produce")
	}
}

// KIP-392: the leader sends a consumer whose rack is another replica's to
// that replica (no records), and serves one in its own rack or none.
func TestFetchPreferredReadReplica(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: "racked", Partitions: 1}}, false)
	fb.mu.Lock()
	fb.racks = true
	fb.topics["racked"].info.Partitions[0].Replicas = []int32{1, 2, 3}
	fb.mu.Unlock()
	if _, err := fb.Produce(t.Context(), tpOf("racked", 0), cluster.Batch{Raw: makeBatch(1, -1, -1), Records: 1}, -1); err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, addr)
	for _, tc := range []struct {
		version   int16
		rack      string
		preferred int32
	}{
		{11, "r2", 2}, {12, "r3", 3}, {12, "r1", -1}, {12, "", -1}, {12, "elsewhere", -1}, {10, "r2", -1},
	} {
		fr := kmsg.NewPtrFetchRequest()
		fr.Version = tc.version
		fr.MaxBytes = 1 << 20
		fr.Rack = tc.rack
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = "racked"
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.PartitionMaxBytes = 1 << 20
		ft.Partitions = append(ft.Partitions, fp)
		fr.Topics = append(fr.Topics, ft)
		p := rc.roundTrip(fr).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		served := len(p.RecordBatches) > 0
		if p.ErrorCode != 0 || p.PreferredReadReplica != tc.preferred || served != (tc.preferred < 0) {
			t.Errorf("v%d rack %q: code %d preferred %d records %v, want preferred %d", tc.version, tc.rack, p.ErrorCode, p.PreferredReadReplica, served, tc.preferred)
		}
	}
}
