package nemesis

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// dyingDuringProbe is a fake cluster whose node `dies` exits while it is
// probed: its address stops answering (a timeout), as when an armed crash
// point fires during a heal's verification.
type dyingDuringProbe struct {
	*fakeCluster
	dies string
}

func (d *dyingDuringProbe) Probe(ctx context.Context, a, b string, timeout time.Duration) error {
	if b == d.dies || a == d.dies {
		d.mu.Lock()
		d.state[d.dies] = Exited
		d.mu.Unlock()
		return fmt.Errorf("dial %s: %w", b, context.DeadlineExceeded)
	}
	return d.fakeCluster.Probe(ctx, a, b, timeout)
}

// TestProbeMatrixNodeEndedDuringProbe: timeouts to a node that exited while
// the probes ran are set apart, not taken as rules disagreeing with the
// grudge; the same timeouts to a node still running are.
func TestProbeMatrixNodeEndedDuringProbe(t *testing.T) {
	tests := []struct {
		name       string
		staysAlive bool
		wantErr    bool
	}{
		{"node exits during the probes", false, false},
		{"node still running", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(3, Running)
			var c Cluster = &dyingDuringProbe{fakeCluster: f, dies: "n3"}
			if tt.staysAlive {
				c = &stillRunningTimeouts{fakeCluster: f, slow: "n3"}
			}
			v, err := probeMatrix(context.Background(), c, []string{"n1", "n2", "n3"}, Grudge{}, time.Second)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("err = %v, want error %v (verified %v)", err, tt.wantErr, v)
			}
			if tt.wantErr {
				if !errors.Is(err, ErrUnverified) {
					t.Fatalf("err = %v, want ErrUnverified", err)
				}
				return
			}
			if gone, _ := v["ended_during_probe"].([]string); len(gone) != 4 {
				t.Fatalf("ended_during_probe = %v, want the 4 pairs with n3", v["ended_during_probe"])
			}
			if open, _ := v["connected"].([]string); len(open) != 2 {
				t.Fatalf("connected = %v, want n1<->n2", v["connected"])
			}
		})
	}
}

// stillRunningTimeouts times out every probe that involves slow, which
// keeps running: a rule that should not be there.
type stillRunningTimeouts struct {
	*fakeCluster
	slow string
}

func (s *stillRunningTimeouts) Probe(ctx context.Context, a, b string, timeout time.Duration) error {
	if a == s.slow || b == s.slow {
		return fmt.Errorf("dial %s: %w", b, context.DeadlineExceeded)
	}
	return s.fakeCluster.Probe(ctx, a, b, timeout)
}

func (s *stillRunningTimeouts) ProbeLoss(ctx context.Context, a, b string, n int) (float64, error) {
	if a == s.slow || b == s.slow {
		return 0, nil
	}
	return s.fakeCluster.ProbeLoss(ctx, a, b, n)
}

func (d *dyingDuringProbe) ProbeLoss(ctx context.Context, a, b string, n int) (float64, error) {
	if a == d.dies || b == d.dies {
		return 0, nil
	}
	return d.fakeCluster.ProbeLoss(ctx, a, b, n)
}
