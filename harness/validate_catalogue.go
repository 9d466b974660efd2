package harness

import (
	"slices"
	"strconv"
	"time"

	"github.com/chronik-chaos/chronik/nemesis"
)

// ValidateRow is one line of `chaos validate`'s catalogue: a seeded broker
// bug (or the correct broker) run with the workload and faults that should
// expose it. Zero fields keep DefaultConfig's values.
type ValidateRow struct {
	// Name identifies the row for --rows and names its tests
	// ("validate-<name>").
	Name string
	// Bug is the seeded-bug flag as the table shows it; empty for the
	// correct broker.
	Bug string
	// BrokerArgs are passed to every node (the bug's flag).
	BrokerArgs []string
	Workload   string
	Nemesis    []string
	Targets    []string
	Grudges    []string
	// LeaderGroup aims the leader target and the isolate-leader grudge.
	LeaderGroup string
	Interval    time.Duration
	TimeLimit   time.Duration
	StartGap    time.Duration
	LossPercent int
	// Control marks the correct broker: any verdict but valid is a false
	// alarm.
	Control bool
	// Runs is the number of runs (seeds) of a control row; bug rows run
	// ValidateOptions.Seeds times.
	Runs int
	// Expect names the anomalies the bug should produce, for the note.
	Expect string
	// Probabilistic marks a bug whose exposure depends on a fault landing
	// in a narrow window, so a single short run may miss it (the note says
	// so; the make-test check reports such a row instead of failing on it).
	Probabilistic bool
	// Extended marks a row that --short (the make-test check) leaves
	// out to keep `make test` within its time budget; the full
	// catalogue (`chaos validate`, the nightly) always runs it. Its bug
	// is then also shown by an in-process broker test.
	Extended bool
	// Contrast marks a row that runs a bug under a fault that is not
	// expected to expose it, to show why another fault exists (no-fsync
	// under plain kill: the page cache survives a SIGKILL). Its caught
	// count is shown but asked for by nothing (AllCaught skips it).
	Contrast bool
}

// Registration patience of the broker (broker/cluster/registration.go):
// attempt k fails, then it sleeps min(100ms * 2^(k-1), 2s); a node alone
// fails each attempt at once ("no leader available"), so the node gives up
// after the sum of the first N-1 sleeps, plus up to 2 s per attempt when a
// proposal hangs instead of failing.
func registrationPatience(attempts int) (fast, slow time.Duration) {
	backoff := 100 * time.Millisecond
	for k := 1; k < attempts; k++ {
		fast += backoff
		backoff = min(2*backoff, 2*time.Second)
	}
	return fast, fast + time.Duration(attempts)*2*time.Second
}

// registrationGap is the staggered start's gap for the registration bug:
// longer than the patience of a node alone (which fails fast, there being
// no leader to propose to) by a margin of 8 s, so that each node gives up
// before the next one starts.
func registrationGap(attempts int) time.Duration {
	fast, _ := registrationPatience(attempts)
	return fast + 8*time.Second
}

