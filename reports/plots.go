package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Colours chosen to keep contrast on both a white and a near-black page
// (they are mid-tones), so the same SVG works in light, dark and print.
var (
	colorOk    = color.NRGBA{R: 0x2e, G: 0xa0, B: 0x43, A: 0xff}
	colorFail  = color.NRGBA{R: 0xda, G: 0x36, B: 0x33, A: 0xff}
	colorInfo  = color.NRGBA{R: 0xd2, G: 0x99, B: 0x22, A: 0xff}
	colorRead  = color.NRGBA{R: 0x3b, G: 0x82, B: 0xf6, A: 0xff}
	colorGrid  = color.NRGBA{R: 0x80, G: 0x80, B: 0x80, A: 0x40}
	typeColors = [...]color.Color{evInvoke: colorRead, evOk: colorOk, evFail: colorFail, evInfo: colorInfo}
)

// Band alphas: translucent so that points under a band stay visible; an
// instant is a one-point line and needs more ink to be seen at all.
const (
	bandAlpha    = 0x38
	instantAlpha = 0xa0
)

// glyphFor gives each operation function its own marker shape, so that
// sends and polls can be told apart without colour (print, colour blindness).
func glyphFor(f string) draw.GlyphDrawer {
	switch f {
	case "send":
		return draw.CircleGlyph{}
	case "poll":
		return draw.TriangleGlyph{}
	case "read":
		return draw.SquareGlyph{}
	case "txn":
		return draw.PlusGlyph{}
	case "assign":
		return draw.CrossGlyph{}
	case "subscribe":
		return draw.RingGlyph{}
	case "crash":
		return draw.BoxGlyph{}
	default:
		return draw.PyramidGlyph{}
	}
}

var sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// newPlot returns a plot styled for the report: sans-serif text, a
// transparent background (the page supplies it) and a light grid.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.BackgroundColor = color.Transparent
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sansFont, 12)
	p.Title.Padding = vg.Points(6)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sansFont, 10)
		a.Tick.Label.Font = font.From(sansFont, 9)
	}
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Legend.TextStyle.Font = font.From(sansFont, 9)
	p.Legend.Top = true
	p.Legend.Left = false
	g := plotter.NewGrid()
	g.Vertical.Color = colorGrid
	g.Horizontal.Color = colorGrid
	p.Add(g)
	return p
}

// svgOf renders p as inline SVG. Black, gonum's colour for axes, text and
// legend, becomes currentColor so the page's text colour (dark or light)
// applies; the XML prolog is dropped because the SVG is embedded in HTML.
func svgOf(p *plot.Plot, w, h vg.Length) (string, error) {
	c := vgsvg.New(w, h)
	dc := draw.New(c)
	// The legend goes in a column right of the data, never over points:
	// take it off the plot, shrink the plot's canvas and draw it beside.
	leg := p.Legend
	p.Legend = plot.NewLegend()
	legW := leg.Rectangle(dc).Size().X
	if legW > 0 {
		legW += vg.Points(10)
		p.Draw(draw.Crop(dc, 0, -legW, 0, 0))
		leg.Left = true
		leg.Top = true
		leg.Draw(draw.Crop(dc, w-legW+vg.Points(6), 0, 0, -vg.Points(24)))
	} else {
		p.Draw(dc)
	}
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", fmt.Errorf("write svg: %w", err)
	}
	s := b.String()
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	s = compactSVG(s)
	s = strings.ReplaceAll(s, "#000000", "currentColor")
	s = strings.ReplaceAll(s, "font-family:Liberation Sans;", "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")
	// Let CSS size the picture; the viewBox keeps its proportions.
	s = strings.Replace(s, "<svg ", `<svg role="img" class="plot-svg" preserveAspectRatio="xMidYMid meet" `, 1)
	return s, nil
}

// bands draws nemesis windows as shaded, labelled vertical bands over the
// whole height of the data area, and instant actions as thin lines.
type bands struct {
	windows []NemesisWindow
	// lanes staggers labels of overlapping windows vertically.
	labels bool
}

