package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chronik-chaos/chronik/broker/cluster"
)

// fakeMembers is a membership back end: it leads __meta unless notLeader
// is set, and adds or removes members at once unless slow is set.
type fakeMembers struct {
	mu        sync.Mutex
	notLeader *cluster.NotMetaLeaderError
	slow      bool
	members   map[uint64]cluster.Member
	calls     int
}

func newFakeMembers() *fakeMembers {
	return &fakeMembers{members: map[uint64]cluster.Member{
		1: {ID: 1, RaftAddr: "n1:9192", State: cluster.MemberVoter},
		2: {ID: 2, RaftAddr: "n2:9192", State: cluster.MemberVoter},
		3: {ID: 3, RaftAddr: "n3:9192", State: cluster.MemberRemoved},
	}}
}

func (f *fakeMembers) Members(context.Context, bool) (cluster.MembersReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rep := cluster.MembersReport{NodeID: 1, Leader: 1}
	for id := uint64(1); id <= 9; id++ {
		if mb, ok := f.members[id]; ok {
			rep.Members = append(rep.Members, cluster.MemberStatus{Member: mb})
		}
	}
	return rep, nil
}

func (f *fakeMembers) AddMember(_ context.Context, spec cluster.MemberSpec) (cluster.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.notLeader != nil {
		return cluster.Member{}, f.notLeader
	}
	switch {
	case spec.ID == 0:
		return cluster.Member{}, fmt.Errorf("%w: id must be >= 1", cluster.ErrInvalidMember)
	case spec.ID == 7:
		return cluster.Member{}, fmt.Errorf("add: %w", cluster.ErrChangeInProgress)
	case spec.ID == 8:
		return cluster.Member{}, fmt.Errorf("add: %w", cluster.ErrWouldLoseQuorum)
	}
	if _, ok := f.members[spec.ID]; ok {
		return cluster.Member{}, fmt.Errorf("add: %w", cluster.ErrMemberExists)
	}
	mb := cluster.Member{ID: spec.ID, RaftAddr: spec.RaftAddr, KafkaAddr: spec.KafkaAddr, State: cluster.MemberJoining}
	if !f.slow {
		mb.State = cluster.MemberVoter
	}
	f.members[spec.ID] = mb
	return mb, nil
}

func (f *fakeMembers) RemoveMember(_ context.Context, id uint64) (cluster.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.notLeader != nil {
		return cluster.Member{}, f.notLeader
	}
	mb, ok := f.members[id]
	if !ok || mb.State == cluster.MemberRemoved {
		return cluster.Member{}, fmt.Errorf("remove: %w", cluster.ErrUnknownMember)
	}
	mb.State = cluster.MemberRemoved
	f.members[id] = mb
	return mb, nil
}

func (f *fakeMembers) WaitMember(ctx context.Context, id uint64, want cluster.MemberState) (cluster.Member, error) {
	f.mu.Lock()
	mb := f.members[id]
	f.mu.Unlock()
	if mb.State == want {
		return mb, nil
	}
	<-ctx.Done()
	return mb, ctx.Err()
}

func TestMembersEndpoints(t *testing.T) {
	fm := newFakeMembers()
	srv := httptest.NewServer(Handler(Config{Source: &fakeNode{}, Members: fm}))
	defer srv.Close()
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name, method, path, body string
		slow                     bool
		code                     int
		contains                 string
	}{
		{"list", "GET", "/admin/members", "", false, 200, `"raft_addr": "n2:9192"`},
		{"add: done", "POST", "/admin/members", `{"id":4,"raft_addr":"n4:9192","kafka_addr":"n4:9092"}`, false, 200, `"state": "voter"`},
		{"add: committed, not yet done", "POST", "/admin/members?timeout=50ms", `{"id":5,"raft_addr":"n5:9192"}`, true, 202, `"state": "joining"`},
		{"add: id in use", "POST", "/admin/members", `{"id":2,"raft_addr":"n2:9192"}`, false, 409, `"error": "id_in_use"`},
		{"add: removed id is never reused", "POST", "/admin/members", `{"id":3,"raft_addr":"n3:9192"}`, false, 409, `"error": "id_in_use"`},
		{"add: change in progress", "POST", "/admin/members", `{"id":7,"raft_addr":"n7:9192"}`, false, 409, `"error": "change_in_progress"`},
		{"add: would lose quorum", "POST", "/admin/members", `{"id":8,"raft_addr":"n8:9192"}`, false, 409, `"error": "would_lose_quorum"`},
		{"add: invalid", "POST", "/admin/members", `{"id":0}`, false, 400, `"error": "invalid_member"`},
		{"add: unknown field", "POST", "/admin/members", `{"id":9,"raft_addr":"n9:9192","port":1}`, false, 400, "unknown field"},
		{"add: bad timeout", "POST", "/admin/members?timeout=forever", `{"id":9,"raft_addr":"n9:9192"}`, false, 400, "timeout"},
		{"remove: done", "DELETE", "/admin/members/2", "", false, 200, `"state": "removed"`},
		{"remove: unknown", "DELETE", "/admin/members/42", "", false, 404, `"error": "unknown_member"`},
		{"remove: bad id", "DELETE", "/admin/members/x", "", false, 400, `"error": "invalid_member"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fm.mu.Lock()
			fm.slow = tt.slow
			fm.mu.Unlock()
			code, body := do(tt.method, tt.path, tt.body)
			if code != tt.code || !strings.Contains(body, tt.contains) {
				t.Fatalf("%s %s: %d %s, want %d containing %q", tt.method, tt.path, code, body, tt.code, tt.contains)
			}
		})
	}
}

// A follower forwards a membership request to the __meta leader's admin
// address once; the leader's answer comes back unchanged.
func TestMembersForwardedToLeader(t *testing.T) {
	leader := newFakeMembers()
	lsrv := httptest.NewServer(Handler(Config{Source: &fakeNode{}, Members: leader}))
	defer lsrv.Close()
	follower := newFakeMembers()
	follower.notLeader = &cluster.NotMetaLeaderError{Leader: 1, AdminAddr: strings.TrimPrefix(lsrv.URL, "http://")}
	fsrv := httptest.NewServer(Handler(Config{Source: &fakeNode{}, Members: follower}))
	defer fsrv.Close()

	resp, err := http.Post(fsrv.URL+"/admin/members", "application/json", strings.NewReader(`{"id":4,"raft_addr":"n4:9192"}`))
	if err != nil {
		t.Fatal(err)
	}
	var mb cluster.Member
	if err := json.NewDecoder(resp.Body).Decode(&mb); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || mb.ID != 4 || mb.State != cluster.MemberVoter {
		t.Fatalf("forwarded add: %d %+v", resp.StatusCode, mb)
	}
	if leader.calls != 1 {
		t.Fatalf("leader saw %d calls, want 1", leader.calls)
	}
	req, _ := http.NewRequest("DELETE", fsrv.URL+"/admin/members/2", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || leader.members[2].State != cluster.MemberRemoved {
		t.Fatalf("forwarded remove: %d", resp.StatusCode)
	}

	// The leader moved while forwarding: no second hop, 503 naming it.
	leader.notLeader = &cluster.NotMetaLeaderError{Leader: 2, AdminAddr: strings.TrimPrefix(fsrv.URL, "http://")}
	resp, err = http.Post(fsrv.URL+"/admin/members", "application/json", strings.NewReader(`{"id":5,"raft_addr":"n5:9192"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), `"leader": 2`) {
		t.Fatalf("forward loop guard: %d %s", resp.StatusCode, b)
	}
}
