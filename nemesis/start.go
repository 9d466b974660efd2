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

// StaggeredStart starts the cluster's nodes one by one, in an order drawn
// from rng, waiting gap between starts (0 means DefaultStartGap; a negative
// gap starts them back to back). Each start is a nemesis action (the
// staggered-start row's f in history.NemesisFamilies) verified by the
// container running. It returns early with ctx's error if
// ctx ends, or with the first start that fails.
func StaggeredStart(ctx context.Context, c Cluster, gap time.Duration, rng *rand.Rand, rec Recorder) error {
	rec = orNop(rec)
	if gap == 0 {
		gap = DefaultStartGap
	}
	nodes := c.Nodes()
	order := rng.Perm(len(nodes))
	for i, idx := range order {
		node := nodes[idx]
		if i > 0 && gap > 0 && !sleep(ctx, gap) {
			return fmt.Errorf("staggered start: %w", ctx.Err())
		}
		err := action(ctx, rec, history.NemesisStaggeredStart.Start, Value{"nodes": []string{node}, "order": i + 1}, func(ctx context.Context) (Value, error) {
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