// Plot implements plot.Plotter.
func (b bands) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	sty := draw.TextStyle{
		Color:   color.Black,
		Font:    font.From(sansFont, 8),
		XAlign:  draw.XLeft,
		YAlign:  draw.YTop,
		Handler: p.TextHandler,
	}
	// Labels go into a few lanes at the top, greedily: a label takes the
	// first lane where it does not overlap the previous one, and is left
	// out when none is free (the nemesis table lists every window).
	const lanes = 5
	var laneEnd [lanes]vg.Length
	for i := range laneEnd {
		laneEnd[i] = c.Min.X - 1
	}
	for _, w := range b.windows {
		x0 := trX(w.Start.Seconds())
		x1 := trX(w.End.Seconds())
		col := w.color
		col.A = bandAlpha
		if w.Instant {
			col.A = instantAlpha
		}
		if w.Instant || x1-x0 < vg.Points(1) {
			x1 = x0 + vg.Points(1)
		}
		pts := []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}}
		c.FillPolygon(col, c.ClipPolygonXY(pts))
		if !b.labels || !c.ContainsX(x0) {
			continue
		}
		width := sty.Rectangle(w.Label).Max.X + vg.Points(6)
		// A label running past the data area would run into the legend.
		if x0+width > c.Max.X+vg.Points(20) {
			continue
		}
		for l := 0; l < lanes; l++ {
			if laneEnd[l] < x0 {
				y := c.Max.Y - vg.Points(2) - vg.Points(9)*vg.Length(l)
				c.FillText(sty, vg.Point{X: x0 + vg.Points(2), Y: y}, w.Label)
				laneEnd[l] = x0 + width
				break
			}
		}
	}
}

// overlay is what every time plot draws over its data: the nemesis
// windows and the first anomaly.
type overlay struct {
	windows []NemesisWindow
	first   *firstAnomaly
}

// add puts the bands (labelled or not) on p, under the data.
func (o overlay) add(p *plot.Plot, labels bool) {
	p.Add(bands{windows: o.windows, labels: labels})
}

// mark puts the first anomaly's marker on p, over the data: call it last.
func (o overlay) mark(p *plot.Plot) {
	if o.first != nil {
		p.Add(anomalyMark{first: o.first})
	}
}

// anomalyMark draws the first anomaly as a dashed vertical line over the
// whole data area, labelled at the bottom (band labels are at the top).
type anomalyMark struct {
	first *firstAnomaly
}

// anomalyMarkLabel is the label's text; the report's tests look for it.
func anomalyMarkLabel(f *firstAnomaly) string { return "first anomaly: " + f.Name }

// Plot implements plot.Plotter.
func (m anomalyMark) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(float64(m.first.T) / 1e9)
	if !c.ContainsX(x) {
		return
	}
	ls := draw.LineStyle{Color: colorFail, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(4), vg.Points(2)}}
	c.StrokeLine2(ls, x, c.Min.Y, x, c.Max.Y)
	sty := draw.TextStyle{Color: colorFail, Font: font.From(sansFont, 8), XAlign: draw.XLeft, YAlign: draw.YBottom, Handler: p.TextHandler}
	label := anomalyMarkLabel(m.first)
	w := sty.Rectangle(label).Max.X
	at := x + vg.Points(3)
	if at+w > c.Max.X {
		sty.XAlign = draw.XRight
		at = x - vg.Points(3)
	}
	c.FillText(sty, vg.Point{X: at, Y: c.Min.Y + vg.Points(3)}, label)
}

// latencyPoint is one operation for the latency plot.
type latencyPoint struct {
	x, y float64 // seconds, milliseconds
	typ  uint8
	f    uint16
}

// maxPlotPoints bounds the glyphs of one scatter plot: each is an SVG path,
// and a browser lays out tens of thousands of them in about a second.
const maxPlotPoints = 10000

// maxKeyPlotPoints bounds each series of a key's offset plot; there are up
// to maxKeyViews of them.
const maxKeyPlotPoints = 2000

