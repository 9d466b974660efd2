package nemesis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fakeCluster is an in-memory Cluster: node states, cuts, loss and delay as
// maps, probes answered from them. Knobs make a fault not take effect, to
// test that the scheduler notices.
type fakeCluster struct {
	mu     sync.Mutex
	nodes  []string
	state  map[string]NodeState
	cuts   map[string][]string
	loss   map[string]int
	delay  map[string]int
	client map[string]ClientCut
	// clientIn counts client packets that reached a node with a client
	// fault (the counting rule).
	clientIn map[string]uint64
	leader   string
	term     uint64
	calls    []string

	ignoreKill   bool // Kill does nothing
	ignoreCut    bool // Cut does nothing
	ignoreLoss   bool // Loss does nothing
	stickyNet    bool // HealNet and emptying Cut/Loss leave the rules
	unluckyLoss  bool // a single probe over a lossy link always times out
	pauseAnswers bool // a paused node still answers admin requests
	noNftables   bool // Cut/Loss/HealNet fail as without nf_tables
	neverStart   bool // Start does nothing
	neverUnpause bool // Unpause does nothing
	stickyDelay  bool // setting the peer delay does nothing
	ignoreClient bool // CutClients does nothing
}

var errRefused = errors.New("connect: connection refused")

func newFake(n int, st NodeState) *fakeCluster {
	f := &fakeCluster{
		state:    map[string]NodeState{},
		cuts:     map[string][]string{},
		loss:     map[string]int{},
		delay:    map[string]int{},
		client:   map[string]ClientCut{},
		clientIn: map[string]uint64{},
		term:     3,
	}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("n%d", i)
		f.nodes = append(f.nodes, name)
		f.state[name] = st
	}
	f.leader = f.nodes[len(f.nodes)-1]
	return f
}

func (f *fakeCluster) Nodes() []string { return slices.Clone(f.nodes) }

func (f *fakeCluster) call(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeCluster) Start(_ context.Context, n string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("start %s", n)
	if f.neverStart {
		return nil
	}
	if f.state[n] != Running {
		// A new container namespace: rules and broker settings are gone.
		delete(f.cuts, n)
		delete(f.loss, n)
		delete(f.delay, n)
	}
	f.state[n] = Running
	return nil
}

func (f *fakeCluster) Kill(_ context.Context, n string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("kill %s", n)
	if !f.ignoreKill {
		f.state[n] = Exited
		delete(f.cuts, n)
		delete(f.loss, n)
		delete(f.delay, n)
	}
	return nil
}

func (f *fakeCluster) Pause(_ context.Context, n string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("pause %s", n)
	f.state[n] = Paused
	return nil
}

func (f *fakeCluster) Unpause(_ context.Context, n string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("unpause %s", n)
	if f.state[n] == Paused && !f.neverUnpause {
		f.state[n] = Running
	}
	return nil
}

func (f *fakeCluster) State(_ context.Context, n string) (NodeState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.state[n]
	if !ok {
		return Missing, nil
	}
	return st, nil
}

func (f *fakeCluster) netOK(n string) error {
	if f.noNftables {
		return errors.New("nftables: protocol not supported")
	}
	if st := f.state[n]; st != Running && st != Paused {
		return fmt.Errorf("%s has no network namespace (%s)", n, st)
	}
	return nil
}

func (f *fakeCluster) Cut(_ context.Context, n string, from []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("cut %s %v", n, from)
	if err := f.netOK(n); err != nil {
		return err
	}
	if !f.ignoreCut && !(f.stickyNet && len(from) == 0) {
		f.cuts[n] = slices.Clone(from)
	}
	return nil
}

func (f *fakeCluster) Loss(_ context.Context, n string, from []string, pct int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("loss %s %d", n, pct)
	if err := f.netOK(n); err != nil {
		return err
	}
	if !f.ignoreLoss && !(f.stickyNet && (pct == 0 || len(from) == 0)) {
		f.loss[n] = pct
		if len(from) == 0 {
			f.loss[n] = 0
		}
	}
	return nil
}

func (f *fakeCluster) HealNet(_ context.Context, n string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("healnet %s", n)
	if err := f.netOK(n); err != nil {
		return err
	}
	if f.stickyNet {
		return nil
	}
	delete(f.cuts, n)
	delete(f.loss, n)
	return nil
}

