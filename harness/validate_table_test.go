package harness

import (
	"testing"
	"time"
)

func TestNemesesText(t *testing.T) {
	tests := []struct {
		row  ValidateRow
		want string
	}{
		{ValidateRow{Nemesis: []string{"partition", "kill"}, Targets: []string{"leader"}, Grudges: []string{"isolate-leader"}},
			"partition(isolate-leader)+kill(leader)"},
		{ValidateRow{Nemesis: []string{"kill", "pause", "loss"}, Targets: []string{"one", "majority"}, LossPercent: 30, Interval: 5 * time.Second},
			"kill(one/majority)+pause(one/majority)+loss(30%), every ~5s"},
		{ValidateRow{Nemesis: []string{"staggered-start"}, StartGap: 8 * time.Second, Interval: time.Second},
			"staggered-start(gap 8s)"},
		{ValidateRow{Nemesis: []string{"delay"}}, "delay"},
		{ValidateRow{Nemesis: []string{"client"}, Targets: []string{"leader"}, ClientModes: []string{"responses"}, Producers: []string{"idempotent-inflight"}, Interval: 4 * time.Second},
			"client(leader, responses), every ~4s; producers idempotent-inflight"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := nemesesText(tt.row); got != tt.want {
				t.Errorf("nemesesText = %q, want %q", got, tt.want)
			}
		})
	}
}