// downsample keeps one point per cell of a cols x rows grid and series,
// which draws the same picture as all points at the plot's resolution. If
// that is still over budget the grid is coarsened step by step, so every
// series keeps its footprint in proportion (thinning evenly would hide rare
// failures; keeping failures first would exaggerate them). A last even
// stride guarantees the budget.
func downsample(pts []latencyPoint, xmax, ymin, ymax float64, logY bool, cols, rows, budget int) []latencyPoint {
	if len(pts) <= budget {
		return pts
	}
	type cellKey struct {
		cx, cy int32
		typ    uint8
		f      uint16
	}
	ly0, ly1 := ymin, ymax
	if logY {
		ly0, ly1 = math.Log10(ymin), math.Log10(ymax)
	}
	// Normalized cell coordinates are computed once; each pass only
	// rescales them.
	type norm struct{ x, y float64 }
	ns := make([]norm, len(pts))
	for i, p := range pts {
		y := p.y
		if logY {
			y = math.Log10(math.Max(p.y, ymin))
		}
		ns[i] = norm{p.x / math.Max(xmax, 1e-9), (y - ly0) / math.Max(ly1-ly0, 1e-9)}
	}
	var out []latencyPoint
	c, r := float64(cols), float64(rows)
	for pass := 0; pass < 12; pass++ {
		seen := make(map[cellKey]struct{}, budget)
		out = out[:0]
		for i, p := range pts {
			k := cellKey{cx: int32(ns[i].x * c), cy: int32(ns[i].y * r), typ: p.typ, f: p.f}
			if _, ok := seen[k]; ok {
				continue
			}
			seen[k] = struct{}{}
			out = append(out, p)
		}
		if len(out) <= budget {
			return out
		}
		c, r = c*0.75, r*0.75
	}
	return stride(out, budget)
}

func stride[T any](xs []T, n int) []T {
	if n <= 0 {
		return nil
	}
	if len(xs) <= n {
		return xs
	}
	out := make([]T, 0, n)
	step := float64(len(xs)) / float64(n)
	for i := 0; i < n; i++ {
		out = append(out, xs[int(float64(i)*step)])
	}
	return out
}

type xySlice []latencyPoint

func (s xySlice) Len() int                    { return len(s) }
func (s xySlice) XY(i int) (float64, float64) { return s[i].x, s[i].y }

// minLatencyMs keeps zero latencies drawable on the logarithmic axis.
const minLatencyMs = 0.01

// latencyPlot draws every client operation at (invoke time, latency),
// coloured by outcome and shaped by f, over the nemesis bands.
func latencyPlot(h *loadedHistory, ov overlay) (svg string, drawn, total int, err error) {
	var pts []latencyPoint
	ymax := minLatencyMs * 10
	for i := range h.events {
		e := &h.events[i]
		if e.proc < 0 || e.typ != evInvoke {
			continue
		}
		var end int64
		typ := evInfo
		if p := h.pos(e.pair); e.pair >= 0 && p >= 0 {
			end, typ = h.events[p].t, h.events[p].typ
		} else {
			end = h.end // never completed: unknown until the end
		}
		lat := math.Max(float64(end-e.t)/1e6, minLatencyMs)
		ymax = math.Max(ymax, lat)
		pts = append(pts, latencyPoint{x: float64(e.t) / 1e9, y: lat, typ: typ, f: e.f})
	}
	total = len(pts)
	xmax := math.Max(float64(h.end)/1e9, 1)
	pts = downsample(pts, xmax, minLatencyMs, ymax, true, 700, 220, maxPlotPoints)
	drawn = len(pts)

	p := newPlot("Latency of every operation", "time since start (s)", "latency (ms)")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.X.Min, p.X.Max = 0, xmax
	p.Y.Min, p.Y.Max = minLatencyMs, ymax*1.5
	ov.add(p, true)

	type sk struct {
		typ uint8
		f   uint16
	}
	series := map[sk]xySlice{}
	var order []sk
	for _, pt := range pts {
		k := sk{pt.typ, pt.f}
		if _, ok := series[k]; !ok {
			order = append(order, k)
		}
		series[k] = append(series[k], pt)
	}
	// Ok first so that failures are drawn on top.
	sortSeries(order, func(a, b sk) bool {
		if (a.typ == evOk) != (b.typ == evOk) {
			return a.typ == evOk
		}
		if a.typ != b.typ {
			return a.typ < b.typ
		}
		return h.fname(a.f) < h.fname(b.f)
	})
	for _, k := range order {
		s, err := plotter.NewScatter(series[k])
		if err != nil {
			return "", 0, 0, fmt.Errorf("latency scatter: %w", err)
		}
		s.GlyphStyle = draw.GlyphStyle{Color: typeColors[k.typ], Radius: vg.Points(1.6), Shape: glyphFor(h.fname(k.f))}
		p.Add(s)
		p.Legend.Add(h.fname(k.f)+" "+typeNames[k.typ], s)
	}
	ov.mark(p)
	svg, err = svgOf(p, 9.5*vg.Inch, 4*vg.Inch)
	return svg, drawn, total, err
}

