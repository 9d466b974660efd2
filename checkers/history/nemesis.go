package history

import "slices"

// NemesisFamily is one row of the table of nemesis functions: a fault family
// as --nemesis names it, the functions (f) its actions write into the
// history, and what the readers of the table need to know of it. Package
// nemesis records these functions, checkers/windows pairs them into fault
// windows (which the stats checker measures and the report shades), and the
// harness checks --nemesis against the names. Adding a family is one row
// here plus the fault itself in package nemesis.
type NemesisFamily struct {
	// Name is the family in --nemesis and in test.json.
	Name string
	// Start is the f of the action that injects the fault and Stop the f
	// of the action that undoes it. Stop is empty for a family whose
	// actions are instants: staggered-start records one "start" per node
	// and nothing ends it.
	Start, Stop string
	// Label names the family in the report (band colours, the nemesis
	// table).
	Label string
	// Scheduled says the nemesis scheduler starts and stops the family on
	// its seeded timetable. A family that is not scheduled is a phase of
	// the run's setup (staggered-start).
	Scheduled bool
	// Targets says the family's actions aim at some nodes (the target specs
	// one, leader, minority, majority, all) and list them in the value's
	// "nodes": a stop then ends only the windows of the nodes it names.
	// The other families act on the whole cluster, and their stop ends the
	// family's window whatever nodes it lists.
	Targets bool
	// Network says the family installs rules in the nodes' network
	// namespaces (nftables), which a run proves possible before it starts.
	Network bool
	// FaultFS says the family needs the brokers started with --fault-fs
	// (the fault-injection file system under the store): the harness adds
	// the flag to every node of a run that schedules it.
	FaultFS bool
	// Foreign marks a family this harness has no fault for: it exists in
	// histories other tools recorded, and the row only lets their windows
	// be drawn. --nemesis does not accept it.
	Foreign bool
	// StartAliases and StopAliases are the names other tools give the same
	// actions (Jepsen's "start-partition" and "stop-partition"), so that
	// histories recorded elsewhere get their fault windows too. The
	// nemesis never records them.
	StartAliases, StopAliases []string
}

// The rows of the table, one per family, by name for the code that
// records or configures one family.
var (
	NemesisStaggeredStart = NemesisFamily{Name: "staggered-start", Start: "start", Label: "start"}
	NemesisKill           = NemesisFamily{
		Name: "kill", Start: "kill", Stop: "restart", Label: "kill", Scheduled: true, Targets: true,
		StartAliases: []string{"stop", "crash"}, StopAliases: []string{"start", "start-node"},
	}
	NemesisPause = NemesisFamily{
		Name: "pause", Start: "pause", Stop: "resume", Label: "pause", Scheduled: true, Targets: true,
		StopAliases: []string{"unpause"},
	}
	NemesisPartition = NemesisFamily{
		Name: "partition", Start: "partition", Stop: "heal", Label: "partition", Scheduled: true, Network: true,
		StartAliases: []string{"start-partition"}, StopAliases: []string{"heal-partition", "stop-partition"},
	}
	NemesisLoss = NemesisFamily{
		Name: "loss", Start: "loss-start", Stop: "loss-stop", Label: "loss", Scheduled: true, Network: true,
		StartAliases: []string{"loss", "start-loss"}, StopAliases: []string{"heal-loss", "stop-loss"},
	}
	NemesisDelay = NemesisFamily{
		Name: "delay", Start: "delay-start", Stop: "delay-stop", Label: "delay", Scheduled: true,
		StartAliases: []string{"delay", "start-delay"}, StopAliases: []string{"heal-delay", "stop-delay"},
	}
	// NemesisClient cuts or degrades the harness's clients' traffic to
	// target nodes (both ways, responses only, or random loss), leaving
	// the brokers' own links alone.
	NemesisClient = NemesisFamily{
		Name: "client", Start: "client-cut", Stop: "client-heal", Label: "client", Scheduled: true, Targets: true, Network: true,
	}
	// NemesisPowerLoss cuts the power of target nodes: each drops every
	// write no fsync covered and exits (POST /admin/power-loss); its stop
	// starts them again from what is left on disk.
	NemesisPowerLoss = NemesisFamily{
		Name: "power-loss", Start: "power-loss", Stop: "power-on", Label: "power loss", Scheduled: true, Targets: true, FaultFS: true,
	}
	// NemesisCrash arms a crash point in target nodes (POST
	// /admin/crash-points), some with a power loss at the crash; its stop
	// verifies each node died at its point and starts it again.
	NemesisCrash = NemesisFamily{
		Name: "crash", Start: "crash-arm", Stop: "crash-restart", Label: "crash point", Scheduled: true, Targets: true, FaultFS: true,
	}
	// NemesisCorrupt stops one node and damages a stored file (bit flips,
	// a truncated WAL tail, a removed file); its stop starts the node,
	// which must repair a torn tail or refuse the store.
	NemesisCorrupt = NemesisFamily{
		Name: "corrupt", Start: "corrupt", Stop: "corrupt-start", Label: "corrupt", Scheduled: true, Targets: true,
	}
	// NemesisMember changes the cluster's membership: each action is one
	// change (value "op": add, remove or replace), recorded from its
	// request until every live node shows the intended voters, so its
	// window is the change itself. Its "nodes" are the nodes it adds or
	// removes.
	NemesisMember = NemesisFamily{
		Name: "member", Start: "member", Label: "member", Scheduled: true, Targets: true,
		StartAliases: []string{"member-change", "reconfigure"},
	}
	// NemesisClock is Jepsen's clock nemesis. The harness has none: the
	// real-time clock is not namespaced, so skewing it in one container
	// would skew every other (see package nemesis).
	NemesisClock = NemesisFamily{
		Name: "clock", Start: "bump-clock", Stop: "reset-clock", Label: "clock", Foreign: true,
		StartAliases: []string{"clock"}, StopAliases: []string{"clock-reset"},
	}
)

