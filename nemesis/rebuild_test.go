package nemesis

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// storeMembers is a fake broker cluster that can both damage stores and
// change its membership: the corrupt fault's refusals are rebuilt on it.
type storeMembers struct {
	*fakeStore
	m *fakeMembers
}

func newStoreMembers(n int) *storeMembers {
	fs := newFakeStore(n)
	fm := &fakeMembers{fakeCluster: fs.fakeCluster, members: map[uint64]string{}, next: n + 1, replaces: map[uint64]uint64{}}
	for i := 1; i <= n; i++ {
		fm.members[uint64(i)] = "voter"
	}
	fm.shown = fm.votersLocked()
	return &storeMembers{fakeStore: fs, m: fm}
}

func (c *storeMembers) AddNode(ctx context.Context) (string, error) { return c.m.AddNode(ctx) }
func (c *storeMembers) RemoveNode(ctx context.Context, n string) error {
	return c.m.RemoveNode(ctx, n)
}
func (c *storeMembers) RaftAddr(n string) string  { return c.m.RaftAddr(n) }
func (c *storeMembers) KafkaAddr(n string) string { return c.m.KafkaAddr(n) }

func (c *storeMembers) Admin(ctx context.Context, n, method, path string) (int, []byte, error) {
	return c.AdminBody(ctx, n, method, path, nil)
}

func (c *storeMembers) AdminBody(ctx context.Context, n, method, path string, body []byte) (int, []byte, error) {
	if strings.HasPrefix(path, "/admin/members") || path == "/status" {
		return c.m.AdminBody(ctx, n, method, path, body)
	}
	return c.fakeStore.AdminBody(ctx, n, method, path, body)
}

// A node that refuses its damaged store is rebuilt under a fresh id when
// the cluster can change its membership: the refusal stays recorded, the
// old node is gone and the new one runs as a voter.
func TestCorruptRefusalRebuilt(t *testing.T) {
	shortWaits(t)
	ctx := context.Background()
	c := newStoreMembers(3)
	c.refuse = true
	s := newSched(t, c, 3, Options{Faults: []string{FamilyCorrupt}, JoinDelay: time.Millisecond, ActionTimeout: 20 * time.Second})
	rec := &recorder{}
	if err := s.fault(FamilyCorrupt).start(ctx, s, rec); err != nil {
		t.Fatal(err)
	}
	old := rec.infos()[0].Value["nodes"].([]any)[0].(string)
	if err := s.fault(FamilyCorrupt).stop(ctx, s, rec); err != nil {
		t.Fatal(err)
	}
	v := rec.infos()[1].Value["verified"].(map[string]any)
	if _, ok := v["refused"].(map[string]any)[old]; !ok {
		t.Fatalf("%s not refused: %v", old, v)
	}
	rebuilt, _ := v["rebuilt"].(map[string]any)
	r, _ := rebuilt[old].(map[string]any)
	if r == nil || r["by"] != "n4" || r["error"] != nil {
		t.Fatalf("rebuilt = %v, want %s replaced by n4 without error", v["rebuilt"], old)
	}
	if refused := s.Refused(); len(refused) != 1 || refused[0].Node != old {
		t.Fatalf("refusals %v, want %s's kept", refused, old)
	}
	nodes := c.Nodes()
	if slices.Contains(nodes, old) || !slices.Contains(nodes, "n4") || c.state["n4"] != Running {
		t.Fatalf("nodes %v (n4 %s), want %s gone and n4 running", nodes, c.state["n4"], old)
	}
	if st := c.m.members[4]; st != "voter" {
		t.Fatalf("member 4 is %q, want voter", st)
	}
	// The rebuilt cluster is whole again: the next corruption is not
	// skipped for want of a quorum.
	if err := s.fault(FamilyCorrupt).start(ctx, s, rec); err != nil {
		t.Fatal(err)
	}
	if last := rec.infos()[2]; last.Value["skipped"] != nil {
		t.Fatalf("corruption after the rebuild skipped: %v", last.Value)
	}
}

// With no running node to take the membership request, a replacement adds
// nothing: a new node created for it would wait forever to be added and
// the run's final checks would count it as a member that never settled.
func TestReplaceNodeWithNoneToAskAddsNothing(t *testing.T) {
	shortWaits(t)
	ctx := context.Background()
	c := newStoreMembers(3)
	c.state["n2"], c.state["n3"] = Paused, Exited
	before := c.Nodes()
	node, _, err := ReplaceNode(ctx, c, "n1", time.Millisecond)
	if err == nil {
		t.Fatalf("ReplaceNode = %q, nil error; want an error with no node to ask", node)
	}
	if after := c.Nodes(); !slices.Equal(after, before) {
		t.Fatalf("nodes %v after a failed replacement, want %v", after, before)
	}
}
