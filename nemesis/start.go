package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// DefaultStartGap separates node starts in StaggeredStart. It is longer
// than any registration patience of the broker, so a node that starts alone
// must survive a stretch without quorum.
const DefaultStartGap = 4 * time.Second

// DefaultLongStartGap is the long gap of a staggered start: longer than a
// minute, so that the nodes started before it (fewer than a majority) wait
// without quorum for longer than a broker's registration patience with
// --unsafe-registration-attempts=30 (about 51 s, broker/cluster/registration.go),
// as the contract's "gaps longer than the broker's registration patience"
// asks of every run.
const DefaultLongStartGap = 65 * time.Second

// StartGaps draws the waits of a staggered start of n nodes: gaps[i] is
// the wait before the i-th start (gaps[0] is 0). Every wait is gap, except
// that, when long is positive, one wait drawn among those before a
// majority has started is long: the nodes already up are then without
// quorum for that long.
func StartGaps(n int, gap, long time.Duration, rng *rand.Rand) []time.Duration {
	gaps := make([]time.Duration, n)
	for i := 1; i < n; i++ {
		gaps[i] = gap
	}
	if long > 0 && n >= 2 {
		// Before start k (1 <= k < majority) only k nodes run.
		k := 1 + rng.IntN(max(1, majority(n)-1))
		gaps[k] = max(long, gap)
	}
	return gaps
}

// StaggeredStart starts the cluster's nodes one by one, in an order drawn
// from rng, waiting gap between starts (0 means DefaultStartGap; a negative
// gap starts them back to back). Each start is a nemesis action (the
// staggered-start row's f in history.NemesisFamilies) verified by the
// container running. It returns early with ctx's error if
// ctx ends, or with the first start that fails.
func StaggeredStart(ctx context.Context, c Cluster, gap time.Duration, rng *rand.Rand, rec Recorder) error {
	return StaggeredStartLong(ctx, c, gap, 0, rng, rec)
}

// StaggeredStartLong is StaggeredStart with one long wait (see StartGaps;
// 0: none) before a majority has started. Each start records the wait
// before it ("after").
func StaggeredStartLong(ctx context.Context, c Cluster, gap, long time.Duration, rng *rand.Rand, rec Recorder) error {
	rec = orNop(rec)
	if gap == 0 {
		gap = DefaultStartGap
	}
	nodes := c.Nodes()
	order := rng.Perm(len(nodes))
	gaps := StartGaps(len(nodes), max(gap, 0), long, rng)
	for i, idx := range order {
		node := nodes[idx]
		if i > 0 && gaps[i] > 0 && !sleep(ctx, gaps[i]) {
			return fmt.Errorf("staggered start: %w", ctx.Err())
		}
		v := Value{"nodes": []string{node}, "order": i + 1}
		if i > 0 {
			v["after"] = gaps[i].String()
		}
		err := action(ctx, rec, history.NemesisStaggeredStart.Start, v, func(ctx context.Context) (Value, error) {
			if err := c.Start(ctx, node); err != nil {
				return nil, fmt.Errorf("start %s: %w", node, err)
			}
			st, err := waitState(ctx, c, node, func(st NodeState) bool { return st == Running })
			return Value{"state": string(st)}, err
		})
		if err != nil {
			return fmt.Errorf("staggered start: %w", err)
		}
	}
	return nil
}