// NemesisFamilies is the table, in canonical order: the order --nemesis
// lists the families in, the scheduler derives each family's random stream
// in, and the report assigns band colours in.
var NemesisFamilies = []NemesisFamily{
	NemesisStaggeredStart, NemesisKill, NemesisPause, NemesisPartition, NemesisLoss, NemesisDelay, NemesisClient,
	NemesisPowerLoss, NemesisCrash, NemesisCorrupt, NemesisMember, NemesisClock,
}

// NemesisHealAll are the functions other tools record for one action that
// heals every fault at once; each ends every open window. The harness's
// final heal records each family's own stop instead.
var NemesisHealAll = []string{"heal-all", "final-heal", "stop-all"}

// NemesisFamilyNamed returns the family called name in --nemesis.
func NemesisFamilyNamed(name string) (NemesisFamily, bool) {
	for _, fam := range NemesisFamilies {
		if fam.Name == name {
			return fam, true
		}
	}
	return NemesisFamily{}, false
}

// NemesisNames lists the families --nemesis accepts (every row but the
// foreign ones), in canonical order.
func NemesisNames() []string {
	var out []string
	for _, fam := range NemesisFamilies {
		if !fam.Foreign {
			out = append(out, fam.Name)
		}
	}
	return out
}

// StartedBy reports whether f injects the family's fault: its Start or one
// of its StartAliases.
func (fam NemesisFamily) StartedBy(f string) bool {
	return f != "" && (f == fam.Start || slices.Contains(fam.StartAliases, f))
}

// StoppedBy reports whether f undoes the family's fault: its Stop or one of
// its StopAliases.
func (fam NemesisFamily) StoppedBy(f string) bool {
	return f != "" && (f == fam.Stop || slices.Contains(fam.StopAliases, f))
}

// NeedFaultFS reports whether any of the named families needs the brokers
// started with --fault-fs.
func NeedFaultFS(names []string) bool {
	for _, n := range names {
		if fam, ok := NemesisFamilyNamed(n); ok && fam.FaultFS {
			return true
		}
	}
	return false
}

// Instant reports whether the family's actions are instants (nothing stops
// them), rather than faults that stay in effect until their stop.
func (fam NemesisFamily) Instant() bool { return fam.Stop == "" }