func sortSeries[T any](xs []T, less func(a, b T) bool) {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && less(xs[j], xs[j-1]); j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
}

// throughputPlot draws completions per second by outcome.
func throughputPlot(h *loadedHistory, ov overlay) (string, error) {
	end := math.Max(float64(h.end)/1e9, 1)
	width := math.Max(end/300, 0.25)
	if end > 10 {
		width = math.Max(width, 1)
	}
	n := int(end/width) + 1
	counts := [4][]float64{}
	for t := evOk; t <= evInfo; t++ {
		counts[t] = make([]float64, n)
	}
	for i := range h.events {
		e := &h.events[i]
		if e.proc < 0 || e.typ == evInvoke {
			continue
		}
		b := int(float64(e.t) / 1e9 / width)
		if b >= n {
			b = n - 1
		}
		counts[e.typ][b]++
	}
	p := newPlot("Throughput", "time since start (s)", "completions per second")
	p.X.Min, p.X.Max = 0, end
	p.Y.Min = 0
	ov.add(p, true)
	for t := evOk; t <= evInfo; t++ {
		xys := make(plotter.XYs, n)
		any := false
		for i := range xys {
			xys[i].X = (float64(i) + 0.5) * width
			xys[i].Y = counts[t][i] / width
			any = any || counts[t][i] > 0
		}
		if !any && t != evOk {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return "", fmt.Errorf("throughput line: %w", err)
		}
		l.Color = typeColors[t]
		l.Width = vg.Points(1.2)
		p.Add(l)
		p.Legend.Add(typeNames[t], l)
	}
	ov.mark(p)
	return svgOf(p, 9.5*vg.Inch, 3*vg.Inch)
}

// keyPlot draws a key's offsets over time: acknowledged sends and records
// read, so that holes and rewrites stand out.
func keyPlot(ko *keyObservations, end int64, ov overlay) (string, error) {
	p := newPlot("Offsets of "+ko.key, "time since start (s)", "offset")
	xmax := math.Max(float64(end)/1e9, 1)
	p.X.Min, p.X.Max = 0, xmax
	ov.add(p, false)
	mk := func(obs []keyObs, typ uint8) []latencyPoint {
		pts := make([]latencyPoint, 0, len(obs))
		ymax := 1.0
		for _, o := range obs {
			pts = append(pts, latencyPoint{x: float64(o.t) / 1e9, y: float64(o.offset), typ: typ})
			ymax = math.Max(ymax, float64(o.offset))
		}
		return downsample(pts, xmax, 0, ymax, false, 500, 200, maxKeyPlotPoints)
	}
	add := func(pts []latencyPoint, name string, sty draw.GlyphStyle) error {
		if len(pts) == 0 {
			return nil
		}
		s, err := plotter.NewScatter(xySlice(pts))
		if err != nil {
			return fmt.Errorf("key scatter: %w", err)
		}
		s.GlyphStyle = sty
		p.Add(s)
		p.Legend.Add(name, s)
		return nil
	}
	if err := add(mk(ko.reads, evInvoke), "read by poll", draw.GlyphStyle{Color: colorRead, Radius: vg.Points(1.2), Shape: draw.TriangleGlyph{}}); err != nil {
		return "", err
	}
	if err := add(mk(ko.acks, evOk), "send acknowledged", draw.GlyphStyle{Color: colorOk, Radius: vg.Points(1.6), Shape: draw.CircleGlyph{}}); err != nil {
		return "", err
	}
	ov.mark(p)
	return svgOf(p, 9.5*vg.Inch, 2.6*vg.Inch)
}
