package nemesis

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// corruptFault damages the store of one stopped node, as Jepsen's file
// corruption nemesis does: start kills the node and flips bits in a random
// stored file, truncates the newest write-ahead log's tail or removes a
// file (drawn from Options.CorruptKinds and the seed); stop starts it
// again. What the broker must do then is part of the check: a torn tail is
// repaired (and logged), damage it cannot repair makes it refuse to start
// with exit code 3 and a line naming the file (never serve wrong data, never
// skip silently), and the cluster keeps serving with its quorum. A refusal
// is recorded in the info's "refused" and in Scheduler.Refused, and the
// node stays down for the rest of the run. Any other exit is the broker
// failing: the engine reports it as an unexpected exit.
//
// One node at a time, and only while the nodes that refused, plus this one,
// stay a minority: the run must keep a quorum however the broker answers.
type corruptFault struct {
	nodeFault
	done map[string]Corrupted
	// stopped is when each damaged node was stopped.
	stopped map[string]time.Time
}

func newCorruptFault() fault {
	return &corruptFault{nodeFault: nodeFault{fam: history.NemesisCorrupt, held: held{}}, done: map[string]Corrupted{}, stopped: map[string]time.Time{}}
}

// startWait bounds how long stop waits for a restarted node to answer or
// to refuse. A variable so tests can shorten it.
var startWait = 30 * time.Second

// startSettle is how long a restarted node that answers must keep running
// to count as started. A variable so tests can shorten it.
var startSettle = 3 * time.Second

func (c *corruptFault) start(ctx context.Context, s *Scheduler, rec Recorder) error {
	sc, err := s.storeCluster()
	if err != nil {
		return err
	}
	v := Value{"target": TargetOne}
	// A refused node still counts against the quorum until a rebuild
	// replaced it (then it is no longer a node of the cluster).
	nodes := s.c.Nodes()
	down := 0
	for _, r := range s.refused {
		if slices.Contains(nodes, r.Node) {
			down++
		}
	}
	if n := len(nodes); down+1 > (n-1)/2 {
		skipped(rec, c.fam.Start, v, fmt.Sprintf("%d of %d nodes refused their store and are down: one more could cost the quorum", down, n))
		return nil
	}
	avail := s.available(ctx)
	if len(avail) == 0 {
		skipped(rec, c.fam.Start, v, "no running node that is not already held by a fault")
		return nil
	}
	node := pickOne(s.pick, avail)
	v["nodes"] = []string{node}
	cr := Corruption{Kind: pickOne(s.pick, s.opts.CorruptKinds), Seed: s.pick.Uint64()}
	v["corruption"] = cr
	return action(ctx, rec, c.fam.Start, v, func(ctx context.Context) (Value, error) {
		c.held[node] = true
		c.stopped[node] = time.Now()
		if err := sc.Kill(ctx, node); err != nil {
			return nil, fmt.Errorf("stop %s: %w", node, err)
		}
		st, err := waitState(ctx, sc, node, func(st NodeState) bool { return st == Exited })
		verified := Value{"state": Value{node: string(st)}}
		if err != nil {
			return verified, err
		}
		done, err := sc.CorruptStore(ctx, node, cr)
		if err != nil {
			return verified, fmt.Errorf("corrupt the store of %s: %w", node, err)
		}
		c.done[node] = done
		verified["corrupted"] = done
		return verified, nil
	})
}

func (c *corruptFault) stop(ctx context.Context, s *Scheduler, rec Recorder) error {
	return c.startAll(ctx, s, rec, false)
}

