package admin

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/storage"
)

type fakeDurability struct {
	mu      sync.Mutex
	faultFS bool
	seed    *int64
	losses  int
	armed   map[cluster.CrashPoint]cluster.CrashArm
	armErr  error
	lossErr error
}

func (f *fakeDurability) NodeID() int32 { return 3 }
func (f *fakeDurability) FaultFS() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.faultFS }
func (f *fakeDurability) PowerLoss(seed *int64) (storage.PowerLossReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seed, f.losses = seed, f.losses+1
	size := int64(9000)
	return storage.PowerLossReport{BytesDropped: 1234, FilesTruncated: 1, TearSeed: seed,
		Files: []storage.FileLoss{{File: "000004.log", Action: "writes-dropped", BytesDropped: 1234, SizeBefore: &size}}}, f.lossErr
}
func (f *fakeDurability) CrashPointStates() []cluster.CrashPointState {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []cluster.CrashPointState
	for _, info := range cluster.CrashPoints() {
		s := cluster.CrashPointState{CrashPointInfo: info}
		if a, ok := f.armed[info.Name]; ok {
			s.Armed = &a
		}
		out = append(out, s)
	}
	return out
}
func (f *fakeDurability) ArmCrashPoint(a cluster.CrashArm) (cluster.CrashPointState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.armErr != nil {
		return cluster.CrashPointState{}, f.armErr
	}
	f.armed[a.Point] = a
	return cluster.CrashPointState{Armed: &a}, nil
}
func (f *fakeDurability) DisarmCrashPoint(p cluster.CrashPoint) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p == "nope" {
		return cluster.ErrUnknownCrashPoint
	}
	for k := range f.armed {
		if p == "" || k == p {
			delete(f.armed, k)
		}
	}
	return nil
}

func TestDurabilityEndpoints(t *testing.T) {
	d := &fakeDurability{armed: map[cluster.CrashPoint]cluster.CrashArm{}}
	var exits []int
	var exitMu sync.Mutex
	srv := httptest.NewServer(Handler(Config{Source: &fakeNode{}, Durability: d, Exit: func(code int) {
		exitMu.Lock()
		exits = append(exits, code)
		exitMu.Unlock()
	}}))
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
	set := func(fn func()) func() { return func() { d.mu.Lock(); fn(); d.mu.Unlock() } }
	tests := []struct {
		name           string
		before         func()
		method, path   string
		body           string
		wantCode       int
		wantBody       string
		wantExit       []int
		wantLossesSeen int
	}{
		{name: "list", method: "GET", path: "/admin/crash-points", wantCode: 200, wantBody: `"name": "raft-before-save"`},
		{name: "list says fault fs off", method: "GET", path: "/admin/crash-points", wantCode: 200, wantBody: `"fault_fs": false`},
		{name: "arm by count", method: "POST", path: "/admin/crash-points", body: `{"point":"raft-after-save","count":2}`,
			wantCode: 200, wantBody: `"count": 2`},
		{name: "arm by probability", method: "POST", path: "/admin/crash-points", body: `{"point":"raft-before-apply","probability":0.25,"seed":9}`,
			wantCode: 200, wantBody: `"probability": 0.25`},
		{name: "arm: not JSON", method: "POST", path: "/admin/crash-points", body: `raft-before-save`, wantCode: 400},
		{name: "arm: unknown field", method: "POST", path: "/admin/crash-points", body: `{"point":"raft-before-save","count":1,"when":"now"}`, wantCode: 400},
		{name: "arm refused", before: set(func() { d.armErr = fmt.Errorf("%w %q", cluster.ErrUnknownCrashPoint, "x") }),
			method: "POST", path: "/admin/crash-points", body: `{"point":"x","count":1}`, wantCode: 400, wantBody: "unknown crash point"},
		{name: "arm power loss without fault fs", before: set(func() { d.armErr = cluster.ErrNoFaultFS }),
			method: "POST", path: "/admin/crash-points", body: `{"point":"raft-before-save","count":1,"power_loss":true}`, wantCode: 409},
		{name: "disarm one", before: set(func() { d.armErr = nil }), method: "DELETE", path: "/admin/crash-points?point=raft-after-save", wantCode: 200, wantBody: `"probability": 0.25`},
		{name: "disarm unknown", method: "DELETE", path: "/admin/crash-points?point=nope", wantCode: 400},
		{name: "power loss without fault fs", method: "POST", path: "/admin/power-loss", wantCode: 409, wantBody: "--fault-fs"},
		{name: "power loss bad seed", before: set(func() { d.faultFS = true }), method: "POST", path: "/admin/power-loss?tear-seed=x", wantCode: 400},
		{name: "power loss is POST only", method: "GET", path: "/admin/power-loss", wantCode: 405},
		{name: "power loss", method: "POST", path: "/admin/power-loss?tear-seed=7", wantCode: 200,
			wantBody: `"exit_code": 4`, wantExit: []int{cluster.ExitPowerLoss}, wantLossesSeen: 1},
		{name: "power loss partly failed still exits", before: set(func() { d.lossErr = fmt.Errorf("power loss left 1 changes in place") }),
			method: "POST", path: "/admin/power-loss", wantCode: 500, wantBody: `"error": "power loss left 1`,
			wantExit: []int{cluster.ExitPowerLoss, cluster.ExitPowerLoss}, wantLossesSeen: 2},
		{name: "power loss after death", before: set(func() { d.lossErr = cluster.ErrHalted }),
			method: "POST", path: "/admin/power-loss", wantCode: 409,
			wantExit: []int{cluster.ExitPowerLoss, cluster.ExitPowerLoss}, wantLossesSeen: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			code, body := do(tc.method, tc.path, tc.body)
			if code != tc.wantCode || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("%s %s: %d %q, want %d containing %q", tc.method, tc.path, code, body, tc.wantCode, tc.wantBody)
			}
			exitMu.Lock()
			got := fmt.Sprint(exits)
			exitMu.Unlock()
			if got != fmt.Sprint(tc.wantExit) && !(len(tc.wantExit) == 0 && got == "[]") {
				t.Fatalf("exits %s, want %v", got, tc.wantExit)
			}
			d.mu.Lock()
			losses := d.losses
			d.mu.Unlock()
			if losses != tc.wantLossesSeen {
				t.Fatalf("%d power losses, want %d", losses, tc.wantLossesSeen)
			}
		})
	}
	// The answer of the successful power loss carried the report.
	d.mu.Lock()
	seed := d.seed
	d.mu.Unlock()
	if seed != nil {
		t.Fatalf("last power loss had seed %v, want none", *seed)
	}
	var ans PowerLossAnswer
	d.lossErr = nil
	_, body := do("POST", "/admin/power-loss?tear-seed=11", "")
	if err := json.Unmarshal([]byte(body), &ans); err != nil || ans.NodeID != 3 || ans.BytesDropped != 1234 || ans.TearSeed == nil || *ans.TearSeed != 11 || len(ans.Files) != 1 {
		t.Fatalf("answer %q: %+v, %v", body, ans, err)
	}
}

func TestDurabilityUnsupported(t *testing.T) {
	srv := httptest.NewServer(Handler(Config{Source: &fakeNode{}}))
	defer srv.Close()
	for _, req := range []struct{ method, path string }{{"POST", "/admin/power-loss"}, {"GET", "/admin/crash-points"}, {"POST", "/admin/crash-points"}, {"DELETE", "/admin/crash-points"}} {
		r, _ := http.NewRequest(req.method, srv.URL+req.path, nil)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotImplemented {
			t.Fatalf("%s %s: %d, want 501", req.method, req.path, resp.StatusCode)
		}
	}
}
