package nemesis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeStore is a fakeCluster whose brokers answer the durability admin
// requests: a power loss or a crash point makes the node exit with its
// code after logging the broker's line; a damaged store may be refused at
// the next start. Knobs make the broker misbehave.
type fakeStore struct {
	*fakeCluster
	exit   map[string]int
	logs   map[string][]string
	expect map[string][]int

	ignorePowerLoss bool // the node keeps running after POST /admin/power-loss
	noCrashLine     bool // a crash point exits 5 without its log line
	refuse          bool // a damaged store is refused (exit 3) at start
	failOnDamage    bool // a damaged store makes the broker exit 1
	damaged         map[string]bool
}

func newFakeStore(n int) *fakeStore {
	return &fakeStore{fakeCluster: newFake(n, Running), exit: map[string]int{}, logs: map[string][]string{},
		expect: map[string][]int{}, damaged: map[string]bool{}}
}

func (f *fakeStore) die(n string, code int, line string) {
	f.state[n] = Exited
	f.exit[n] = code
	if line != "" {
		f.logs[n] = append(f.logs[n], line)
	}
}

func (f *fakeStore) ExpectExit(n string, codes ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expect[n] = codes
}

func (f *fakeStore) StartExpecting(ctx context.Context, n string, codes ...int) error {
	if err := f.Start(ctx, n); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expect[n] = codes
	switch {
	case f.damaged[n] && f.refuse:
		f.die(n, ExitCorruptStore, `level=ERROR `+MsgRefusal+` data_dir=/data file=/data/000004.log offset=17 err="pebble WAL /data/000004.log is corrupt"`)
	case f.damaged[n] && f.failOnDamage:
		f.die(n, 1, `level=ERROR msg="chronik-server failed" err="scan partition: checksum mismatch"`)
	}
	return nil
}

func (f *fakeStore) ExitCode(_ context.Context, n string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.exit[n], nil
}

func (f *fakeStore) LogTail(n string, k int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.logs[n]
	return slices.Clone(l[max(0, len(l)-k):])
}

func (f *fakeStore) Admin(ctx context.Context, n, method, path string) (int, []byte, error) {
	if path == "/admin/crash-points" && method == "GET" {
		return 200, []byte(`{"fault_fs":true,"points":[{"name":"raft-before-save"},{"name":"raft-after-save"}]}`), nil
	}
	return f.fakeCluster.Admin(ctx, n, method, path)
}

func (f *fakeStore) AdminBody(_ context.Context, n, method, path string, body []byte) (int, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state[n] != Running {
		return 0, nil, errRefused
	}
	f.call("%s %s %s", method, path, n)
	switch {
	case strings.HasPrefix(path, "/admin/power-loss"):
		if f.ignorePowerLoss {
			return 200, []byte(`{"bytes_dropped":0}`), nil
		}
		f.die(n, ExitPowerLoss, `level=WARN `+MsgPowerLoss+` node=1 bytes_dropped=1397 files_truncated=1 files_removed=0 exit_code=4`)
		return 200, []byte(`{"node_id":1,"exit_code":4,"bytes_dropped":1397,"files_truncated":1}`), nil
	case path == "/admin/crash-points" && method == "POST":
		// The point is reached at once.
		point := strings.Split(strings.Split(string(body), `"point":"`)[1], `"`)[0]
		line := ""
		if !f.noCrashLine {
			line = fmt.Sprintf(`level=WARN %s node=1 point=%s reached=3 power_loss=false exit_code=5`, MsgCrashPoint, point)
		}
		f.die(n, ExitCrashPoint, line)
		return 0, nil, errors.New("connection reset")
	case strings.HasPrefix(path, "/admin/crash-points") && method == "DELETE":
		return 200, []byte(`{}`), nil
	}
	return 404, nil, nil
}

func (f *fakeStore) CorruptStore(_ context.Context, n string, c Corruption) (Corrupted, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state[n] != Exited {
		return Corrupted{}, fmt.Errorf("%s is %s", n, f.state[n])
	}
	f.damaged[n] = true
	return PlanCorruption(c, []StoredFile{{"000004.log", 5000}, {"000005.sst", 900}, {"LOCK", 0}})
}

func shortWaits(t *testing.T) {
	t.Helper()
	sw, lw, ss := stateWait, logWait, startSettle
	stateWait, logWait, startSettle = 300*time.Millisecond, 300*time.Millisecond, 10*time.Millisecond
	t.Cleanup(func() { stateWait, logWait, startSettle = sw, lw, ss })
}