// startAll starts every damaged node and records how each answered:
// "started" (with "repaired", the broker's torn-tail line, when it cut one)
// or "refused" (with its line); any other exit is recorded with its code.
func (c *corruptFault) startAll(ctx context.Context, s *Scheduler, rec Recorder, final bool) error {
	sc, err := s.storeCluster()
	if err != nil {
		return err
	}
	nodes := c.taken()
	return c.stopAction(ctx, rec, nodes, final, func(ctx context.Context) (Value, error) {
		started, refused, exited := Value{}, Value{}, Value{}
		verified := Value{"started": started, "refused": refused}
		var up []string
		for _, n := range nodes {
			done := c.done[n]
			if err := sc.StartExpecting(ctx, n, ExitCorruptStore); err != nil {
				return verified, fmt.Errorf("start %s: %w", n, err)
			}
			out, line, code, err := c.await(ctx, sc, n)
			if err != nil {
				return verified, err
			}
			delete(c.done, n)
			switch out {
			case "started":
				// The refusal is no longer expected of this incarnation.
				sc.ExpectExit(n)
				r := Value{}
				if l := findLine(sc.LogTail(n, 200), MsgTornTail); l != "" {
					r["repaired"] = l
				}
				started[n] = r
				up = append(up, n)
				s.damages = append(s.damages, Damage{Node: n, Stopped: c.stopped[n], Started: time.Now()})
			case "refused":
				delete(c.held, n)
				refused[n] = line
				s.refuse(Refusal{Node: n, At: time.Now(), ExitCode: code, File: logField(line, "file"),
					Err: logField(line, "err"), Line: line, Corrupted: done})
			default:
				// Not a refusal: the engine reports the exit as unexpected.
				delete(c.held, n)
				exited[n] = Value{"exit_code": code, "last_line": line}
				verified["exited"] = exited
				s.failedStores = append(s.failedStores, n)
			}
		}
		if !final && len(refused) > 0 {
			if rebuilt := c.rebuild(ctx, s, refused); len(rebuilt) > 0 {
				verified["rebuilt"] = rebuilt
			}
		}
		if final || len(up) == 0 {
			for _, n := range up {
				delete(c.held, n)
			}
			return verified, nil
		}
		for _, n := range up {
			delete(c.held, n)
			r, err := s.reapply(ctx, n, true)
			if len(r) > 0 {
				started[n].(Value)["reapplied"] = r
			}
			if err != nil {
				return verified, err
			}
		}
		return verified, s.proveDeferred(ctx, verified)
	})
}

// await waits until node answers /healthz ("started") or exits ("refused"
// with the refusal line and code 3, or "exited" with its last line).
func (c *corruptFault) await(ctx context.Context, sc StoreCluster, node string) (outcome, line string, code int, err error) {
	ctx, cancel := context.WithTimeout(ctx, startWait)
	defer cancel()
	for {
		st, serr := sc.State(ctx, node)
		if serr == nil && st == Exited {
			code, err := sc.ExitCode(ctx, node)
			if err != nil {
				return "", "", -1, err
			}
			if l := lastLine(ctx, sc, node, MsgRefusal); code == ExitCorruptStore && l != "" {
				return "refused", l, code, nil
			}
			tail := sc.LogTail(node, 1)
			return "exited", strings.Join(tail, ""), code, nil
		}
		if serr == nil && st == Running {
			rctx, rcancel := context.WithTimeout(ctx, statusTimeout)
			hc, _, herr := sc.Admin(rctx, node, "GET", "/healthz")
			rcancel()
			if herr == nil && hc == 200 {
				// The admin port opens with the store, but partitions are
				// loaded (and their batches' CRCs checked) as the node
				// starts: a refusal can still follow.
				if settled := sleep(ctx, startSettle); settled {
					if st, serr := sc.State(ctx, node); serr == nil && st == Running {
						return "started", "", 0, nil
					}
				}
				continue
			}
		}
		if !sleep(ctx, 2*pollEvery) {
			return "", "", -1, unverified("%s neither answered /healthz nor exited within %s after its store was damaged (state %s)", node, startWait, st)
		}
	}
}

// findLine returns the last of lines that contains part, "" if none.
func findLine(lines []string, part string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], part) {
			return lines[i]
		}
	}
	return ""
}

// reapply: a damaged node stays down until its stop.
func (*corruptFault) reapply(context.Context, *Scheduler, string, bool) (Value, error) {
	return nil, nil
}

func (c *corruptFault) heal(ctx context.Context, s *Scheduler, rec Recorder) error {
	if !c.active() {
		return nil
	}
	return c.startAll(ctx, s, rec, true)
}

// rebuild replaces every node that refused its store by a fresh node (a
// new id, an empty store) through a membership change, as an operator
// would, when the cluster can add nodes (MemberCluster): the cluster gets
// its full voter set back and the run exercises a catch-up from nothing
// after a disk loss. The refusal itself stays recorded (liveness reports
// refused-corrupt-store). A replacement the broker refuses, or one that
// fails, is recorded and the node stays down, as without membership.
func (c *corruptFault) rebuild(ctx context.Context, s *Scheduler, refused Value) Value {
	mc, ok := s.c.(MemberCluster)
	if !ok {
		return nil
	}
	out := Value{}
	for _, old := range slices.Sorted(maps.Keys(refused)) {
		node, res, err := ReplaceNode(ctx, mc, old, s.opts.JoinDelay)
		r := Value{"by": node, "answer": res.Answer}
		if err != nil {
			r["error"] = err.Error()
			s.log.Warn("rebuilding a node that refused its store failed; it stays down", "node", old, "err", err)
		} else {
			s.log.Info("rebuilt a node that refused its store", "node", old, "by", node)
		}
		out[old] = r
	}
	return out
}
