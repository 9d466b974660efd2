package kafka

// Wire-level checks of what the Apache Kafka Java client sends and expects
// (clients/src/main/java/org/apache/kafka/clients/...), each named after the
// Java code path it protects.

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/recordbatch"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestInitProducerIDUnavailableIsRetriable: the Java idempotent producer
// (TransactionManager.InitProducerIdHandler) answers NOT_COORDINATOR and
// COORDINATOR_NOT_AVAILABLE with a transaction-coordinator lookup for its
// null transactional id, whose empty FindCoordinator answer is fatal; the
// broker must answer a retriable code that is neither.
func TestInitProducerIDUnavailableIsRetriable(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	rc := dialRaw(t, addr)
	for _, tc := range []struct {
		err  error
		want int16
	}{
		{cluster.ErrNotReady, kerr.CoordinatorLoadInProgress.Code},
		{cluster.ErrNotLeader, kerr.CoordinatorLoadInProgress.Code},
		{cluster.ErrStopped, kerr.CoordinatorLoadInProgress.Code},
		{cluster.ErrTimeout, kerr.RequestTimedOut.Code},
		{nil, 0},
	} {
		fb.mu.Lock()
		fb.pidErr = tc.err
		fb.mu.Unlock()
		for _, v := range []int16{0, 2, 4} {
			req := kmsg.NewPtrInitProducerIDRequest()
			req.Version, req.TransactionTimeoutMillis = v, 1<<31-1
			resp := rc.roundTrip(req).(*kmsg.InitProducerIDResponse)
			if resp.ErrorCode != tc.want {
				t.Errorf("v%d backend error %v: code %d, want %d", v, tc.err, resp.ErrorCode, tc.want)
			}
			if tc.want != 0 && !kerr.IsRetriable(kerr.ErrorForCode(resp.ErrorCode)) {
				t.Errorf("v%d backend error %v: code %d is not retriable", v, tc.err, resp.ErrorCode)
			}
			if tc.err == nil && resp.ProducerID < 0 {
				t.Errorf("v%d: producer id %d", v, resp.ProducerID)
			}
		}
	}
}

// TestCreateTopicsJavaAdmin: KafkaAdminClient.createTopics reads, for every
// topic created without error at v5+, NumPartitions, ReplicationFactor and
// the Configs list, which must not be null (result.configs().stream()).
// NewTopic(name, replicasAssignments) sends NumPartitions -1 with the
// assignment: the topic gets one partition per assigned partition.
func TestCreateTopicsJavaAdmin(t *testing.T) {
	_, fb, addr := startServer(t, func(c *Config) { c.DefaultPartitions = 1 })
	rc := dialRaw(t, addr)
	topic := func(name string, parts int32, rf int16, assign ...int32) kmsg.CreateTopicsRequestTopic {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, parts, rf
		for _, p := range assign {
			ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			ra.Partition, ra.Replicas = p, []int32{1}
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
		}
		return rt
	}
	withConfig := topic("configured", 3, 1)
	withConfig.Configs = []kmsg.CreateTopicsRequestTopicConfig{{Name: "retention.ms", Value: strPtr("1000")}}
	cases := []struct {
		rt        kmsg.CreateTopicsRequestTopic
		code      int16
		parts     int32 // in the answer and in the created topic
		rtConfigs string
	}{
		{topic("plain", 2, 1), 0, 2, "-1"},
		{topic("defaults", -1, -1), 0, 1, "-1"},
		{withConfig, 0, 3, "1000"},
		{topic("assigned", -1, -1, 0, 1, 2, 3), 0, 4, "-1"},
		{topic("assigned-and-count", 4, -1, 0, 1, 2, 3), kerr.InvalidRequest.Code, -1, ""},
		{topic("assigned-sparse", -1, -1, 0, 2), kerr.InvalidReplicaAssignment.Code, -1, ""},
	}
	for _, v := range []int16{5, 7} {
		for _, tc := range cases {
			req := kmsg.NewPtrCreateTopicsRequest()
			req.Version, req.TimeoutMillis = v, 5000
			rt := tc.rt
			rt.Topic = rt.Topic + "-v" + string(rune('0'+v))
			req.Topics = []kmsg.CreateTopicsRequestTopic{rt}
			// Decode by hand to see whether Configs was null on the wire.
			rc.corr++
			rc.send(req, rc.corr)
			_, body, err := rc.recv(true)
			if err != nil {
				t.Fatal(err)
			}
			resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
			if err := resp.ReadFrom(body); err != nil {
				t.Fatal(err)
			}
			st := resp.Topics[0]
			if st.ErrorCode != tc.code {
				t.Errorf("v%d %s: code %d, want %d", v, rt.Topic, st.ErrorCode, tc.code)
				continue
			}
			if tc.code != 0 {
				if _, ok := fb.Topic(rt.Topic); ok {
					t.Errorf("v%d %s: created despite error", v, rt.Topic)
				}
				continue
			}
			if st.Configs == nil {
				t.Errorf("v%d %s: null Configs on success", v, rt.Topic)
			}
			if st.NumPartitions != tc.parts || st.ReplicationFactor < 1 {
				t.Errorf("v%d %s: partitions %d rf %d, want %d and >= 1", v, rt.Topic, st.NumPartitions, st.ReplicationFactor, tc.parts)
			}
			got := map[string]string{}
			for _, c := range st.Configs {
				got[c.Name] = *c.Value
			}
			if got["retention.ms"] != tc.rtConfigs {
				t.Errorf("v%d %s: retention.ms %q, want %q (configs %v)", v, rt.Topic, got["retention.ms"], tc.rtConfigs, got)
			}
			if ti, ok := fb.Topic(rt.Topic); !ok || int32(len(ti.Partitions)) != tc.parts {
				t.Errorf("v%d %s: created topic has %d partitions, want %d", v, rt.Topic, len(ti.Partitions), tc.parts)
			}
		}
	}
}