// Power loss of every node at once: each gets the request, exits with 4,
// its drop is recorded, and the stop starts them all; a node that keeps
// running is a fault that did not happen.
func TestPowerLossFault(t *testing.T) {
	shortWaits(t)
	for _, tt := range []struct {
		name   string
		ignore bool
	}{{"all nodes lose power", false}, {"a node keeps running", true}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c := newFakeStore(3)
			c.ignorePowerLoss = tt.ignore
			s := newSched(t, c, 1, Options{Faults: []string{FamilyPowerLoss}, Targets: []string{TargetAll}})
			rec := &recorder{}
			err := s.fault(FamilyPowerLoss).start(ctx, s, rec)
			if tt.ignore {
				if !errors.Is(err, ErrUnverified) {
					t.Fatalf("start = %v, want ErrUnverified", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			info := rec.infos()[0]
			dropped := info.Value["verified"].(map[string]any)["dropped"].(map[string]any)
			if len(dropped) != 3 || dropped["n2"].(map[string]any)["bytes_dropped"] != float64(1397) {
				t.Fatalf("dropped %v", dropped)
			}
			for _, n := range c.Nodes() {
				if c.state[n] != Exited || !slices.Equal(c.expect[n], []int{ExitPowerLoss}) {
					t.Fatalf("%s: state %s, expected exits %v", n, c.state[n], c.expect[n])
				}
			}
			if err := s.fault(FamilyPowerLoss).stop(ctx, s, rec); err != nil {
				t.Fatal(err)
			}
			for _, n := range c.Nodes() {
				if c.state[n] != Running {
					t.Fatalf("%s not restarted: %s", n, c.state[n])
				}
			}
		})
	}
}

// A crash point is verified by the exit code and the node's own line
// naming the point; an exit 5 without the line is unverified.
func TestCrashFault(t *testing.T) {
	shortWaits(t)
	for _, tt := range []struct {
		name   string
		noLine bool
	}{{"crashed at its point", false}, {"no line", true}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c := newFakeStore(3)
			c.noCrashLine = tt.noLine
			s := newSched(t, c, 2, Options{Faults: []string{FamilyCrash}, Targets: []string{TargetOne}})
			rec := &recorder{}
			if err := s.fault(FamilyCrash).start(ctx, s, rec); err != nil {
				t.Fatal(err)
			}
			err := s.fault(FamilyCrash).stop(ctx, s, rec)
			if tt.noLine {
				if !errors.Is(err, ErrUnverified) {
					t.Fatalf("stop = %v, want ErrUnverified", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v := rec.infos()[1].Value["verified"].(map[string]any)
			crashed := v["crashed"].(map[string]any)
			if len(crashed) != 1 {
				t.Fatalf("crashed %v", v)
			}
			for n, got := range crashed {
				g := got.(map[string]any)
				if g["exit_code"] != float64(ExitCrashPoint) || g["reached"] != float64(3) || c.state[n] != Running {
					t.Fatalf("%s: %v, state %s", n, g, c.state[n])
				}
			}
		})
	}
}

// A damaged store the broker refuses is recorded as a refusal; the node
// stays down (no heal starts it, no family targets it) and, with three
// nodes, no second store is damaged. A broker that exits otherwise is
// recorded as exited, not as a refusal.
func TestCorruptFault(t *testing.T) {
	shortWaits(t)
	for _, tt := range []struct {
		name         string
		refuse, fail bool
		want         string
	}{{"repaired or unnoticed", false, false, "started"}, {"refused", true, false, "refused"}, {"exits 1", false, true, "exited"}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c := newFakeStore(3)
			c.refuse, c.failOnDamage = tt.refuse, tt.fail
			s := newSched(t, c, 3, Options{Faults: []string{FamilyCorrupt, FamilyKill, FamilyPartition, FamilyLoss}, Targets: []string{TargetAll}})
			rec := &recorder{}
			if err := s.fault(FamilyCorrupt).start(ctx, s, rec); err != nil {
				t.Fatal(err)
			}
			node := rec.infos()[0].Value["nodes"].([]any)[0].(string)
			if err := s.fault(FamilyCorrupt).stop(ctx, s, rec); err != nil {
				t.Fatal(err)
			}
			v := rec.infos()[1].Value["verified"].(map[string]any)
			if _, ok := v[tt.want].(map[string]any)[node]; !ok {
				t.Fatalf("want %s %s in %v", tt.want, node, v)
			}
			refused := s.Refused()
			if tt.refuse != (len(refused) == 1) {
				t.Fatalf("refused %v", refused)
			}
			if tt.fail {
				// The failed node stays down: the final heal neither
				// starts it (it would fail again) nor heals its network.
				if err := s.HealAll(ctx, rec); err != nil {
					t.Fatal(err)
				}
				if c.state[node] != Exited {
					t.Fatalf("%s is %s after the heal", node, c.state[node])
				}
				return
			}
			if !tt.refuse {
				return
			}
			if refused[0].Node != node || refused[0].File != "/data/000004.log" || refused[0].ExitCode != ExitCorruptStore {
				t.Fatalf("refusal %+v", refused[0])
			}
			if err := s.fault(FamilyCorrupt).start(ctx, s, rec); err != nil {
				t.Fatal(err)
			}
			if last := rec.infos()[2]; last.Value["skipped"] == nil {
				t.Fatalf("second corruption not skipped: %v", last)
			}
			if err := s.fault(FamilyKill).start(ctx, s, rec); err != nil {
				t.Fatal(err)
			}
			if err := s.HealAll(ctx, rec); err != nil {
				t.Fatal(err)
			}
			for _, n := range c.Nodes() {
				if want := map[bool]NodeState{true: Exited, false: Running}[n == node]; c.state[n] != want {
					t.Errorf("%s is %s after the heal, want %s", n, c.state[n], want)
				}
			}
		})
	}
}

