package reports

import (
	"fmt"
	"math"
	"sort"
)

// opStat is one row of the operations table: the outcomes of one f and the
// latency quantiles of its ok operations, in milliseconds (the table's
// header carries the unit).
type opStat struct {
	F                   string
	Total, Ok, Fail, In int
	P50, P90, P99, Max  string
}

// operationStats counts client operations by f and outcome and computes
// latency quantiles, a summary that exists even when results.json lacks
// stats.
func operationStats(h *loadedHistory) ([]opStat, int) {
	type acc struct {
		st   opStat
		lats []float64
	}
	by := map[string]*acc{}
	total := 0
	for i := range h.events {
		e := &h.events[i]
		if e.proc < 0 || e.typ != evInvoke {
			continue
		}
		total++
		f := h.fname(e.f)
		a := by[f]
		if a == nil {
			a = &acc{st: opStat{F: f}}
			by[f] = a
		}
		a.st.Total++
		typ, end := evInfo, h.end
		if p := h.pos(e.pair); e.pair >= 0 && p >= 0 {
			typ, end = h.events[p].typ, h.events[p].t
		}
		switch typ {
		case evOk:
			a.st.Ok++
			a.lats = append(a.lats, float64(end-e.t)/1e6)
		case evFail:
			a.st.Fail++
		default:
			a.st.In++
		}
	}
	var out []opStat
	for _, f := range sortedKeys(by) {
		a := by[f]
		if len(a.lats) > 0 {
			sort.Float64s(a.lats)
			q := func(p float64) string {
				i := int(math.Ceil(p*float64(len(a.lats)))) - 1
				return fmtNum(a.lats[max(0, min(i, len(a.lats)-1))])
			}
			a.st.P50, a.st.P90, a.st.P99, a.st.Max = q(0.5), q(0.9), q(0.99), fmtNum(a.lats[len(a.lats)-1])
		}
		out = append(out, a.st)
	}
	return out, total
}

func fmtMs(ms float64) string {
	switch {
	case ms >= 10000:
		return fmt.Sprintf("%.1f s", ms/1000)
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	default:
		return fmt.Sprintf("%.2f ms", ms)
	}
}