// TestStaticMembershipReplacesAndFences follows a Java consumer with
// group.instance.id (KIP-345) that restarts: the new process joins without
// a member id and must replace the old member at once (AbstractCoordinator
// sends no LeaveGroup for static members on close), and the old member id,
// should that process still be alive, must get FENCED_INSTANCE_ID
// everywhere (Java raises FencedInstanceIdException and stops) rather than
// UNKNOWN_MEMBER_ID (Java would rejoin and fence the new instance in turn).
func TestStaticMembershipReplacesAndFences(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	// The commit below must reach the group check: as in Kafka, a commit
	// to an unknown topic is UNKNOWN_TOPIC_OR_PARTITION before that.
	fb.CreateTopics(t.Context(), []cluster.TopicSpec{{Name: "t", Partitions: 1}}, false)
	rc := dialRaw(t, addr)
	const group = "static"
	inst := strPtr("instance-1")
	staticJoin := func(member string) *kmsg.JoinGroupResponse {
		r := joinReq(9, group, member, 6*time.Second)
		r.InstanceID = inst
		return rc.roundTrip(r).(*kmsg.JoinGroupResponse)
	}
	first := staticJoin("")
	if first.ErrorCode != 0 || first.MemberID == "" || first.Generation < 1 {
		t.Fatalf("static join: code %d member %q generation %d, want a member of a new generation (no MEMBER_ID_REQUIRED for static members)",
			first.ErrorCode, first.MemberID, first.Generation)
	}
	old := first.MemberID
	sr := syncReq(group, old, first.Generation, map[string]string{old: "a"})
	sr.InstanceID = inst
	if code := rc.roundTrip(sr).(*kmsg.SyncGroupResponse).ErrorCode; code != 0 {
		t.Fatalf("sync: code %d", code)
	}

	// The restarted instance.
	second := staticJoin("")
	if second.ErrorCode != 0 || second.MemberID == old || second.Generation <= first.Generation {
		t.Fatalf("replacing join: code %d member %q generation %d (old %q, %d)",
			second.ErrorCode, second.MemberID, second.Generation, old, first.Generation)
	}
	if len(second.Members) != 1 || second.Members[0].MemberID != second.MemberID {
		t.Fatalf("replacing join: members %+v, want the new member only", second.Members)
	}

	fenced := kerr.FencedInstanceID.Code
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version, hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = 4, group, old, first.Generation, inst
	if code := rc.roundTrip(hb).(*kmsg.HeartbeatResponse).ErrorCode; code != fenced {
		t.Errorf("old member heartbeat: code %d, want FENCED_INSTANCE_ID", code)
	}
	sr = syncReq(group, old, second.Generation, nil)
	sr.InstanceID = inst
	if code := rc.roundTrip(sr).(*kmsg.SyncGroupResponse).ErrorCode; code != fenced {
		t.Errorf("old member sync: code %d, want FENCED_INSTANCE_ID", code)
	}
	if r := staticJoin(old); r.ErrorCode != fenced {
		t.Errorf("old member rejoin: code %d, want FENCED_INSTANCE_ID", r.ErrorCode)
	}
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Version, oc.Group, oc.MemberID, oc.Generation, oc.InstanceID = 8, group, old, first.Generation, inst
	oc.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}}}
	if r := rc.roundTrip(oc).(*kmsg.OffsetCommitResponse); r.Topics[0].Partitions[0].ErrorCode != fenced {
		t.Errorf("old member commit: code %d, want FENCED_INSTANCE_ID", r.Topics[0].Partitions[0].ErrorCode)
	}
	lv := kmsg.NewPtrLeaveGroupRequest()
	lv.Version, lv.Group = 5, group
	lv.Members = []kmsg.LeaveGroupRequestMember{{MemberID: old, InstanceID: inst}}
	if r := rc.roundTrip(lv).(*kmsg.LeaveGroupResponse); r.ErrorCode != 0 || r.Members[0].ErrorCode != fenced {
		t.Errorf("old member leave: codes %d/%+v, want FENCED_INSTANCE_ID for the member", r.ErrorCode, r.Members)
	}

	// The new member is unaffected by all that.
	if code := heartbeat(rc, group, second.MemberID, second.Generation); code != 0 {
		t.Errorf("new member heartbeat: code %d", code)
	}
	// An admin removing the instance by instance id alone removes it.
	lv.Members = []kmsg.LeaveGroupRequestMember{{InstanceID: inst}}
	if r := rc.roundTrip(lv).(*kmsg.LeaveGroupResponse); r.Members[0].ErrorCode != 0 {
		t.Errorf("leave by instance id: code %d", r.Members[0].ErrorCode)
	}
	if code := heartbeat(rc, group, second.MemberID, second.Generation); code != kerr.UnknownMemberID.Code {
		t.Errorf("heartbeat after removal: code %d, want UNKNOWN_MEMBER_ID", code)
	}
}