func (f *fakeCluster) Probe(ctx context.Context, a, b string, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.netOK(a); err != nil {
		return err
	}
	if st := f.state[b]; st != Running && st != Paused {
		return errRefused
	}
	if slices.Contains(f.cuts[a], b) || slices.Contains(f.cuts[b], a) {
		return fmt.Errorf("dial %s: %w", b, context.DeadlineExceeded)
	}
	if f.unluckyLoss && (f.loss[a] > 0 || f.loss[b] > 0) {
		return fmt.Errorf("dial %s (lost): %w", b, context.DeadlineExceeded)
	}
	return nil
}

func (f *fakeCluster) ProbeLoss(_ context.Context, a, b string, n int) (float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if slices.Contains(f.cuts[a], b) || slices.Contains(f.cuts[b], a) {
		return 0, nil
	}
	return (1 - float64(f.loss[a])/100) * (1 - float64(f.loss[b])/100), nil
}

func (f *fakeCluster) Admin(ctx context.Context, n, method, path string) (int, []byte, error) {
	f.mu.Lock()
	st := f.state[n]
	answers := st == Running || (st == Paused && f.pauseAnswers)
	f.mu.Unlock()
	if st == Paused && !answers {
		<-ctx.Done()
		return 0, nil, ctx.Err()
	}
	if !answers {
		return 0, nil, errRefused
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case path == "/healthz":
		return 200, []byte("ok"), nil
	case path == "/status":
		id, _ := strconv.Atoi(strings.TrimPrefix(n, "n"))
		lid, _ := strconv.Atoi(strings.TrimPrefix(f.leader, "n"))
		role := "StateFollower"
		if n == f.leader {
			role = "StateLeader"
		}
		doc := map[string]any{"node_id": id, "groups": []map[string]any{
			{"name": "__meta", "role": role, "term": f.term, "leader": lid},
		}}
		b, _ := json.Marshal(doc)
		return 200, b, nil
	case strings.HasPrefix(path, "/admin/peer-delay"):
		if method == "POST" {
			ms, err := strconv.Atoi(strings.TrimPrefix(path, "/admin/peer-delay?ms="))
			if err != nil {
				return 400, []byte("bad ms"), nil
			}
			if !f.stickyDelay {
				f.delay[n] = ms
			}
			return 200, nil, nil
		}
		return 200, []byte(fmt.Sprintf(`{"ms":%d}`, f.delay[n])), nil
	}
	return 404, nil, nil
}

// recorder collects nemesis events.
type recorder struct {
	mu  sync.Mutex
	ops []recOp
}

type recOp struct {
	Type, F string
	Value   Value
}

func (r *recorder) Nemesis(typ, f string, value any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Round-trip through JSON, as the harness will, to catch values that
	// do not marshal.
	b, err := json.Marshal(value)
	if err != nil {
		panic(err)
	}
	var v Value
	if err := json.Unmarshal(b, &v); err != nil {
		panic(err)
	}
	r.ops = append(r.ops, recOp{typ, f, v})
}

func (r *recorder) infos() []recOp {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recOp
	for _, o := range r.ops {
		if o.Type == "info" {
			out = append(out, o)
		}
	}
	return out
}

func (f *fakeCluster) CutClients(_ context.Context, n string, cut ClientCut) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("cutclients %s %s", n, cut.Mode)
	if err := f.netOK(n); err != nil {
		return err
	}
	if f.ignoreClient {
		return nil
	}
	if cut.Mode == "" {
		delete(f.client, n)
	} else {
		f.client[n] = cut
	}
	f.clientIn[n] = 0
	return nil
}

func (f *fakeCluster) ClientPacketsIn(_ context.Context, n string) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.client[n]; !ok {
		return 0, fmt.Errorf("no client fault at %s", n)
	}
	return f.clientIn[n], nil
}

func (f *fakeCluster) ProbeClient(_ context.Context, n string, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st := f.state[n]; st != Running && st != Paused {
		return errRefused
	}
	switch f.client[n].Mode {
	case ClientBoth:
		return fmt.Errorf("dial %s: %w", n, context.DeadlineExceeded)
	case ClientResponses:
		f.clientIn[n]++
		return fmt.Errorf("dial %s: %w", n, context.DeadlineExceeded)
	}
	return nil
}

func (f *fakeCluster) ProbeClientLoss(_ context.Context, n string, _ int) (float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.client[n]
	switch c.Mode {
	case ClientBoth, ClientResponses:
		return 0, nil
	case ClientLoss:
		p := float64(c.Percent) / 100
		return (1 - p) * (1 - p), nil
	}
	return 1, nil
}
