package reports

import (
	"fmt"
	"image/color"
	"strings"
	"time"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// NemesisWindow is a stretch of time during which a fault was active, from
// the invocation of the action that started it to the completion of the
// action that ended it (the widest interval in which the fault may have
// had an effect). Instant actions (a staggered start) have Start == End.
// The windows are the stats checker's (checkers/windows), so the report
// shades exactly the stretches the availability figures were split by.
type NemesisWindow struct {
	// Kind is the family's label in the table of nemesis functions, or
	// the f itself for a function the table does not know.
	Kind  string
	Label string
	Nodes []string
	Start time.Duration
	End   time.Duration
	// Color is the family's band colour as CSS, for the table's swatch.
	Color   string
	Instant bool
	// Open is set when the history ended before the fault was healed.
	Open bool
	// StartOp and EndOp are the history indices of the bounding events.
	StartOp int64
	EndOp   int64

	color color.NRGBA
}

// nemesisPalette colours the families in table order
// (history.NemesisFamilies): mid-tones that keep contrast on a white and a
// near-black page. A family past the palette's end reuses it from the
// start; a function the table does not know is grey.
var nemesisPalette = []color.NRGBA{
	{R: 0x80, G: 0x80, B: 0x80}, // staggered-start
	{R: 0xe0, G: 0x4f, B: 0x5f}, // kill
	{R: 0x3b, G: 0x82, B: 0xf6}, // pause
	{R: 0xf5, G: 0x9e, B: 0x0b}, // partition
	{R: 0x14, G: 0xb8, B: 0xa6}, // loss
	{R: 0xa8, G: 0x55, B: 0xf7}, // delay
	{R: 0xec, G: 0x48, B: 0x99},
	{R: 0x65, G: 0xa3, B: 0x0d},
	{R: 0x92, G: 0x40, B: 0x0e},
	{R: 0x06, G: 0xb6, B: 0xd4},
}

var unknownFamilyColor = color.NRGBA{R: 0x80, G: 0x80, B: 0x80}

// familyLook returns the label and colour of the family named name.
func familyLook(name, f string) (string, color.NRGBA) {
	for i, fam := range history.NemesisFamilies {
		if fam.Name == name {
			return fam.Label, nemesisPalette[i%len(nemesisPalette)]
		}
	}
	return f, unknownFamilyColor
}

// nemesisWindows returns the fault windows checkers/windows paired while
// the history loaded, closed at the history's end.
func nemesisWindows(h *loadedHistory) []NemesisWindow {
	h.faults.Advance(time.Duration(h.end))
	ws := h.faults.Windows()
	out := make([]NemesisWindow, 0, len(ws))
	for _, w := range ws {
		kind, col := familyLook(w.Family, w.F)
		nw := NemesisWindow{Kind: kind, Label: label(w.F, w.Nodes), Nodes: w.Nodes, Start: w.Start, End: w.End,
			Color: fmt.Sprintf("#%02x%02x%02x", col.R, col.G, col.B), Instant: w.Instant, Open: w.Open(),
			StartOp: w.StartIndex, EndOp: w.StopIndex, color: col}
		if nw.Open {
			nw.EndOp = -1
		}
		out = append(out, nw)
	}
	return out
}

func label(f string, nodes []string) string {
	if len(nodes) == 0 {
		return f
	}
	return f + " " + strings.Join(nodes, ",")
}

// Lasted is how long the window was open.
func (w NemesisWindow) Lasted() time.Duration { return w.End - w.Start }
