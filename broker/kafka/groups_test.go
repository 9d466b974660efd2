package kafka

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// roundTrip sends req on rc and decodes its response.
func (r *rawConn) roundTrip(req kmsg.Request) kmsg.Response {
	r.t.Helper()
	r.corr++
	r.send(req, r.corr)
	resp := req.ResponseKind()
	corr, body, err := r.recv(resp.IsFlexible() && req.Key() != 18)
	if err != nil {
		r.t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	if corr != r.corr {
		r.t.Fatalf("correlation id %d, want %d", corr, r.corr)
	}
	if err := resp.ReadFrom(body); err != nil {
		r.t.Fatalf("decode %s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

func joinReq(version int16, group, member string, session time.Duration) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = version
	r.Group, r.MemberID, r.ProtocolType = group, member, "consumer"
	r.SessionTimeoutMillis = int32(session.Milliseconds())
	r.RebalanceTimeoutMillis = int32(session.Milliseconds())
	r.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte(member)}}
	return r
}

// joinAsync sends a JoinGroup on its own connection (it blocks until the
// rebalance completes) and delivers the response.
func joinAsync(t *testing.T, addr string, req *kmsg.JoinGroupRequest) <-chan *kmsg.JoinGroupResponse {
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	rc := dialRaw(t, addr)
	go func() {
		rc.corr++
		rc.send(req, rc.corr)
		_, body, err := rc.recv(req.IsFlexible())
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		if err == nil {
			err = resp.ReadFrom(body)
		}
		if err != nil {
			resp.ErrorCode = -100
		}
		ch <- resp
	}()
	return ch
}

func recvJoin(t *testing.T, ch <-chan *kmsg.JoinGroupResponse) *kmsg.JoinGroupResponse {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("JoinGroup did not complete")
		return nil
	}
}

// joinMember performs the KIP-394 dance and returns the member id.
func joinMember(t *testing.T, rc *rawConn, group string) (string, *kmsg.JoinGroupResponse) {
	t.Helper()
	first := rc.roundTrip(joinReq(9, group, "", 6*time.Second)).(*kmsg.JoinGroupResponse)
	if first.ErrorCode != kerr.MemberIDRequired.Code || first.MemberID == "" {
		t.Fatalf("first join: code %d member %q, want MEMBER_ID_REQUIRED with an id", first.ErrorCode, first.MemberID)
	}
	second := rc.roundTrip(joinReq(9, group, first.MemberID, 6*time.Second)).(*kmsg.JoinGroupResponse)
	if second.ErrorCode != 0 {
		t.Fatalf("second join: code %d", second.ErrorCode)
	}
	return first.MemberID, second
}

func heartbeat(rc *rawConn, group, member string, gen int32) int16 {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Version = 4
	r.Group, r.MemberID, r.Generation = group, member, gen
	return rc.roundTrip(r).(*kmsg.HeartbeatResponse).ErrorCode
}

func syncReq(group, member string, gen int32, assign map[string]string) *kmsg.SyncGroupRequest {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version = 5
	r.Group, r.MemberID, r.Generation = group, member, gen
	for m, a := range assign {
		r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: m, MemberAssignment: []byte(a)})
	}
	return r
}

