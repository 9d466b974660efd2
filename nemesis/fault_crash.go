package nemesis

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// crashFault arms crash points in target nodes (start), like etcd's gofail
// failpoints: named places in the broker (before and after the Raft log
// save of a Ready, before and after applying, while writing a snapshot,
// ...) where the process dies the N-th time it gets there, or each time
// with a probability. The point, the count or probability and whether the
// crash also loses the unsynced state (power_loss, as etcd follows a crash
// with a LazyFS cache drop) are drawn from the seed; the points are the
// ones the node lists (GET /admin/crash-points), so the broker's list is
// the only one. The stop verifies each node: gone with exit code 5 and its
// own log line naming the point, then started again; a point not reached
// by then is disarmed and recorded as "not_reached" (the load did not get
// there: a rare point, such as a snapshot install, in a short run).
type crashFault struct {
	nodeFault
	// armed is the arming of each held node.
	armed map[string]crashArm
}

// crashArm is one arming as POST /admin/crash-points takes it.
type crashArm struct {
	Point       string  `json:"point"`
	Count       int     `json:"count,omitempty"`
	Probability float64 `json:"probability,omitempty"`
	Seed        *int64  `json:"seed,omitempty"`
	PowerLoss   bool    `json:"power_loss,omitempty"`
	TearSeed    *int64  `json:"tear_seed,omitempty"`
}

func newCrashFault() fault {
	return &crashFault{nodeFault: nodeFault{fam: history.NemesisCrash, held: held{}}, armed: map[string]crashArm{}}
}

// crashPoints is the part of the broker's CrashPointsAnswer the fault
// reads.
type crashPoints struct {
	FaultFS bool `json:"fault_fs"`
	Points  []struct {
		Name string `json:"name"`
	} `json:"points"`
}

func (c *crashFault) start(ctx context.Context, s *Scheduler, rec Recorder) error {
	sc, nodes, v, err := s.storeTargets(ctx, rec, c.fam.Start)
	if err != nil || len(nodes) == 0 {
		return err
	}
	return action(ctx, rec, c.fam.Start, v, func(ctx context.Context) (Value, error) {
		armed := Value{}
		verified := Value{"armed": armed}
		for _, n := range nodes {
			pts, err := listCrashPoints(ctx, sc, n)
			if err != nil {
				return verified, err
			}
			a := c.draw(s, pts)
			c.held[n] = true
			c.armed[n] = a
			sc.ExpectExit(n, ExitCrashPoint)
			body, _ := json.Marshal(a)
			rctx, cancel := context.WithTimeout(ctx, statusTimeout)
			code, ans, err := sc.AdminBody(rctx, n, "POST", "/admin/crash-points", body)
			cancel()
			if err != nil || code != 200 {
				// The node may have reached the point at once (count 1):
				// an exit during the request is the fault working.
				if st, serr := sc.State(ctx, n); serr == nil && st == Exited {
					armed[n] = a
					continue
				}
				return verified, fmt.Errorf("arm %s at %s: HTTP %d %s: %v", a.Point, n, code, ans, err)
			}
			armed[n] = a
		}
		return verified, nil
	})
}

// draw picks a crash point and how it fires.
func (c *crashFault) draw(s *Scheduler, points []string) crashArm {
	a := crashArm{Point: pickOne(s.pick, points)}
	if s.pick.IntN(3) == 0 {
		a.Probability = float64(1+s.pick.IntN(20)) / 100
		seed := s.pick.Int64N(1 << 31)
		a.Seed = &seed
	} else {
		a.Count = 1 + s.pick.IntN(40)
	}
	if s.pick.IntN(2) == 0 {
		a.PowerLoss = true
		if s.pick.IntN(2) == 0 {
			t := s.pick.Int64N(1 << 31)
			a.TearSeed = &t
		}
	}
	return a
}

// listCrashPoints asks node for its crash points, sorted by name.
func listCrashPoints(ctx context.Context, sc StoreCluster, node string) ([]string, error) {
	rctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	code, body, err := sc.Admin(rctx, node, "GET", "/admin/crash-points")
	if err != nil || code != 200 {
		return nil, fmt.Errorf("list crash points of %s: HTTP %d %s: %v", node, code, body, err)
	}
	var ans crashPoints
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("list crash points of %s: %w", node, err)
	}
	var out []string
	for _, p := range ans.Points {
		out = append(out, p.Name)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("list crash points of %s: none", node)
	}
	slices.Sort(out)
	return out, nil
}

func (c *crashFault) stop(ctx context.Context, s *Scheduler, rec Recorder) error {
	return c.settle(ctx, s, rec, false)
}

// settle verifies every armed node and starts the crashed ones again.
func (c *crashFault) settle(ctx context.Context, s *Scheduler, rec Recorder, final bool) error {
	sc, err := s.storeCluster()
	if err != nil {
		return err
	}
	nodes := c.taken()
	return c.stopAction(ctx, rec, nodes, final, func(ctx context.Context) (Value, error) {
		crashed, notReached := Value{}, []string{}
		verified := Value{"crashed": crashed, "not_reached": notReached}
		var down []string
		for _, n := range nodes {
			a := c.armed[n]
			st, err := sc.State(ctx, n)
			if err == nil && st == Running {
				// Not reached yet: disarm, then look again (it may have
				// fired in between).
				rctx, cancel := context.WithTimeout(ctx, statusTimeout)
				_, _, derr := sc.AdminBody(rctx, n, "DELETE", "/admin/crash-points?point="+url.QueryEscape(a.Point), nil)
				cancel()
				if st, err = sc.State(ctx, n); err == nil && st == Running {
					if derr != nil {
						return verified, fmt.Errorf("disarm %s at %s: %w", a.Point, n, derr)
					}
					sc.ExpectExit(n)
					delete(c.held, n)
					delete(c.armed, n)
					notReached = append(notReached, n)
					verified["not_reached"] = notReached
					continue
				}
			}
			code, err := waitExit(ctx, sc, n)
			if err != nil {
				return verified, err
			}
			got := Value{"point": a.Point, "exit_code": code}
			if line := lastLine(ctx, sc, n, MsgCrashPoint, " point="+a.Point+" "); line != "" {
				got["reached"], _ = strconv.Atoi(logField(line, "reached"))
				got["power_loss"] = logField(line, "power_loss") == "true"
				if a.PowerLoss {
					got["dropped"] = dropFromLine(line)
				}
			} else if code == ExitCrashPoint {
				return verified, unverified("%s exited with code %d but logged no %s point=%s", n, code, MsgCrashPoint, a.Point)
			}
			// An exit with another code is not the fault's doing: the
			// engine reports it as unexpected (ExpectExit named only 5).
			crashed[n] = got
			down = append(down, n)
			delete(c.armed, n)
		}
		return verified, c.startNodes(ctx, s, down, final, verified)
	})
}

// reapply: an armed node that restarted behind the fault's back lost its
// arming (armings live in the process).
func (*crashFault) reapply(context.Context, *Scheduler, string, bool) (Value, error) {
	return nil, nil
}

func (c *crashFault) heal(ctx context.Context, s *Scheduler, rec Recorder) error {
	if !c.active() {
		return nil
	}
	return c.settle(ctx, s, rec, true)
}