// TestFetchSessions: the Java consumer (FetchSessionHandler) opens with
// SessionId 0 / epoch 0 and keeps sending full fetches while the broker
// answers session id 0; an incremental fetch (epoch > 0) for a session the
// broker does not have must be FETCH_SESSION_ID_NOT_FOUND with no
// partitions, not served as if its (partial) partition list were complete.
func TestFetchSessions(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	fb.CreateTopics(context.Background(), []cluster.TopicSpec{{Name: "t", Partitions: 1}}, false)
	rc := dialRaw(t, addr)
	for _, tc := range []struct {
		id, epoch int32
		code      int16
		parts     int
	}{
		{0, 0, 0, 1},  // new full fetch
		{0, -1, 0, 1}, // sessionless full fetch
		{7, -1, 0, 1}, // close session 7, full fetch
		{7, 1, kerr.FetchSessionIDNotFound.Code, 0},
		{0, 3, kerr.FetchSessionIDNotFound.Code, 0},
	} {
		for _, v := range []int16{7, 11, 12} {
			req := kmsg.NewPtrFetchRequest()
			req.Version, req.ReplicaID, req.MaxBytes = v, -1, 1<<20
			req.SessionID, req.SessionEpoch = tc.id, tc.epoch
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 0, 1<<20, -1
			req.Topics = []kmsg.FetchRequestTopic{{Topic: "t", Partitions: []kmsg.FetchRequestTopicPartition{rp}}}
			resp := rc.roundTrip(req).(*kmsg.FetchResponse)
			parts := 0
			for _, rt := range resp.Topics {
				parts += len(rt.Partitions)
			}
			if resp.ErrorCode != tc.code || resp.SessionID != 0 || parts != tc.parts {
				t.Errorf("v%d session %d epoch %d: code %d session %d partitions %d, want code %d session 0 partitions %d",
					v, tc.id, tc.epoch, resp.ErrorCode, resp.SessionID, parts, tc.code, tc.parts)
			}
		}
	}
}