// PlanCorruption draws from the seed alone, never picks an empty file or
// LOCK, truncates the newest WAL and falls back to flipping without one.
func TestPlanCorruption(t *testing.T) {
	files := []StoredFile{{"000002.log", 70000}, {"000009.log", 3000}, {"000007.sst", 1200}, {"LOCK", 0}, {"empty", 0}}
	tests := []struct {
		name  string
		c     Corruption
		files []StoredFile
		check func(t *testing.T, p Corrupted)
	}{
		{"truncate the newest WAL", Corruption{Kind: CorruptTruncateWAL, Seed: 7}, files, func(t *testing.T, p Corrupted) {
			if p.File != "000009.log" || p.SizeAfter >= 3000 || p.SizeAfter < 0 {
				t.Errorf("plan %+v", p)
			}
		}},
		{"no WAL: flip instead", Corruption{Kind: CorruptTruncateWAL, Seed: 7}, files[2:], func(t *testing.T, p Corrupted) {
			if p.File != "000007.sst" || len(p.Offsets) == 0 || p.Note == "" {
				t.Errorf("plan %+v", p)
			}
		}},
		{"flip bits", Corruption{Kind: CorruptFlip, Seed: 3}, files, func(t *testing.T, p Corrupted) {
			if p.File == "LOCK" || p.File == "empty" || len(p.Offsets) == 0 || len(p.Offsets) != len(p.Masks) || p.SizeAfter != p.SizeBefore {
				t.Errorf("plan %+v", p)
			}
		}},
		{"remove", Corruption{Kind: CorruptRemove, Seed: 3}, files, func(t *testing.T, p Corrupted) {
			if p.SizeAfter != -1 || p.File == "LOCK" {
				t.Errorf("plan %+v", p)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanCorruption(tt.c, tt.files)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, p)
			again, _ := PlanCorruption(tt.c, slices.Clone(tt.files))
			if fmt.Sprint(again) != fmt.Sprint(p) {
				t.Errorf("not deterministic: %+v then %+v", p, again)
			}
			if p.SizeAfter < 0 {
				return
			}
			data := make([]byte, p.SizeBefore)
			out, err := p.Apply(data)
			if err != nil {
				t.Fatal(err)
			}
			changed := int64(0)
			for _, b := range out {
				if b != 0 {
					changed++
				}
			}
			if int64(len(out)) != p.SizeAfter || changed != int64(len(p.Offsets)) {
				t.Errorf("applied: %d bytes (%d changed), plan %+v", len(out), changed, p)
			}
		})
	}
	if _, err := PlanCorruption(Corruption{Kind: CorruptFlip}, []StoredFile{{"LOCK", 0}}); !errors.Is(err, ErrNothingToCorrupt) {
		t.Errorf("nothing to corrupt: %v", err)
	}
}
