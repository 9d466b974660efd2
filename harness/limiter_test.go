package harness

import (
	"context"
	"testing"
	"time"
)

// BenchmarkLimiterOverhead measures the cost of one pacing decision at a
// rate high enough that nobody ever sleeps.
func BenchmarkLimiterOverhead(b *testing.B) {
	b.ReportAllocs()
	l := newLimiter(1e12)
	ctx := context.Background()
	for b.Loop() {
		l.wait(ctx)
	}
}

func TestLimiterSlots(t *testing.T) {
	t0 := time.Unix(1000, 0)
	cases := []struct {
		name string
		// stall is how long nobody asked for a slot before the burst.
		stall time.Duration
		// wantImmediate is how many of the burst's slots are due at once.
		wantImmediate int
	}{
		{name: "steady", stall: 0, wantImmediate: 1},
		{name: "short stall is made up", stall: 100 * time.Millisecond, wantImmediate: 101},
		{name: "long stall makes up at most maxLag", stall: 10 * time.Second, wantImmediate: int(maxLag/time.Millisecond) + 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLimiter(1000) // 1 ms slots
			l.reserve(t0)
			now := t0.Add(time.Millisecond + tc.stall)
			immediate := 0
			for range 1000 {
				if !l.reserve(now).After(now) {
					immediate++
				}
			}
			if immediate != tc.wantImmediate {
				t.Errorf("%d slots due at once, want %d", immediate, tc.wantImmediate)
			}
		})
	}
}