// Catalogue returns the rows of `chaos validate`: the seeded broker bugs
// (the broker's --unsafe-* flags), each with the nemeses that expose it,
// and the correct broker under every fault family (correctRuns runs spread
// over the families, at least one each). Short rows (make test) use shorter runs and, for the registration
// bug, a smaller attempt budget so that its staggered start takes about a
// minute instead of three (the mistake, giving up after N attempts, is the
// same).
func Catalogue(short bool, correctRuns int) []ValidateRow {
	tl := func(full, shortTL time.Duration) time.Duration {
		if short {
			return shortTL
		}
		return full
	}
	regAttempts := 30
	if short {
		regAttempts = 12
	}
	regFlag := "--unsafe-registration-attempts=" + strconv.Itoa(regAttempts)
	rows := []ValidateRow{
		{
			Name: "ack-before-commit", Bug: "--unsafe-ack-before-commit", BrokerArgs: []string{"--unsafe-ack-before-commit"},
			Workload: WorkloadQueue, Nemesis: []string{nemesis.FamilyPartition, nemesis.FamilyKill},
			Targets: []string{nemesis.TargetLeader}, Grudges: []string{nemesis.GrudgeIsolateLeader}, LeaderGroup: nemesis.AnyGroup,
			Interval: 6 * time.Second, TimeLimit: tl(90*time.Second, 40*time.Second),
			Expect: "lost-write, nonlinearizable",
		},
		{
			Name: "stale-reads", Bug: "--unsafe-stale-reads", BrokerArgs: []string{"--unsafe-stale-reads"},
			Workload: WorkloadLog, Nemesis: []string{nemesis.FamilyPartition},
			Targets: []string{nemesis.TargetLeader}, Grudges: []string{nemesis.GrudgeIsolateLeader, nemesis.GrudgeOne}, LeaderGroup: nemesis.AnyGroup,
			Interval: 6 * time.Second, TimeLimit: tl(90*time.Second, 40*time.Second),
			Expect: "nonlinearizable",
		},
		{
			Name: "uncommitted-reads", Bug: "--unsafe-uncommitted-reads", BrokerArgs: []string{"--unsafe-uncommitted-reads"},
			Workload: WorkloadQueue, Nemesis: []string{nemesis.FamilyPartition},
			Grudges: []string{nemesis.GrudgeIsolateLeader}, LeaderGroup: nemesis.AnyGroup,
			Interval: 6 * time.Second, TimeLimit: tl(90*time.Second, 40*time.Second),
			Expect: "G1a, inconsistent-offsets, lost-write",
		},
		{
			Name: "no-dedup", Bug: "--unsafe-no-dedup", BrokerArgs: []string{"--unsafe-no-dedup"},
			Workload: WorkloadQueue, Nemesis: []string{nemesis.FamilyKill, nemesis.FamilyPartition, nemesis.FamilyLoss},
			Targets: []string{nemesis.TargetLeader}, Grudges: []string{nemesis.GrudgeIsolateLeader, nemesis.GrudgeOne}, LeaderGroup: nemesis.AnyGroup,
			LossPercent: 30,
			Interval:    6 * time.Second, TimeLimit: tl(90*time.Second, 40*time.Second),
			Expect: "duplicate",
		},
		{
			Name: "registration-attempts", Bug: regFlag, BrokerArgs: []string{regFlag},
			Workload: WorkloadQueue, Nemesis: []string{nemesis.FamilyStaggeredStart},
			StartGap: registrationGap(regAttempts), TimeLimit: 30 * time.Second,
			Expect: "node-exited (liveness)",
		},
		{
			Name: "forget-hardstate", Bug: "--unsafe-forget-hardstate", BrokerArgs: []string{"--unsafe-forget-hardstate"},
			// A forgotten vote or term matters only if the node restarts
			// between persisting it and receiving the new leader's first
			// entry. Frequent kills open that window often; packet loss
			// (TCP retransmission stalls) keeps it open for hundreds of
			// milliseconds instead of one round trip. Killing all nodes at
			// once leaves no pair for loss and was caught less often.
			Workload: WorkloadQueue, Nemesis: []string{nemesis.FamilyKill, nemesis.FamilyLoss},
			Targets: []string{nemesis.TargetOne, nemesis.TargetMinority, nemesis.TargetMajority}, LeaderGroup: nemesis.AnyGroup,
			LossPercent: 35,
			// Its first anomaly came 16 s and 55 s into the history in the two
			// 90 s runs measured first; a 60 s short run missed it once, so
			// the short run keeps the full 90 s.
			Interval: time.Second, TimeLimit: 90 * time.Second,
			Expect:        "term-regression or election-safety (raft-safety), then lost-write, inconsistent-offsets",
			Probabilistic: true,
		},
		{
			Name: "snapshot-stale-state", Bug: "--unsafe-snapshot-stale-state", BrokerArgs: []string{"--unsafe-snapshot-stale-state"},
			// Only a node that catches up by snapshot installs the stale
			// state: kills and cuts of one node at a time keep the others
			// writing at full rate while it is away, so it returns far
			// behind the compaction point (the runs' low snapshot
			// thresholds). The replicas checker compares its copy with
			// the others after the final heal.
			Workload: WorkloadQueue, Nemesis: []string{nemesis.FamilyKill, nemesis.FamilyPartition},
			Targets: []string{nemesis.TargetOne}, Grudges: []string{nemesis.GrudgeOne},
			// 20 s runs installed 3-7 snapshots and were caught 3 of 3
			// times (40 s: 3 of 3 too), so the short run is 20 s.
			Interval: 6 * time.Second, TimeLimit: tl(90*time.Second, 20*time.Second),
			Expect: "replica-divergence, replica-lost-write (replicas)",
		},
	}
	rows = append(rows, durabilityRows(tl)...)
	if short {
		kept := rows[:0]
		for _, r := range rows {
			if !r.Extended {
				kept = append(kept, r)
			}
		}
		rows = kept
	}
	families := [][]string{
		{nemesis.FamilyKill}, {nemesis.FamilyPause}, {nemesis.FamilyPartition},
		{nemesis.FamilyLoss}, {nemesis.FamilyDelay},
		// The durability families, with kill and partition, power loss
		// of every node at once included.
		{nemesis.FamilyPowerLoss, nemesis.FamilyCrash, nemesis.FamilyCorrupt, nemesis.FamilyKill, nemesis.FamilyPartition},
		{nemesis.FamilyKill, nemesis.FamilyPause, nemesis.FamilyPartition, nemesis.FamilyLoss, nemesis.FamilyDelay},
	}
	if short {
		// One run of the correct broker with every family together.
		families = families[len(families)-1:]
		correctRuns = 1
	}
	for i, fam := range families {
		runs := correctRuns / len(families)
		if i < correctRuns%len(families) {
			runs++
		}
		if runs == 0 {
			continue
		}
		workload := WorkloadQueue
		if i%2 == 1 {
			// Half the families also check linearizability of reads.
			workload = WorkloadLog
		}
		name := "correct-" + joinPlus(fam)
		if slices.Contains(fam, nemesis.FamilyPowerLoss) {
			name = "correct-durability"
		}
		rows = append(rows, ValidateRow{
			Name: name, Control: true, Runs: runs,
			Workload: workload, Nemesis: fam, LeaderGroup: nemesis.AnyGroup,
			Interval: 8 * time.Second, TimeLimit: tl(90*time.Second, 40*time.Second),
		})
	}
	return rows
}

