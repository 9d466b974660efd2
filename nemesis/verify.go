package nemesis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// Verification bounds. A state change is visible to the engine within a
// second in practice; a restarted broker answers its admin port within a few.
// They are variables so tests can shorten them.
var (
	stateWait = 15 * time.Second
	adminWait = 20 * time.Second
	pollEvery = 100 * time.Millisecond
)

const (
	// connectAttempts bounds the sequential probes of connects: a
	// just-restarted broker needs a moment to listen.
	connectAttempts = 10
	// lossConnectProbes is how many parallel probes connects sends when
	// single ones keep timing out (see connects).
	lossConnectProbes = 200
)

// pauseTimeout is how long an admin request to a paused node must hang
// before the pause counts as proven. A variable so tests can shorten it.
var pauseTimeout = 1500 * time.Millisecond

// waitState polls node's state until ok accepts it or stateWait passes.
func waitState(ctx context.Context, c Cluster, node string, ok func(NodeState) bool) (NodeState, error) {
	ctx, cancel := context.WithTimeout(ctx, stateWait)
	defer cancel()
	var last NodeState
	for {
		st, err := c.State(ctx, node)
		if err == nil {
			last = st
			if ok(st) {
				return st, nil
			}
		}
		if !sleep(ctx, pollEvery) {
			if err != nil {
				return last, fmt.Errorf("state of %s: %w", node, err)
			}
			return last, unverified("%s stayed %q", node, last)
		}
	}
}

// isTimeout reports whether err is a probe or request timing out, the
// signature of silently dropped packets (as opposed to a refusal, which
// means the peer's kernel answered).
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// adminHangs proves a pause at the application level: the kernel still
// completes TCP handshakes for a frozen container, but no process answers,
// so an admin request must time out.
func adminHangs(ctx context.Context, c Cluster, node string) error {
	rctx, cancel := context.WithTimeout(ctx, pauseTimeout)
	defer cancel()
	code, _, err := c.Admin(rctx, node, "GET", "/healthz")
	if err == nil {
		return unverified("paused %s still answered /healthz with %d", node, code)
	}
	if !isTimeout(err) && rctx.Err() == nil {
		return unverified("paused %s: /healthz failed without timing out: %v", node, err)
	}
	return nil
}

// adminAnswers waits until node answers GET /healthz with 200.
func adminAnswers(ctx context.Context, c Cluster, node string) error {
	ctx, cancel := context.WithTimeout(ctx, adminWait)
	defer cancel()
	var last error
	for {
		rctx, rcancel := context.WithTimeout(ctx, statusTimeout)
		code, _, err := c.Admin(rctx, node, "GET", "/healthz")
		rcancel()
		if err == nil && code == 200 {
			return nil
		}
		last = err
		if err == nil {
			last = fmt.Errorf("status %d", code)
		}
		if !sleep(ctx, 2*pollEvery) {
			return unverified("%s did not answer /healthz: %v", node, last)
		}
	}
}

// connects proves that a reaches b. A refusal (the listener is not up yet,
// e.g. a broker just restarted) is retried for a while. Repeated timeouts
// may be packet loss rather than a cut: each handshake then fails with
// probability 1-(1-p)^2, so instead of many slow sequential probes it sends
// lossConnectProbes parallel ones and accepts any that got through (at 50%
// loss on both ends the chance that none does is below 1e-24).
func connects(ctx context.Context, c Cluster, a, b string, timeout time.Duration) error {
	var err error
	timeouts := 0
	for i := 0; i < connectAttempts; i++ {
		if err = c.Probe(ctx, a, b, timeout); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		if isTimeout(err) {
			if timeouts++; timeouts >= 3 {
				break
			}
			continue
		}
		sleep(ctx, 3*pollEvery)
	}
	if !isTimeout(err) {
		return err
	}
	rate, perr := c.ProbeLoss(ctx, a, b, lossConnectProbes)
	if perr != nil {
		return fmt.Errorf("%w (then: %w)", err, perr)
	}
	if rate > 0 {
		return nil
	}
	return fmt.Errorf("none of %d more probes connected either: %w", lossConnectProbes, err)
}

// blocked probes from a to b once and requires the probe to time out: a
// refusal would mean packets got through.
func blocked(ctx context.Context, c Cluster, a, b string, timeout time.Duration) error {
	err := c.Probe(ctx, a, b, timeout)
	if err == nil {
		return fmt.Errorf("%s -> %s connected", a, b)
	}
	if !isTimeout(err) {
		return fmt.Errorf("%s -> %s failed without timing out (%v)", a, b, err)
	}
	return nil
}

// probeMatrix checks every ordered pair of live nodes against g: cut pairs
// must time out, the others must connect. It returns what it saw; the error
// wraps ErrUnverified when a pair disagrees, or when nothing was cut although
// g cuts something (a partition is only proven by a failing probe).
func probeMatrix(ctx context.Context, c Cluster, live []string, g Grudge, timeout time.Duration) (Value, error) {
	type result struct {
		a, b string
		cut  bool
		err  error
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	for _, a := range live {
		for _, b := range live {
			if a == b {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := result{a: a, b: b, cut: g.Cut(a, b)}
				if r.cut {
					r.err = blocked(ctx, c, a, b, timeout)
				} else {
					r.err = connects(ctx, c, a, b, timeout)
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	slices.SortFunc(results, func(x, y result) int { return cmp.Or(cmp.Compare(x.a, y.a), cmp.Compare(x.b, y.b)) })
	// A node can die while the probes run (an armed crash point fires, a
	// power loss completes): its address stops answering and probes to
	// it time out. Such a pair says nothing about the rules.
	ended := map[string]bool{}
	for _, n := range live {
		if !slices.ContainsFunc(results, func(r result) bool { return r.err != nil && (r.a == n || r.b == n) }) {
			continue
		}
		if st, err := c.State(ctx, n); err == nil && st != Running && st != Paused {
			ended[n] = true
		}
	}
	var cut, open, bad, gone []string
	for _, r := range results {
		pair := r.a + "->" + r.b
		switch {
		case r.err != nil && (ended[r.a] || ended[r.b]):
			gone = append(gone, pair)
		case r.err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", pair, r.err))
		case r.cut:
			cut = append(cut, pair)
		default:
			open = append(open, pair)
		}
	}
	v := Value{"probe": "tcp connect to the raft port", "blocked": nonNil(cut), "connected": nonNil(open)}
	if len(live) < 2 {
		v["probe"] = fmt.Sprintf("none: fewer than two live nodes (live %v); the others' rules died with them", live)
	}
	if len(gone) > 0 {
		v["ended_during_probe"] = gone
	}
	if len(bad) > 0 {
		v["mismatch"] = bad
		return v, unverified("probes disagree with the grudge: %v", bad)
	}
	if len(g.Nodes()) > 0 && len(cut) == 0 {
		return v, unverified("no live pair of cut nodes to probe (live %v)", live)
	}
	return v, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// inParallel runs do for 0..n-1 at once and joins their errors: each proof
// of a blocked link or a frozen node waits out a timeout, which one after
// another would add up.
func inParallel(n int, do func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = do(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
