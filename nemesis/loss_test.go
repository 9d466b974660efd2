package nemesis

import (
	"fmt"
	"math"
	"testing"
)

// TestLossProofs: every threshold separates the two outcomes it decides
// between by at least four standard deviations of the measured rate, unless
// the probe count hit its cap (tiny percentages).
func TestLossProofs(t *testing.T) {
	sd := func(p float64, n int) float64 { return math.Sqrt(p * (1 - p) / float64(n)) }
	for _, pct := range []int{1, 5, 10, 20, 30, 50, 80, 99} {
		t.Run(fmt.Sprint(pct), func(t *testing.T) {
			p := float64(pct) / 100
			both := (1 - p) * (1 - p)

			th, n := lossProof(pct, DefaultLossProbes)
			if th <= both || th >= 1 {
				t.Errorf("lossProof threshold %.3f not between %.3f and 1", th, both)
			}
			if z := (th - both) / sd(both, n); n < 2000 && z < 3.99 {
				t.Errorf("lossProof: %d probes put the threshold %.2f sd from the lossy rate", n, z)
			}

			th, n = ownLossProof(pct)
			if th <= both || th >= 1-p {
				t.Errorf("ownLossProof threshold %.3f not between %.3f and %.3f", th, both, 1-p)
			}
			zl, zo := (th-both)/sd(both, n), (1-p-th)/sd(1-p, n)
			if n < 2000 && (zl < 3.99 || zo < 3.99) {
				t.Errorf("ownLossProof: %d probes give %.2f and %.2f sd", n, zl, zo)
			}
		})
	}
}
