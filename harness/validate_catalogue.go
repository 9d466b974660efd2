package harness

import (
	"slices"
	"strconv"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
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
	// ClientModes are the client fault modes drawn (empty: all), and
	// Producers the producer kinds (empty: all).
	ClientModes []string
	Producers   []string
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
			Name: "dedup-last-batch", Bug: "--unsafe-dedup-last-batch", BrokerArgs: []string{"--unsafe-dedup-last-batch"},
			// Only a producer with several batches in flight whose
			// responses are lost retries a batch older than its last:
			// responses-only client cuts of partition leaders, and
			// producers that keep up to five requests in flight.
			Workload: WorkloadQueue, Nemesis: []string{nemesis.FamilyClient},
			Targets: []string{nemesis.TargetLeader}, LeaderGroup: nemesis.AnyGroup,
			ClientModes: []string{nemesis.ClientResponses}, Producers: []string{history.ProducerIdempotentInflight},
			Interval: 4 * time.Second, TimeLimit: tl(60*time.Second, 20*time.Second),
			Expect: "duplicate",
			// 20 s runs caught it 5 of 5 times (seeds 1-5, first anomaly
			// at 9.6-12.2 s), so the short row is in make test.
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
		{
			Name: "direct-conf-change", Bug: "--unsafe-direct-conf-change", BrokerArgs: []string{"--unsafe-direct-conf-change"},
			// Every replace swaps two voters in one configuration change;
			// the seeded broker applies it without the joint step, and
			// each node logs the configuration before and after, which
			// the raft-safety checker judges by Raft's rule. Half the
			// member actions are replaces.
			Workload: WorkloadQueue, Nemesis: []string{nemesis.FamilyMember},
			Interval: 4 * time.Second, TimeLimit: tl(60*time.Second, 30*time.Second),
			Expect:   "unsafe-conf-change (raft-safety)",
			Extended: true,
		},
		{
			Name: "promote-early", Bug: "--unsafe-promote-early", BrokerArgs: []string{"--unsafe-promote-early"},
			// A voter promoted before it caught up counts in quorums it
			// cannot serve: harmless while every old voter is up, a stall
			// of every group once one is down (a kill) until the new node,
			// started JoinDelay after it was added, has caught up. The
			// membership checker judges write stalls during changes made
			// with a majority of the old voters up.
			Workload: WorkloadQueue, Nemesis: []string{nemesis.FamilyKill, nemesis.FamilyMember},
			Targets:  []string{nemesis.TargetOne},
			Interval: 5 * time.Second, TimeLimit: 90 * time.Second,
			Expect:        "member-stall (membership)",
			Probabilistic: true,
			Extended:      true,
		},
	}
	rows = append(rows,
		ValidateRow{
			Name: "follower-local-reads", Bug: "--unsafe-follower-local-reads", BrokerArgs: []string{"--unsafe-follower-local-reads"},
			// Only reads sent to a follower see it: the log workload sends
			// half its reads to other nodes than the leader, and a node
			// cut off by the partition (or just restarted) serves its old
			// copy. Even without a fault a follower applies a moment
			// after the leader acknowledges.
			Workload: WorkloadLog, Nemesis: []string{nemesis.FamilyPartition, nemesis.FamilyKill},
			Targets: []string{nemesis.TargetOne}, Grudges: []string{nemesis.GrudgeOne},
			// 20 s runs caught it 3 of 3 times (first anomaly 2.8-6 s),
			// so it is a short row too.
			Interval: 6 * time.Second, TimeLimit: tl(60*time.Second, 20*time.Second),
			Expect: "nonlinearizable",
		},
		ValidateRow{
			Name: "offset-ack-before-commit", Bug: "--unsafe-offset-ack-before-commit", BrokerArgs: []string{"--unsafe-offset-ack-before-commit"},
			// A coordinator (the __meta leader, the isolate-leader
			// grudge's default group) cut off from its quorum keeps
			// answering commits until CheckQuorum makes it step down;
			// Kafka promises that an acknowledged commit survives the
			// coordinator's failover, and the clients read every other
			// acknowledged commit back (readBack) until the group's
			// current coordinator answers. Partitions only, and often:
			// each isolation is one failover, while a kill of the
			// leader besides left the cluster without any quorum when
			// the isolation followed it, and the clients stalled on
			// their timeouts through both (caught 1 of 3 in 20 s and 30 s
			// runs with partition,kill every ~6 s; this way, and with the
			// read-back, 3 of 3 30 s runs, first anomaly at 4.8-5.7 s).
			// Still marked probabilistic: a loss needs a commit in the
			// moment before the step-down.
			Workload: WorkloadQueue, Nemesis: []string{nemesis.FamilyPartition},
			Grudges:  []string{nemesis.GrudgeIsolateLeader},
			Interval: 3 * time.Second, TimeLimit: tl(60*time.Second, 20*time.Second),
			Expect: "lost-commit, join-reread (offsets)", Extended: true, Probabilistic: true,
		},
	)
	rows = append(rows, durabilityRows(tl)...)
	rows = append(rows, txnRows(tl)...)
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
		{nemesis.FamilyLoss}, {nemesis.FamilyDelay}, {nemesis.FamilyClient},
		// The durability families, with kill and partition, power loss
		// of every node at once included.
		{nemesis.FamilyPowerLoss, nemesis.FamilyCrash, nemesis.FamilyCorrupt, nemesis.FamilyKill, nemesis.FamilyPartition},
		// The mix the membership bugs are hunted with.
		{nemesis.FamilyMember, nemesis.FamilyKill, nemesis.FamilyPartition},
		{nemesis.FamilyKill, nemesis.FamilyPause, nemesis.FamilyPartition, nemesis.FamilyLoss, nemesis.FamilyDelay, nemesis.FamilyClient},
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
		rows = append(rows, ValidateRow{
			Name: "correct-" + controlName(fam), Control: true, Runs: runs,
			Workload: workload, Nemesis: fam, LeaderGroup: nemesis.AnyGroup,
			Interval: 8 * time.Second, TimeLimit: tl(90*time.Second, 40*time.Second),
		})
	}
	// The correct broker under the txn workload: every family, as many
	// runs again as the other workloads get (at least one per family).
	txnRuns := max(correctRuns, len(families))
	for i, fam := range families {
		runs := txnRuns / len(families)
		if i < txnRuns%len(families) {
			runs++
		}
		rows = append(rows, ValidateRow{
			Name: "correct-txn-" + controlName(fam), Control: true, Runs: runs,
			Workload: WorkloadTxn, Nemesis: fam, LeaderGroup: nemesis.AnyGroup,
			Interval: 8 * time.Second, TimeLimit: tl(60*time.Second, 20*time.Second),
		})
	}
	return rows
}