// TestMetadataTopicsByID: Metadata v12 names topics by id for the Java
// admin client's describeTopics(TopicCollection.ofTopicIds(...)); a known
// id answers the topic, an unknown one UNKNOWN_TOPIC_ID with a null name.
// Null topics list every topic, an empty list none.
func TestMetadataTopicsByID(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	fb.CreateTopics(context.Background(), []cluster.TopicSpec{{Name: "t", Partitions: 2}}, false)
	ti, _ := fb.Topic("t")
	if ti.ID == ([16]byte{}) {
		t.Fatal("topic id is zero")
	}
	rc := dialRaw(t, addr)
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	req.Topics = []kmsg.MetadataRequestTopic{{TopicID: ti.ID}, {TopicID: [16]byte{1, 2, 3}}}
	resp := rc.roundTrip(req).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 2 {
		t.Fatalf("%d topics, want 2", len(resp.Topics))
	}
	if k := resp.Topics[0]; k.ErrorCode != 0 || k.Topic == nil || *k.Topic != "t" || k.TopicID != ti.ID || len(k.Partitions) != 2 {
		t.Errorf("known id: %+v", k)
	}
	if u := resp.Topics[1]; u.ErrorCode != kerr.UnknownTopicID.Code || u.Topic != nil {
		t.Errorf("unknown id: code %d name %v, want UNKNOWN_TOPIC_ID and null", u.ErrorCode, u.Topic)
	}
	for _, tc := range []struct {
		topics []kmsg.MetadataRequestTopic
		want   int
	}{{nil, 1}, {[]kmsg.MetadataRequestTopic{}, 0}} {
		req.Topics = tc.topics
		if n := len(rc.roundTrip(req).(*kmsg.MetadataResponse).Topics); n != tc.want {
			t.Errorf("topics %v: %d topics, want %d", tc.topics, n, tc.want)
		}
	}
}

// timedBatch builds an uncompressed RecordBatch v2 whose record i is
// stamped first+step*i.
func timedBatch(n int, first, step int64) []byte {
	b := makeBatch(n, -1, -1)
	var out []byte
	for i := range n {
		var r []byte
		r = append(r, 0)
		r = binary.AppendVarint(r, step*int64(i))
		r = binary.AppendVarint(r, int64(i))
		r = binary.AppendVarint(r, -1)
		r = binary.AppendVarint(r, 1)
		r = append(r, 'x')
		r = binary.AppendVarint(r, 0)
		out = append(binary.AppendVarint(out, int64(len(r))), r...)
	}
	b = append(b[:recordbatch.HeaderLen], out...)
	binary.BigEndian.PutUint32(b[recordbatch.Length:], uint32(len(b)-recordbatch.LengthPrefix))
	binary.BigEndian.PutUint64(b[recordbatch.FirstTimestamp:], uint64(first))
	binary.BigEndian.PutUint64(b[recordbatch.MaxTimestamp:], uint64(first+step*int64(n-1)))
	fixCRC(b)
	return b
}

// TestListOffsetsByTimestampRecordLevel: Kafka answers a timestamp with
// the first record stamped at or after it, not with the base offset of the
// batch holding it (the Java consumer's offsetsForTimes, AdminClient
// listOffsets(OffsetSpec.forTimestamp)).
func TestListOffsetsByTimestampRecordLevel(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	fb.CreateTopics(context.Background(), []cluster.TopicSpec{{Name: "t", Partitions: 1}}, false)
	rc := dialRaw(t, addr)
	// Offsets 0-4 at 1000..1040, offsets 5-7 at 2000..2200.
	for _, b := range [][]byte{timedBatch(5, 1000, 10), timedBatch(3, 2000, 100)} {
		if r := rc.roundTrip(produceReq("t", -1, b)).(*kmsg.ProduceResponse); r.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("produce: code %d", r.Topics[0].Partitions[0].ErrorCode)
		}
	}
	for _, tc := range []struct{ at, off, ts int64 }{
		{0, 0, 1000}, {1000, 0, 1000}, {1001, 1, 1010}, {1025, 3, 1030}, {1040, 4, 1040},
		{1041, 5, 2000}, {2150, 7, 2200}, {2201, -1, -1},
	} {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version, req.ReplicaID = 6, -1
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = 0, tc.at, -1
		req.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "t", Partitions: []kmsg.ListOffsetsRequestTopicPartition{rp}}}
		p := rc.roundTrip(req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.Offset != tc.off || p.Timestamp != tc.ts {
			t.Errorf("timestamp %d: code %d offset %d ts %d, want offset %d ts %d", tc.at, p.ErrorCode, p.Offset, p.Timestamp, tc.off, tc.ts)
		}
	}
}
