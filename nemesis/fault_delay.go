package nemesis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// DelayMechanism names how delay works, for the op value and the report:
// the kernel here has no netem qdisc, so latency is a stage in the broker's
// peer transport, switched through its admin API.
const DelayMechanism = "broker peer-transport delay stage via admin API (POST /admin/peer-delay?ms=N)"

// delayFault adds latency to every broker's outgoing peer traffic (start)
// and removes it (stop). A paused or killed node is told when it is resumed
// or restarted (a restarted broker forgets the setting).
type delayFault struct {
	// ms is the delay in effect; 0 when there is none.
	ms int
}

func newDelayFault() fault { return &delayFault{} }

func (*delayFault) family() history.NemesisFamily { return history.NemesisDelay }

func (d *delayFault) active() bool { return d.ms > 0 }

func (d *delayFault) start(ctx context.Context, s *Scheduler, rec Recorder) error {
	f := history.NemesisDelay.Start
	ms := int(s.opts.Delay.Milliseconds())
	nodes := s.answering(ctx)
	v := Value{"nodes": nonNil(nodes), "ms": ms, "mechanism": DelayMechanism}
	if len(nodes) == 0 {
		skipped(rec, f, v, "no running node to configure")
		return nil
	}
	return action(ctx, rec, f, v, func(ctx context.Context) (Value, error) {
		d.ms = ms
		return setDelays(ctx, s.c, nodes, ms)
	})
}

func (d *delayFault) stop(ctx context.Context, s *Scheduler, rec Recorder) error {
	nodes := s.answering(ctx)
	return action(ctx, rec, history.NemesisDelay.Stop, Value{"nodes": nonNil(nodes), "mechanism": DelayMechanism}, func(ctx context.Context) (Value, error) {
		d.ms = 0
		return setDelays(ctx, s.c, nodes, 0)
	})
}

// reapply tells node the delay in effect. After a restart the broker starts
// without delay, so only a non-zero delay needs telling; after a resume the
// frozen broker may have missed a change either way.
func (d *delayFault) reapply(ctx context.Context, s *Scheduler, node string, fresh bool) (Value, error) {
	if !s.configured(history.NemesisDelay.Name) || fresh && d.ms == 0 {
		return nil, nil
	}
	if err := adminAnswers(ctx, s.c, node); err != nil {
		return nil, err
	}
	ms, err := setDelay(ctx, s.c, node, d.ms)
	return Value{"peer_delay_ms": ms}, err
}

// heal switches the delay off on every node and reads it back. It touches
// the admin API only when the family is configured.
func (d *delayFault) heal(ctx context.Context, s *Scheduler, rec Recorder) error {
	d.ms = 0
	if !s.configured(history.NemesisDelay.Name) {
		return nil
	}
	all := s.inService()
	v := Value{"nodes": all, "final": true, "mechanism": DelayMechanism}
	return action(ctx, rec, history.NemesisDelay.Stop, v, func(ctx context.Context) (Value, error) {
		return setDelays(ctx, s.c, all, 0)
	})
}

// preflight proves the broker has the admin API the delay needs.
func (d *delayFault) preflight(ctx context.Context, s *Scheduler, running []string, v Value) error {
	if !s.configured(history.NemesisDelay.Name) || len(running) == 0 {
		return nil
	}
	n := running[0]
	rctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	code, body, err := s.c.Admin(rctx, n, "GET", "/admin/peer-delay")
	if err != nil || code != 200 {
		return unverified("delay needs GET /admin/peer-delay on the broker; %s answered %d (%v)", n, code, err)
	}
	ms, err := parseDelay(body)
	if err != nil {
		return unverified("delay: %s: %v", n, err)
	}
	v["peer_delay_ms"] = fmt.Sprintf("%s: %d", n, ms)
	return nil
}

// setDelays switches the delay stage on nodes and reads it back.
func setDelays(ctx context.Context, c Cluster, nodes []string, ms int) (Value, error) {
	got := Value{}
	verified := Value{"peer_delay_ms": got}
	for _, n := range nodes {
		// A node restarted a moment ago runs before its admin API listens
		// (its address may not even route yet): wait for it, as reapply
		// does, rather than fail the run on a refused connection.
		if err := adminAnswers(ctx, c, n); err != nil {
			return verified, err
		}
		cur, err := setDelay(ctx, c, n, ms)
		got[n] = cur
		if err != nil {
			return verified, err
		}
	}
	return verified, nil
}

// setDelay sets and reads back one node's peer delay.
func setDelay(ctx context.Context, c Cluster, node string, ms int) (int, error) {
	rctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	code, body, err := c.Admin(rctx, node, "POST", "/admin/peer-delay?ms="+strconv.Itoa(ms))
	if err != nil {
		return -1, fmt.Errorf("set peer delay at %s: %w", node, err)
	}
	if code/100 != 2 {
		return -1, fmt.Errorf("set peer delay at %s: status %d: %s", node, code, strings.TrimSpace(string(body)))
	}
	rctx2, cancel2 := context.WithTimeout(ctx, statusTimeout)
	defer cancel2()
	code, body, err = c.Admin(rctx2, node, "GET", "/admin/peer-delay")
	if err != nil || code != 200 {
		return -1, unverified("read back peer delay at %s: status %d, %v", node, code, err)
	}
	cur, err := parseDelay(body)
	if err != nil {
		return -1, unverified("read back peer delay at %s: %v", node, err)
	}
	if cur != ms {
		return cur, unverified("peer delay at %s is %d ms after setting %d", node, cur, ms)
	}
	return cur, nil
}

// parseDelay reads GET /admin/peer-delay: a bare number (JSON or text) or a
// JSON object with the milliseconds under "ms", "peer_delay_ms" or
// "delay_ms".
func parseDelay(body []byte) (int, error) {
	text := strings.TrimSpace(string(body))
	if n, err := strconv.Atoi(text); err == nil {
		return n, nil
	}
	var obj map[string]json.Number
	if err := json.Unmarshal(body, &obj); err == nil {
		for _, k := range []string{"ms", "peer_delay_ms", "delay_ms"} {
			if x, ok := obj[k]; ok {
				n, err := x.Int64()
				return int(n), err
			}
		}
	}
	return 0, fmt.Errorf("unrecognised peer-delay body %q", text)
}
