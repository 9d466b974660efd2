package nemesis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// powerLossFault cuts the power of target nodes (start) and switches them
// on again (stop). A SIGKILLed container keeps the page cache, so a kill
// never loses a write the broker made but did not fsync; a power loss does.
// Each target runs on the broker's fault-injection file system
// (--fault-fs), which recorded what every fsync and directory sync
// covered: POST /admin/power-loss removes everything else from the disk
// (tearing the last unsynced write of a file at a point drawn from the
// tear seed, when one is given) and exits with code 4. Several targets lose
// their power together: the requests go out at once, so with target "all"
// no node keeps a copy the others lost, the case Raft's durability rests
// on (a write acknowledged by a majority must be on a majority's disks).
//
// Verification: the answer (or, when the connection died first, the
// node's log line) says what was dropped, the container exits with code 4,
// and the stop proves it runs again. What was dropped per node goes into
// the info's "dropped", which the coverage section sums.
type powerLossFault struct{ nodeFault }

func newPowerLossFault() fault {
	return &powerLossFault{nodeFault{fam: history.NemesisPowerLoss, held: held{}}}
}

// PowerLossDrop is what a power loss dropped on one node: the broker's
// answer (broker/admin PowerLossAnswer), recorded in the history under
// "dropped".
type PowerLossDrop struct {
	BytesDropped   int64  `json:"bytes_dropped"`
	FilesTruncated int    `json:"files_truncated"`
	FilesRemoved   int    `json:"files_removed"`
	RenamesUndone  int    `json:"renames_undone"`
	RemovesUndone  int    `json:"removes_undone"`
	TornWrites     int    `json:"torn_writes"`
	TearSeed       *int64 `json:"tear_seed,omitempty"`
	Error          string `json:"error,omitempty"`
	// Source says where the figures come from: "answer" or "log".
	Source string `json:"source"`
}

func (p *powerLossFault) start(ctx context.Context, s *Scheduler, rec Recorder) error {
	sc, nodes, v, err := s.storeTargets(ctx, rec, p.fam.Start)
	if err != nil || len(nodes) == 0 {
		return err
	}
	// Half the losses tear the last unsynced write of each file instead
	// of dropping it whole (a sector written, the next not).
	seeds := map[string]*int64{}
	for _, n := range nodes {
		if s.pick.IntN(2) == 0 {
			seed := s.pick.Int64N(1 << 31)
			seeds[n] = &seed
		}
	}
	return action(ctx, rec, p.fam.Start, v, func(ctx context.Context) (Value, error) {
		for _, n := range nodes {
			p.held[n] = true
			sc.ExpectExit(n, ExitPowerLoss)
		}
		dropped, codes := Value{}, Value{}
		verified := Value{"dropped": dropped, "exit_code": codes}
		var mu sync.Mutex
		err := inParallel(len(nodes), func(i int) error {
			n := nodes[i]
			d, code, err := powerLoss(ctx, sc, n, seeds[n])
			mu.Lock()
			defer mu.Unlock()
			codes[n] = code
			if d != nil {
				dropped[n] = d
			}
			return err
		})
		return verified, err
	})
}

// powerLoss cuts node's power and verifies it went: the answer or its log
// line, then the exit with code 4.
func powerLoss(ctx context.Context, sc StoreCluster, node string, tearSeed *int64) (*PowerLossDrop, int, error) {
	path := "/admin/power-loss"
	if tearSeed != nil {
		path += "?tear-seed=" + strconv.FormatInt(*tearSeed, 10)
	}
	rctx, cancel := context.WithTimeout(ctx, adminWait)
	code, body, reqErr := sc.AdminBody(rctx, node, "POST", path, nil)
	cancel()
	var d *PowerLossDrop
	if reqErr == nil {
		if code != 200 && code != 500 {
			return nil, -1, fmt.Errorf("power loss of %s: HTTP %d: %s", node, code, body)
		}
		d = &PowerLossDrop{Source: "answer"}
		if err := json.Unmarshal(body, d); err != nil {
			return nil, -1, fmt.Errorf("power loss of %s: answer %q: %w", node, body, err)
		}
	}
	exit, err := waitExit(ctx, sc, node)
	if err != nil {
		if reqErr != nil {
			return nil, exit, fmt.Errorf("power loss of %s: %w (request: %v)", node, err, reqErr)
		}
		return d, exit, unverified("power loss of %s: %v", node, err)
	}
	if d == nil {
		// The answer was lost (the exit raced the flush): the node logged
		// the same figures before answering.
		line := lastLine(ctx, sc, node, MsgPowerLoss)
		if line == "" {
			return nil, exit, unverified("power loss of %s: no answer (%v) and no log line %s (exit code %d)", node, reqErr, MsgPowerLoss, exit)
		}
		d = dropFromLine(line)
	}
	// Another exit code is not the fault's: the engine reports it as an
	// unexpected exit (ExpectExit named only 4), and liveness flags it.
	return d, exit, nil
}

// dropFromLine reads a power-loss or crash-point log line's figures.
func dropFromLine(line string) *PowerLossDrop {
	atoi := func(k string) int { n, _ := strconv.Atoi(logField(line, k)); return n }
	b, _ := strconv.ParseInt(logField(line, "bytes_dropped"), 10, 64)
	d := &PowerLossDrop{
		BytesDropped: b, FilesTruncated: atoi("files_truncated"), FilesRemoved: atoi("files_removed"),
		RenamesUndone: atoi("renames_undone"), RemovesUndone: atoi("removes_undone"), TornWrites: atoi("torn_writes"),
		Source: "log",
	}
	if t, err := strconv.ParseInt(logField(line, "tear_seed"), 10, 64); err == nil {
		d.TearSeed = &t
	}
	return d
}

func (p *powerLossFault) stop(ctx context.Context, s *Scheduler, rec Recorder) error {
	return p.restart(ctx, s, rec, p.taken(), false)
}

// reapply: a node without power stays down until its stop.
func (*powerLossFault) reapply(context.Context, *Scheduler, string, bool) (Value, error) {
	return nil, nil
}

// heal switches on every node still without power.
func (p *powerLossFault) heal(ctx context.Context, s *Scheduler, rec Recorder) error {
	if !p.active() {
		return nil
	}
	return p.restart(ctx, s, rec, p.taken(), true)
}
