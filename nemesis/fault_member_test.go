package nemesis

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeMembers adds membership to fakeCluster: member records that a POST
// makes "joining" and that turn "voter" once the node runs (its
// replaced voter "removed"), a DELETE that removes at once, and a /status
// whose groups show the voters.
type fakeMembers struct {
	*fakeCluster
	members map[uint64]string // id -> state
	next    int
	// lagging names a node whose /status never shows a change.
	lagging  string
	replaces map[uint64]uint64
	shown    []uint64 // voters lagging shows
}

func newFakeMembers(n int) *fakeMembers {
	f := &fakeMembers{fakeCluster: newFake(n, Running), members: map[uint64]string{}, next: n + 1, replaces: map[uint64]uint64{}}
	for i := 1; i <= n; i++ {
		f.members[uint64(i)] = "voter"
	}
	f.shown = f.votersLocked()
	return f
}

func (f *fakeMembers) votersLocked() []uint64 {
	var out []uint64
	for id, st := range f.members {
		if st == "voter" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func (f *fakeMembers) AddNode(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := "n" + strconv.Itoa(f.next)
	f.next++
	f.nodes = append(f.nodes, name)
	f.state[name] = Exited
	return name, nil
}

func (f *fakeMembers) RemoveNode(_ context.Context, n string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nodes = slices.DeleteFunc(f.nodes, func(x string) bool { return x == n })
	delete(f.state, n)
	return nil
}

func (f *fakeMembers) RaftAddr(n string) string  { return n + ":9192" }
func (f *fakeMembers) KafkaAddr(n string) string { return n + ":9092" }

// settle turns joining members whose node runs into voters.
func (f *fakeMembers) settle() {
	for id, st := range f.members {
		if st == "joining" && f.state["n"+strconv.FormatUint(id, 10)] == Running {
			f.members[id] = "voter"
			if r := f.replaces[id]; r != 0 {
				f.members[r] = "removed"
			}
		}
	}
}

func (f *fakeMembers) Admin(ctx context.Context, n, method, path string) (int, []byte, error) {
	return f.AdminBody(ctx, n, method, path, nil)
}

func (f *fakeMembers) AdminBody(ctx context.Context, n, method, path string, body []byte) (int, []byte, error) {
	if !strings.HasPrefix(path, "/admin/members") && path != "/status" {
		return f.fakeCluster.Admin(ctx, n, method, path)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state[n] != Running {
		return 0, nil, errRefused
	}
	f.settle()
	switch {
	case path == "/status":
		voters := f.votersLocked()
		if n == f.lagging {
			voters = f.shown
		}
		doc := map[string]any{"groups": []map[string]any{{"name": "__meta", "voters": voters}, {"name": "t/0", "voters": voters}}}
		b, _ := json.Marshal(doc)
		return 200, b, nil
	case method == "GET":
		var ms []memberRecord
		for id, st := range f.members {
			ms = append(ms, memberRecord{ID: id, State: st})
		}
		b, _ := json.Marshal(map[string]any{"members": ms})
		return 200, b, nil
	case method == "POST":
		var spec struct{ ID, Replaces uint64 }
		if err := json.Unmarshal(body, &spec); err != nil {
			return 400, nil, nil
		}
		if _, ok := f.members[spec.ID]; ok {
			return 409, []byte(`{"error":"id_in_use"}`), nil
		}
		f.members[spec.ID] = "joining"
		f.replaces[spec.ID] = spec.Replaces
		return 202, []byte(`{}`), nil
	case method == "DELETE":
		id, _ := strconv.ParseUint(strings.TrimPrefix(strings.Split(path, "?")[0], "/admin/members/"), 10, 64)
		if f.members[id] != "voter" {
			return 404, []byte(`{"error":"unknown_member"}`), nil
		}
		f.members[id] = "removed"
		return 200, []byte(`{}`), nil
	}
	return 404, nil, nil
}

// TestMemberFault: over many seeded actions the member family keeps the
// voters within [3, initial+2], never reuses an id, leaves the cluster's
// nodes equal to the voters, and verifies each change on every node's
// /status; a node whose /status lags makes the change "unfinished".
func TestMemberFault(t *testing.T) {
	defer func(w, r time.Duration) { memberWait, memberRetry = w, r }(memberWait, memberRetry)
	memberWait, memberRetry = 300*time.Millisecond, 100*time.Millisecond
	tests := []struct {
		name    string
		lagging string
	}{
		{"every node shows the change", ""},
		{"a node lags", "n1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c := newFakeMembers(3)
			c.lagging = tt.lagging
			s := newSched(t, c, 7, Options{Faults: []string{"member"}, JoinDelay: time.Millisecond})
			rec := &recorder{}
			ops := map[string]int{}
			seen := map[string]bool{}
			for i := range 12 {
				if err := s.fault("member").start(ctx, s, rec); err != nil {
					t.Fatalf("action %d: %v", i, err)
				}
				infos := rec.infos()
				v := infos[len(infos)-1].Value
				op, _ := v["op"].(string)
				ops[op]++
				c.mu.Lock()
				voters := c.votersLocked()
				nodes := slices.Clone(c.nodes)
				c.mu.Unlock()
				var ids []uint64
				for _, n := range nodes {
					ids = append(ids, NodeID(n))
				}
				slices.Sort(ids)
				if tt.lagging == "" && !slices.Equal(ids, voters) {
					t.Fatalf("action %d (%v): nodes %v, voters %v", i, v, nodes, voters)
				}
				if len(voters) < minVoters || len(voters) > 3+maxExtraVoters {
					t.Fatalf("action %d: %d voters", i, len(voters))
				}
				if n, ok := v["node"].(string); ok && op != MemberRemove {
					if seen[n] {
						t.Fatalf("node %s added twice", n)
					}
					seen[n] = true
				}
				verified, _ := v["verified"].(map[string]any)
				_, unfinished := verified["unfinished"]
				if want := tt.lagging != "" && op != "" && v["skipped"] == nil; unfinished != want {
					t.Fatalf("action %d: unfinished %v, want %v: %v", i, unfinished, want, v)
				}
				if tt.lagging != "" {
					break
				}
			}
			if tt.lagging == "" && (ops[MemberAdd] == 0 || ops[MemberReplace] == 0 || ops[MemberRemove] == 0) {
				t.Fatalf("ops drawn %v, want each of add, remove, replace", ops)
			}
		})
	}
}

// The final heal's settle records a node that never shows the settled
// voters as unsettled (the broker's liveness failure, which the membership
// checker reports), not as an error that would end the run without a
// verdict.
func TestMemberHealUnsettled(t *testing.T) {
	defer func(w, r time.Duration) { memberWait, memberRetry = w, r }(memberWait, memberRetry)
	memberWait, memberRetry = 300*time.Millisecond, 100*time.Millisecond
	ctx := context.Background()
	c := newFakeMembers(3)
	c.lagging = "n1"
	s := newSched(t, c, 7, Options{Faults: []string{"member"}, JoinDelay: time.Millisecond})
	rec := &recorder{}
	if err := s.fault("member").start(ctx, s, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.HealAll(ctx, rec); err != nil {
		t.Fatalf("final heal failed instead of recording the lag: %v", err)
	}
	infos := rec.infos()
	v := infos[len(infos)-1].Value
	verified, _ := v["verified"].(map[string]any)
	if v["op"] != "settle" || verified["unsettled"] == nil {
		t.Fatalf("last action %v, want a settle with unsettled", v)
	}
}