func TestGroupLifecycle(t *testing.T) {
	_, _, addr := startServer(t, nil)
	a := dialRaw(t, addr)

	// Member A joins alone: generation 1, leader, sees itself.
	idA, joinA := joinMember(t, a, "g")
	if joinA.Generation != 1 || joinA.LeaderID != idA || len(joinA.Members) != 1 {
		t.Fatalf("A's join: gen %d leader %q members %d", joinA.Generation, joinA.LeaderID, len(joinA.Members))
	}
	syncA := a.roundTrip(syncReq("g", idA, 1, map[string]string{idA: "all"})).(*kmsg.SyncGroupResponse)
	if syncA.ErrorCode != 0 || string(syncA.MemberAssignment) != "all" {
		t.Fatalf("A's sync: code %d assignment %q", syncA.ErrorCode, syncA.MemberAssignment)
	}
	if c := heartbeat(a, "g", idA, 1); c != 0 {
		t.Fatalf("stable heartbeat: %d", c)
	}
	if c := heartbeat(a, "g", idA, 7); c != kerr.IllegalGeneration.Code {
		t.Fatalf("heartbeat with a wrong generation: %d, want ILLEGAL_GENERATION", c)
	}
	if c := heartbeat(a, "g", "nobody", 1); c != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat of an unknown member: %d, want UNKNOWN_MEMBER_ID", c)
	}

	// Member B arrives: the group rebalances; A learns it from its
	// heartbeat and rejoins; both get generation 2 with A still leader.
	b := dialRaw(t, addr)
	first := b.roundTrip(joinReq(9, "g", "", 6*time.Second)).(*kmsg.JoinGroupResponse)
	bJoin := joinAsync(t, addr, joinReq(9, "g", first.MemberID, 6*time.Second))
	deadline := time.Now().Add(5 * time.Second)
	for heartbeat(a, "g", idA, 1) != kerr.RebalanceInProgress.Code {
		if time.Now().After(deadline) {
			t.Fatal("A's heartbeat never said REBALANCE_IN_PROGRESS")
		}
		time.Sleep(10 * time.Millisecond)
	}
	aJoin := joinAsync(t, addr, joinReq(9, "g", idA, 6*time.Second))
	ra, rb := recvJoin(t, aJoin), recvJoin(t, bJoin)
	if ra.ErrorCode != 0 || rb.ErrorCode != 0 || ra.Generation != 2 || rb.Generation != 2 {
		t.Fatalf("rebalance: A %d gen %d, B %d gen %d", ra.ErrorCode, ra.Generation, rb.ErrorCode, rb.Generation)
	}
	if ra.LeaderID != idA || len(ra.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("leader %q (want %q), leader sees %d members, follower %d", ra.LeaderID, idA, len(ra.Members), len(rb.Members))
	}

	// B's sync waits for the leader's.
	bSync := make(chan *kmsg.SyncGroupResponse, 1)
	go func() {
		bc := dialRaw(t, addr)
		bSync <- bc.roundTrip(syncReq("g", first.MemberID, 2, nil)).(*kmsg.SyncGroupResponse)
	}()
	time.Sleep(50 * time.Millisecond)
	a.roundTrip(syncReq("g", idA, 2, map[string]string{idA: "p0", first.MemberID: "p1"}))
	select {
	case r := <-bSync:
		if r.ErrorCode != 0 || string(r.MemberAssignment) != "p1" {
			t.Fatalf("B's sync: code %d assignment %q", r.ErrorCode, r.MemberAssignment)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("B's sync never completed")
	}

	// Commits: members of generation 2 may commit; stale generations and
	// outsiders may not.
	commit := func(member string, gen int32) int16 {
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Version = 8
		r.Group, r.MemberID, r.Generation = "g", member, gen
		r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 42}}}}
		return a.roundTrip(r).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
	}
	create := kmsg.NewPtrCreateTopicsRequest()
	create.Version = 7
	create.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "t", NumPartitions: 1, ReplicationFactor: 1}}
	a.roundTrip(create)
	for _, tc := range []struct {
		name   string
		member string
		gen    int32
		want   int16
	}{
		{"member of the generation", idA, 2, 0},
		{"stale generation", idA, 1, kerr.IllegalGeneration.Code},
		{"unknown member", "x", 2, kerr.UnknownMemberID.Code},
		{"simple commit into an active group", "", -1, kerr.UnknownMemberID.Code},
	} {
		t.Run("commit/"+tc.name, func(t *testing.T) {
			if got := commit(tc.member, tc.gen); got != tc.want {
				t.Fatalf("code %d, want %d", got, tc.want)
			}
		})
	}

	// LeaveGroup v5 batch: B leaves, an unknown member is reported.
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version = 5
	leave.Group = "g"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: first.MemberID}, {MemberID: "ghost"}}
	lr := a.roundTrip(leave).(*kmsg.LeaveGroupResponse)
	if lr.ErrorCode != 0 || len(lr.Members) != 2 || lr.Members[0].ErrorCode != 0 || lr.Members[1].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("leave: %+v", lr)
	}
	if c := heartbeat(a, "g", idA, 2); c != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat after a member left: %d, want REBALANCE_IN_PROGRESS", c)
	}

	// Describe while rebalancing, then list.
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Version = 5
	dg.Groups = []string{"g", "never"}
	dr := a.roundTrip(dg).(*kmsg.DescribeGroupsResponse)
	if dr.Groups[0].State != "PreparingRebalance" || len(dr.Groups[0].Members) != 1 || dr.Groups[1].State != "Dead" {
		t.Fatalf("describe: %q with %d members, %q", dr.Groups[0].State, len(dr.Groups[0].Members), dr.Groups[1].State)
	}

	// OffsetFetch v8 with two groups.
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version = 8
	of.Groups = []kmsg.OffsetFetchRequestGroup{
		{Group: "g", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "t", Partitions: []int32{0}}}},
		{Group: "other"},
	}
	ofr := a.roundTrip(of).(*kmsg.OffsetFetchResponse)
	if len(ofr.Groups) != 2 || ofr.Groups[0].Topics[0].Partitions[0].Offset != 42 || len(ofr.Groups[1].Topics) != 0 {
		t.Fatalf("offset fetch v8: %+v", ofr.Groups)
	}
}

