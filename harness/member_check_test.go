package harness

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMemberResult: write stalls during membership changes are judged only
// when a majority of the voters before the change was up and no network
// fault was in effect.
func TestMemberResult(t *testing.T) {
	// send completes the invoke just before it, of value i-1.
	send := func(i int, at float64) string {
		return `{"index":` + itoa(i) + `,"time":` + ns(at) + `,"process":0,"type":"ok","f":"send","value":[["send","t/0",[0,` + itoa(i-1) + `]]]}`
	}
	invSend := func(i int, at float64) string {
		return `{"index":` + itoa(i) + `,"time":` + ns(at) + `,"process":0,"type":"invoke","f":"send","value":[["send","t/0",` + itoa(i) + `]]}`
	}
	invSendP1 := func(i int, at float64) string {
		return `{"index":` + itoa(i) + `,"time":` + ns(at) + `,"process":1,"type":"invoke","f":"send","value":[["send","t/1",` + itoa(i) + `]]}`
	}
	member := func(i int, at float64, typ string) string {
		return `{"index":` + itoa(i) + `,"time":` + ns(at) + `,"process":"nemesis","type":"` + typ + `","f":"member","value":{"op":"add","nodes":["n4"],"voters_before":[1,2,3]}}`
	}
	kill := func(i int, at float64, typ, f string) string {
		return `{"index":` + itoa(i) + `,"time":` + ns(at) + `,"process":"nemesis","type":"` + typ + `","f":"` + f + `","value":{"nodes":["n3"]}}`
	}
	sendV := func(i int, at float64, v int) string {
		return `{"index":` + itoa(i) + `,"time":` + ns(at) + `,"process":0,"type":"ok","f":"send","value":[["send","t/0",[0,` + itoa(v) + `]]]}`
	}
	killOf := func(i int, at float64, typ, f, node string) string {
		return `{"index":` + itoa(i) + `,"time":` + ns(at) + `,"process":"nemesis","type":"` + typ + `","f":"` + f + `","value":{"nodes":["` + node + `"]}}`
	}
	part := func(i int, at float64, typ, f string) string {
		return `{"index":` + itoa(i) + `,"time":` + ns(at) + `,"process":"nemesis","type":"` + typ + `","f":"` + f + `","value":{"nodes":["n1","n2","n3"]}}`
	}
	settle := func(i int, at float64, typ, extra string) string {
		return `{"index":` + itoa(i) + `,"time":` + ns(at) + `,"process":"nemesis","type":"` + typ + `","f":"member","value":{"op":"settle","final":true,"nodes":[]` + extra + `}}`
	}
	tests := []struct {
		name      string
		lines     []string
		stall     bool
		unsettled bool
	}{
		{"settled", []string{settle(0, 1, "invoke", ""), settle(1, 2, "info", `,"verified":{"voters":[1,2,3]}`)}, false, false},
		{"unsettled", []string{settle(0, 1, "invoke", ""), settle(1, 2, "info", `,"verified":{"unsettled":"member 6 is joining"}`)}, false, true},
		{"writes go on", []string{member(0, 1, "invoke"), invSend(1, 1.5), send(2, 2), invSend(3, 3), send(4, 4), member(5, 6, "info")}, false, false},
		{"stall with one voter down", []string{kill(0, 0, "invoke", "kill"), kill(1, 0.5, "info", "kill"),
			member(2, 1, "invoke"), invSend(3, 1.5), send(4, 2), invSend(5, 2.5), member(6, 10, "info"), invSendP1(7, 10.5)}, true, false},
		{"stall under a partition is not judged", []string{part(0, 0, "invoke", "partition"), part(1, 0.5, "info", "partition"),
			member(2, 1, "invoke"), invSend(3, 1.5), send(4, 2), invSend(5, 2.5), member(6, 10, "info"), invSendP1(7, 10.5)}, false, false},
		// Two of the three voters were down during the add, n3 from 0
		// to 11.5 s and n2 from 20 to 25.5 s: the stall while only n3
		// was down is judged, one that began while n3 had just come back
		// (within faultGrace) and lasted through n2's kill is not.
		{"stall while the first of two kills held", []string{killOf(0, 0, "invoke", "kill", "n3"), killOf(1, 0.5, "info", "kill", "n3"),
			member(2, 1, "invoke"), invSend(3, 1.5), sendV(4, 2, 3), invSend(5, 2.5),
			killOf(6, 11, "invoke", "restart", "n3"), killOf(7, 11.5, "info", "restart", "n3"),
			sendV(8, 12, 5), invSend(9, 12.5), sendV(10, 13, 9), invSend(11, 13.5),
			killOf(12, 20, "invoke", "kill", "n2"), killOf(13, 20.5, "info", "kill", "n2"),
			killOf(14, 25, "invoke", "restart", "n2"), killOf(15, 25.5, "info", "restart", "n2"),
			sendV(16, 26, 11), member(17, 27, "info"), invSendP1(18, 27.5)}, true, false},
		{"stall across two kills", []string{killOf(0, 0, "invoke", "kill", "n3"), killOf(1, 0.5, "info", "kill", "n3"),
			member(2, 1, "invoke"), invSend(3, 1.5), sendV(4, 2, 3), invSend(5, 2.5), sendV(6, 6, 5), invSend(7, 6.5), sendV(8, 10, 7), invSend(9, 10.5),
			killOf(10, 11, "invoke", "restart", "n3"), killOf(11, 11.5, "info", "restart", "n3"),
			sendV(12, 13, 9), invSend(13, 13.5),
			killOf(14, 20, "invoke", "kill", "n2"), killOf(15, 20.5, "info", "kill", "n2"),
			killOf(16, 25, "invoke", "restart", "n2"), killOf(17, 25.5, "info", "restart", "n2"),
			sendV(18, 26, 13), member(19, 27, "info"), invSendP1(20, 27.5)}, false, false},
		{"the workload ended during the change", []string{member(0, 1, "invoke"), invSend(1, 1.5), send(2, 2), member(3, 9, "info")}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "history.jsonl")
			if err := os.WriteFile(p, []byte(strings.Join(tt.lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			res := memberResult(p)
			if res.Error != "" {
				t.Fatal(res.Error)
			}
			if got := res.Errors[AnomalyMemberStall] != nil; got != tt.stall {
				t.Fatalf("stall reported %v, want %v: %+v", got, tt.stall, res.Fields["list"])
			}
			if got := res.Errors[AnomalyMemberUnsettled] != nil; got != tt.unsettled {
				t.Fatalf("unsettled reported %v, want %v", got, tt.unsettled)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func ns(s float64) string { return strconv.Itoa(int(s * float64(time.Second))) }
