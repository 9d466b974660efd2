package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/prometheus/client_golang/prometheus"
)

type fakeNode struct {
	mu    sync.Mutex
	ready bool
	delay time.Duration
}

func (f *fakeNode) Ready() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.ready }
func (f *fakeNode) Status() cluster.Status {
	return cluster.Status{NodeID: 3, Mode: "raft-cluster", Ready: f.Ready(),
		RaftGroups: []cluster.RaftGroupStatus{{Name: "__meta", Role: "StateLeader", Term: 4, Leader: 3}}}
}
func (f *fakeNode) SetPeerDelay(d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
	return nil
}
func (f *fakeNode) PeerDelay() time.Duration { f.mu.Lock(); defer f.mu.Unlock(); return f.delay }

func TestAdminEndpoints(t *testing.T) {
	node := &fakeNode{}
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "chronik_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	srv := httptest.NewServer(Handler(Config{Source: node, Delayer: node, Gatherer: reg}))
	defer srv.Close()

	do := func(method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	tests := []struct {
		name     string
		before   func()
		method   string
		path     string
		wantCode int
		wantBody string
		after    func(t *testing.T)
	}{
		{name: "healthz", method: "GET", path: "/healthz", wantCode: 200, wantBody: "ok"},
		{name: "readyz before ready", method: "GET", path: "/readyz", wantCode: 503, wantBody: "not ready"},
		{name: "readyz when ready", before: func() { node.mu.Lock(); node.ready = true; node.mu.Unlock() },
			method: "GET", path: "/readyz", wantCode: 200, wantBody: "ready"},
		{name: "status", method: "GET", path: "/status", wantCode: 200, wantBody: `"node_id": 3`},
		{name: "metrics", method: "GET", path: "/metrics", wantCode: 200, wantBody: "chronik_test_total 3"},
		{name: "peer delay read", method: "GET", path: "/admin/peer-delay", wantCode: 200, wantBody: `"ms": 0`},
		{name: "peer delay set", method: "POST", path: "/admin/peer-delay?ms=250", wantCode: 200, wantBody: `"ms": 250`,
			after: func(t *testing.T) {
				if node.PeerDelay() != 250*time.Millisecond {
					t.Fatalf("delay %v, want 250ms", node.PeerDelay())
				}
			}},
		{name: "peer delay off via GET", method: "GET", path: "/admin/peer-delay?ms=0", wantCode: 200, wantBody: `"ms": 0`},
		{name: "peer delay negative", method: "POST", path: "/admin/peer-delay?ms=-1", wantCode: 400},
		{name: "peer delay garbage", method: "POST", path: "/admin/peer-delay?ms=abc", wantCode: 400},
		{name: "peer delay too large", method: "POST", path: "/admin/peer-delay?ms=600000", wantCode: 400},
		{name: "peer delay POST without ms", method: "POST", path: "/admin/peer-delay", wantCode: 400},
		{name: "unknown path", method: "GET", path: "/nope", wantCode: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			code, body := do(tc.method, tc.path)
			if code != tc.wantCode || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("%s %s: %d %q, want %d containing %q", tc.method, tc.path, code, body, tc.wantCode, tc.wantBody)
			}
			if tc.after != nil {
				tc.after(t)
			}
		})
	}
	var st cluster.Status
	_, body := do("GET", "/status")
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.RaftGroups[0].Name != "__meta" {
		t.Fatalf("status JSON %q: %v", body, err)
	}
}

func TestPeerDelayUnsupported(t *testing.T) {
	srv := httptest.NewServer(Handler(Config{Source: &fakeNode{}}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/admin/peer-delay?ms=5", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("status %d, want 501", resp.StatusCode)
	}
}