func TestGroupSessionExpiry(t *testing.T) {
	_, _, addr := startServer(t, func(c *Config) { c.Groups.MinSessionTimeout = 50 * time.Millisecond })
	rc := dialRaw(t, addr)
	first := rc.roundTrip(joinReq(9, "exp", "", 200*time.Millisecond)).(*kmsg.JoinGroupResponse)
	j := rc.roundTrip(joinReq(9, "exp", first.MemberID, 200*time.Millisecond)).(*kmsg.JoinGroupResponse)
	if j.ErrorCode != 0 {
		t.Fatalf("join: %d", j.ErrorCode)
	}
	time.Sleep(600 * time.Millisecond) // no heartbeats: the session runs out
	if c := heartbeat(rc, "exp", first.MemberID, j.Generation); c != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat after the session expired: %d, want UNKNOWN_MEMBER_ID", c)
	}
	// Simple commits are allowed into the now-empty group.
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 8
	r.Group, r.Generation = "exp", -1
	create := kmsg.NewPtrCreateTopicsRequest()
	create.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "t", NumPartitions: 1, ReplicationFactor: 1}}
	rc.roundTrip(create)
	r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}}}
	if c := rc.roundTrip(r).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode; c != 0 {
		t.Fatalf("simple commit into an empty group: %d", c)
	}
}

func TestJoinGroupValidation(t *testing.T) {
	_, _, addr := startServer(t, nil)
	rc := dialRaw(t, addr)
	tests := []struct {
		name string
		req  *kmsg.JoinGroupRequest
		want int16
	}{
		{"session too short", joinReq(9, "v", "", 10*time.Millisecond), kerr.InvalidSessionTimeout.Code},
		{"unknown member id", joinReq(9, "v", "made-up", 6*time.Second), kerr.UnknownMemberID.Code},
		{"empty group id", joinReq(9, "", "", 6*time.Second), kerr.InvalidGroupID.Code},
		{"v3 joins without the member id dance", joinReq(3, "old", "", 6*time.Second), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rc.roundTrip(tc.req).(*kmsg.JoinGroupResponse).ErrorCode; got != tc.want {
				t.Fatalf("code %d, want %d", got, tc.want)
			}
		})
	}
}

func TestFindCoordinator(t *testing.T) {
	_, fb, addr := startServer(t, nil)
	rc := dialRaw(t, addr)
	v4 := kmsg.NewPtrFindCoordinatorRequest()
	v4.Version = 4
	v4.CoordinatorKeys = []string{"a", "b"}
	r4 := rc.roundTrip(v4).(*kmsg.FindCoordinatorResponse)
	if len(r4.Coordinators) != 2 || r4.Coordinators[1].Key != "b" || r4.Coordinators[1].NodeID != 1 || r4.Coordinators[0].Port != fb.port {
		t.Fatalf("v4 batch: %+v", r4.Coordinators)
	}
	txn := kmsg.NewPtrFindCoordinatorRequest()
	txn.Version = 2
	txn.CoordinatorKey, txn.CoordinatorType = "tx", 1
	if r := rc.roundTrip(txn).(*kmsg.FindCoordinatorResponse); r.ErrorCode != 0 || r.NodeID != 1 {
		t.Fatalf("transaction coordinator: code %d node %d, want this node", r.ErrorCode, r.NodeID)
	}
	share := kmsg.NewPtrFindCoordinatorRequest()
	share.Version = 2
	share.CoordinatorKey, share.CoordinatorType = "sh", 2
	if c := rc.roundTrip(share).(*kmsg.FindCoordinatorResponse).ErrorCode; c != kerr.InvalidRequest.Code {
		t.Fatalf("share coordinator: %d, want INVALID_REQUEST", c)
	}
	fb.mu.Lock()
	fb.coord = -1
	fb.mu.Unlock()
	v0 := kmsg.NewPtrFindCoordinatorRequest()
	v0.CoordinatorKey = "a"
	if c := rc.roundTrip(v0).(*kmsg.FindCoordinatorResponse).ErrorCode; c != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("no coordinator: %d, want COORDINATOR_NOT_AVAILABLE", c)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID = "a", "m"
	if c := rc.roundTrip(hb).(*kmsg.HeartbeatResponse).ErrorCode; c != kerr.NotCoordinator.Code {
		t.Fatalf("heartbeat on a non-coordinator: %d, want NOT_COORDINATOR", c)
	}
}

// Every completed join phase counts as a rebalance (a chaos run's coverage
// reads chronik_group_rebalances_total).
func TestGroupRebalanceCounter(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	_, _, addr := startServer(t, func(c *Config) { c.Metrics = m })
	a := dialRaw(t, addr)
	if _, join := joinMember(t, a, "g"); join.Generation != 1 {
		t.Fatalf("generation %d, want 1", join.Generation)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := -1.0
	for _, mf := range mfs {
		if mf.GetName() == "chronik_group_rebalances_total" {
			got = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if got != 1 {
		t.Fatalf("chronik_group_rebalances_total %v after one join, want 1", got)
	}
}
