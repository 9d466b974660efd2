package reports

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// NemesisWindow is a stretch of time during which a fault was active, from
// the invocation of the action that started it to the completion of the
// action that ended it (the widest interval in which the fault may have
// had an effect). Instant actions (a staggered start) have Start == End.
type NemesisWindow struct {
	Kind    string // fault family: kill, pause, partition, loss, delay, start
	Label   string
	Nodes   []string
	Start   time.Duration
	End     time.Duration
	Instant bool
	// Open is set when the history ended before the fault was healed.
	Open bool
	// StartOp and EndOp are the history indices of the bounding events.
	StartOp int64
	EndOp   int64
}

// nemesisPairs maps a starting nemesis f to its family and the f that ends
// it (RULES.md: the nemesis functions of the history).
var nemesisPairs = map[string]struct{ kind, stop string }{
	"kill":        {"kill", "restart"},
	"pause":       {"pause", "resume"},
	"partition":   {"partition", "heal"},
	"loss-start":  {"loss", "loss-stop"},
	"delay-start": {"delay", "delay-stop"},
}

var nemesisStops = map[string]string{
	"restart": "kill", "resume": "pause", "heal": "partition",
	"loss-stop": "loss", "delay-stop": "delay",
}

// nemesisWindows pairs fault starts with their stops. A stop naming nodes
// closes the open windows of its family that share a node; a stop without
// nodes (a final heal) closes every open window of its family. Windows
// still open at the end of the history run to its end and say so.
func nemesisWindows(h *loadedHistory) []NemesisWindow {
	var out []NemesisWindow
	open := map[string][]int{} // family -> positions in out
	for i := range h.events {
		e := &h.events[i]
		if e.proc >= 0 || e.typ == evInvoke && e.pair >= 0 {
			// Act on the completion of a pair (it carries what was
			// verified) but time the start from its invocation.
			continue
		}
		f := h.fname(e.f)
		start, startIdx := e.t, e.idx
		if e.pair >= 0 {
			if p := h.pos(e.pair); p >= 0 && h.events[p].typ == evInvoke {
				start, startIdx = h.events[p].t, h.events[p].idx
			}
		}
		nodes := nemesisNodes(h.nemesisValues[i])
		if f == "start" {
			out = append(out, NemesisWindow{Kind: "start", Label: label("start", nodes), Nodes: nodes,
				Start: time.Duration(e.t), End: time.Duration(e.t), Instant: true, StartOp: e.idx, EndOp: e.idx})
			continue
		}
		if pr, ok := nemesisPairs[f]; ok {
			out = append(out, NemesisWindow{Kind: pr.kind, Label: label(f, nodes), Nodes: nodes,
				Start: time.Duration(start), StartOp: startIdx, Open: true})
			open[pr.kind] = append(open[pr.kind], len(out)-1)
			continue
		}
		if kind, ok := nemesisStops[f]; ok {
			var keep []int
			for _, wi := range open[kind] {
				w := &out[wi]
				if len(nodes) == 0 || len(w.Nodes) == 0 || overlaps(nodes, w.Nodes) {
					w.End, w.EndOp, w.Open = time.Duration(e.t), e.idx, false
				} else {
					keep = append(keep, wi)
				}
			}
			open[kind] = keep
			continue
		}
		// An unknown nemesis function: show it as an instant mark.
		out = append(out, NemesisWindow{Kind: f, Label: label(f, nodes), Nodes: nodes,
			Start: time.Duration(e.t), End: time.Duration(e.t), Instant: true, StartOp: e.idx, EndOp: e.idx})
	}
	for i := range out {
		if out[i].Open {
			out[i].End = time.Duration(h.end)
			out[i].EndOp = -1
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

func label(f string, nodes []string) string {
	if len(nodes) == 0 {
		return f
	}
	return f + " " + strings.Join(nodes, ",")
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// nemesisNodes reads the "nodes" field of a nemesis value; a partition's
// value may instead describe its grudge, which is summarized by its keys.
func nemesisNodes(raw json.RawMessage) []string {
	var v struct {
		Nodes json.RawMessage `json:"nodes"`
	}
	if json.Unmarshal(raw, &v) != nil || len(v.Nodes) == 0 {
		return nil
	}
	var list []any
	if json.Unmarshal(v.Nodes, &list) == nil {
		out := make([]string, 0, len(list))
		for _, x := range list {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	var s string
	if json.Unmarshal(v.Nodes, &s) == nil && s != "" {
		return []string{s}
	}
	return nil
}

// Lasted is how long the window was open.
func (w NemesisWindow) Lasted() time.Duration { return w.End - w.Start }