func joinPlus(s []string) string {
	if len(s) > 1 {
		return "all"
	}
	if len(s) == 0 {
		return "none"
	}
	return s[0]
}

// durabilityRows are the seeded durability bugs, each under power-loss,
// which must catch it, and under plain kill, which must not (a SIGKILLed
// container keeps the page cache, so writes never fsynced survive it: the
// reason the power-loss fault exists). The correct broker runs under them
// in Catalogue's families (correct-durability).
func durabilityRows(tl func(full, short time.Duration) time.Duration) []ValidateRow {
	var rows []ValidateRow
	for _, b := range []struct {
		name, flag, expect string
		// probabilistic: the bug shows only when a power loss lands
		// between an apply and the save of its Ready (caught 2 of 3
		// runs of 60 s).
		probabilistic bool
	}{
		// Acknowledged writes were on no disk: power lost on every node at
		// once, they are gone from every copy.
		{"no-fsync", "--unsafe-no-fsync", "inconsistent-offsets, unseen, replica-lost-write; term-regression (raft-safety)", false},
		// A Ready's entries are applied and answered before they are
		// durable on the leader: a power loss of every node takes back
		// what was applied.
		{"apply-before-save", "--unsafe-apply-before-save", "node-exited: a node refuses its store after the power loss (applied index beyond its commit index)", true},
	} {
		rows = append(rows, ValidateRow{
			Name: b.name, Bug: b.flag, BrokerArgs: []string{b.flag},
			Workload: WorkloadQueue, Nemesis: []string{nemesis.FamilyPowerLoss},
			Targets:  []string{nemesis.TargetAll},
			Interval: 6 * time.Second, TimeLimit: tl(60*time.Second, 30*time.Second),
			Expect: b.expect, Extended: true, Probabilistic: b.probabilistic,
		}, ValidateRow{
			Name: b.name + "-kill", Bug: b.flag, BrokerArgs: []string{b.flag},
			Workload: WorkloadQueue, Nemesis: []string{nemesis.FamilyKill},
			Targets:  []string{nemesis.TargetAll},
			Interval: 6 * time.Second, TimeLimit: tl(60*time.Second, 30*time.Second),
			Expect: "nothing: a SIGKILL keeps the page cache, so what was written but not fsynced survives", Extended: true, Contrast: true,
		})
	}
	rows = append(rows, ValidateRow{
		// Under power loss a forgotten vote is forgotten by the disk as
		// well as by the broker: whether the history (not only the
		// raft-safety log check) now shows it.
		Name: "forget-hardstate-power-loss", Bug: "--unsafe-forget-hardstate", BrokerArgs: []string{"--unsafe-forget-hardstate"},
		Workload: WorkloadQueue, Nemesis: []string{nemesis.FamilyPowerLoss, nemesis.FamilyLoss},
		Targets: []string{nemesis.TargetOne, nemesis.TargetMinority, nemesis.TargetMajority}, LossPercent: 35,
		Interval: 2 * time.Second, TimeLimit: 90 * time.Second,
		Expect:   "term-regression or election-safety (raft-safety); lost-write or inconsistent-offsets in the history",
		Extended: true, Probabilistic: true,
	})
	return rows
}