// txnRows are the seeded transaction bugs, run with the txn workload.
func txnRows(tl func(full, short time.Duration) time.Duration) []ValidateRow {
	return []ValidateRow{
		{
			Name: "txn-lso-is-hw", Bug: "--unsafe-lso-is-hw", BrokerArgs: []string{"--unsafe-lso-is-hw"},
			// read_committed served up to the high watermark shows the
			// records of open transactions. The workload's aborts on
			// purpose hold their records open for up to 150 ms, so other
			// readers see values that then abort (G1a), and a transaction
			// that polls a key it sent to sees its own send
			// (precommitted-read). No fault is needed; pauses vary the
			// timing.
			Workload: WorkloadTxn, Nemesis: []string{nemesis.FamilyPause},
			Interval: 6 * time.Second, TimeLimit: tl(60*time.Second, 20*time.Second),
			// 20 s runs were caught 3 of 3 (first anomaly 1.8-2.7 s).
			Expect: "G1a, precommitted-read",
		},
		{
			Name: "txn-commit-before-markers", Bug: "--unsafe-commit-before-markers", BrokerArgs: []string{"--unsafe-commit-before-markers"},
			// The commit is acknowledged while its markers are only
			// proposed: a marker lost to a leader change or a cut
			// between the coordinator and a partition's leader is never
			// rewritten, and the next marker of the producer on that
			// partition (an abort) decides the committed records too,
			// or none comes and the partition's last stable offset
			// stays behind them.
			Workload: WorkloadTxn, Nemesis: []string{nemesis.FamilyPartition, nemesis.FamilyKill},
			Targets: []string{nemesis.TargetLeader}, Grudges: []string{nemesis.GrudgeIsolateLeader, nemesis.GrudgeOne}, LeaderGroup: nemesis.AnyGroup,
			Interval: 3 * time.Second, TimeLimit: 90 * time.Second,
			Expect: "lost-write, unseen", Extended: true, Probabilistic: true,
		},
		{
			Name: "txn-no-txn-verification", Bug: "--unsafe-no-txn-verification", BrokerArgs: []string{"--unsafe-no-txn-verification"},
			// A transactional batch that reaches a partition after its
			// transaction ended is appended into the producer's next
			// one. The workload's late batches (txn_late.go: a send of
			// an aborted transaction delivered after the abort, with the
			// producer's next sequence number) are exactly that; pauses
			// and peer delays vary when they land relative to the
			// markers and the next transaction.
			// 20 s runs were caught 3 of 3 (first anomaly 11.5-20.9 s
			// of history), so the short run is 20 s.
			Workload: WorkloadTxn, Nemesis: []string{nemesis.FamilyPause, nemesis.FamilyDelay},
			Targets: []string{nemesis.TargetLeader, nemesis.TargetOne}, LeaderGroup: nemesis.AnyGroup,
			Interval: 3 * time.Second, TimeLimit: tl(90*time.Second, 20*time.Second),
			Expect: "G1a, inconsistent-offsets, lost-write, unseen",
		},
	}
}

// controlName names a control row by its families: the family alone, the
// mix by what it hunts (durability, member), or "all".
func controlName(fam []string) string {
	switch {
	case slices.Contains(fam, nemesis.FamilyPowerLoss):
		return "durability"
	case slices.Contains(fam, nemesis.FamilyMember):
		return "member"
	}
	return joinPlus(fam)
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
		// runs of 60 s with a power loss every ~6 s).
		probabilistic bool
		// interval between the power loss and the power on, and between
		// the power on and the next loss.
		interval time.Duration
	}{
		// Acknowledged writes were on no disk: power lost on every node at
		// once, they are gone from every copy.
		{"no-fsync", "--unsafe-no-fsync", "inconsistent-offsets, unseen, replica-lost-write; term-regression (raft-safety)", false, 6 * time.Second},
		// A Ready's entries are applied and answered before they are
		// durable on the leader: a power loss of every node takes back
		// what was applied. Each power loss is one draw (half of them
		// tear the WAL's unsynced tail, which may fall between an apply
		// batch and the commit index saved after it); with a loss every
		// ~6 s (four per run) 2 of 3 runs were caught, about one loss in
		// four, so the losses come twice as often: 3 of 3 runs caught
		// (a node refused its store 17.0, 40.2 and 46.0 s in).
		{"apply-before-save", "--unsafe-apply-before-save", "node-exited: a node refuses its store after the power loss (applied index beyond its commit index)", true, 3 * time.Second},
	} {
		rows = append(rows, ValidateRow{
			Name: b.name, Bug: b.flag, BrokerArgs: []string{b.flag},
			Workload: WorkloadQueue, Nemesis: []string{nemesis.FamilyPowerLoss},
			Targets:  []string{nemesis.TargetAll},
			Interval: b.interval, TimeLimit: tl(60*time.Second, 30*time.Second),
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
		//
		// Two leaders of one term need a second candidate that never
		// heard the first one's vote request: a bridge partition (two
		// sides that cannot talk, joined by one node) keeps one side's
		// term behind. The power loss aims at a node that has just
		// voted and knows no leader yet (target voter; packet loss
		// stretches that window): the bridge, lost right after voting
		// for one side, comes back with its vote forgotten and can
		// vote for the other side in the same term. The first leader
		// took writes before it lost its quorum; when it later follows
		// the second leader of its own term, entries at the same index
		// and term are taken as equal, so it keeps its own records
		// where the second leader committed others. Measured (README,
		// "the voter target"): raft-safety caught 8/8 runs, the history
		// checkers none; a power loss takes seconds to come back, far
		// longer than the election timeout, so the chain above was not
		// completed in any run.
		Name: "forget-hardstate-power-loss", Bug: "--unsafe-forget-hardstate", BrokerArgs: []string{"--unsafe-forget-hardstate"},
		Workload: WorkloadQueue, Nemesis: []string{nemesis.FamilyPowerLoss, nemesis.FamilyPartition, nemesis.FamilyLoss},
		Targets: []string{nemesis.TargetVoter}, Grudges: []string{nemesis.GrudgeBridge}, LossPercent: 35,
		Interval: time.Second, TimeLimit: 90 * time.Second,
		Expect:   "lost-vote, term-regression (raft-safety); aimed at replica-divergence, lost-write in the history (not seen yet)",
		Extended: true, Probabilistic: true,
	})
	return rows
}
