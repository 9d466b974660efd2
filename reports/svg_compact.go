package reports

import (
	"strconv"
	"strings"
)

// compactSVG shrinks the SVG gonum's vgsvg writes without changing the
// picture: every number in a path is rounded to a tenth of a point (the
// plots are under 700 points wide, so that is below a pixel), the points
// after a subpath's start are written relative to the one before (a glyph
// is then a start and a few short steps), and runs of consecutive paths
// with the same style become one path of several subpaths. A scatter plot of ten thousand glyphs drops from about 1 MB to
// a third of that, and the browser lays out one element per series
// instead of one per point. Overlapping glyphs of one series are opaque,
// so drawing them as one path (nonzero fill) looks the same; overlapping
// translucent bands of one family are drawn once instead of twice, which
// only makes their overlap no darker than the rest of the band.
func compactSVG(s string) string {
	const open, mid, end = `<path d="`, `" style="`, `" />`
	var b strings.Builder
	b.Grow(len(s) / 2)
	curStyle := ""
	inPath, pathNL := false, false
	var toks []pathToken
	type dotKey struct {
		col   string
		width int64
	}
	dotStyles := map[dotKey]string{}
	flush := func() {
		if inPath {
			b.WriteString(`" style="`)
			b.WriteString(curStyle)
			b.WriteString(`" />`)
			if pathNL {
				b.WriteByte('\n')
			}
			inPath = false
		}
	}
	for len(s) > 0 {
		nl := strings.IndexByte(s, '\n')
		line := s
		if nl >= 0 {
			line, s = s[:nl], s[nl+1:]
		} else {
			s = ""
		}
		d, style, ok := splitPath(line, open, mid, end)
		dot := false
		var cx, cy int64
		if ok {
			var col string
			var w int64
			toks, cx, cy, w, col, dot = asDot(d, style, toks[:0])
			if dot {
				k := dotKey{col, w}
				st, seen := dotStyles[k]
				if !seen {
					var sb strings.Builder
					sb.WriteString("fill:none;stroke:#" + col + ";stroke-width:")
					writeTenths(&sb, w)
					sb.WriteString(";stroke-linecap:round")
					st = sb.String()
					dotStyles[k] = st
				}
				style = st
			}
		}
		if !ok {
			flush()
			b.WriteString(line)
			if nl >= 0 {
				b.WriteByte('\n')
			}
			continue
		}
		if !inPath || style != curStyle {
			flush()
			b.WriteString(open)
			curStyle, inPath = style, true
		}
		pathNL = nl >= 0
		if dot {
			b.WriteByte('M')
			writeTenths(&b, cx)
			b.WriteByte(',')
			writeTenths(&b, cy)
			b.WriteString("h0")
		} else {
			toks = writePathData(&b, d, toks[:0])
		}
	}
	flush()
	return b.String()
}

// asDot recognizes a filled circle as vgsvg draws it (two half-circle
// arcs from the rightmost point, "M x,y A r,r 0 1 1 x-2r,y A r,r 0 1 1 x,y
// Z", style "fill:#RRGGBB"), which compactSVG writes as a zero-length line
// with round caps of width 2r centred on (cx, cy): the same disc in a
// quarter of the bytes. Coordinates are in tenths; toks is scratch space,
// returned for reuse.
func asDot(d, style string, toks []pathToken) (_ []pathToken, cx, cy, width int64, col string, ok bool) {
	col, isFill := strings.CutPrefix(style, "fill:#")
	if !isFill || len(col) != 6 || strings.ContainsAny(col, ";:") || !strings.HasSuffix(d, "Z") || strings.Count(d, "A") != 2 {
		return toks, 0, 0, 0, "", false
	}
	toks, ok = pathTokens(d, toks)
	if !ok || len(toks) != 20 || toks[0].cmd != 'M' || toks[3].cmd != 'A' || toks[11].cmd != 'A' || toks[19].cmd != 'Z' {
		return toks, 0, 0, 0, "", false
	}
	x, y := toks[1].tenths, toks[2].tenths
	a1, a2 := toks[4:11], toks[12:19]
	r := a1[0].tenths
	if r <= 0 || a1[1].tenths != r || a2[0].tenths != r || a2[1].tenths != r ||
		a1[2].tenths != 0 || a1[3].tenths != 10 || a1[4].tenths != 10 || a2[2].tenths != 0 || a2[3].tenths != 10 || a2[4].tenths != 10 ||
		a1[5].tenths != x-2*r || a1[6].tenths != y || a2[5].tenths != x || a2[6].tenths != y {
		return toks, 0, 0, 0, "", false
	}
	return toks, x - r, y, 2 * r, col, true
}

// splitPath recognizes a line that is exactly <path d="D" style="S" />.
func splitPath(line, open, mid, end string) (d, style string, ok bool) {
	if !strings.HasPrefix(line, open) || !strings.HasSuffix(line, end) {
		return "", "", false
	}
	body := line[len(open) : len(line)-len(end)]
	i := strings.Index(body, mid)
	if i < 0 || strings.ContainsAny(body[:i], `"<>`) || strings.ContainsAny(body[i+len(mid):], `"<>`) {
		return "", "", false
	}
	return body[:i], body[i+len(mid):], true
}

// roundNumbers writes path data d with every decimal number rounded to one
// decimal (trailing zeros dropped).
func roundNumbers(b *strings.Builder, d string) {
	for i := 0; i < len(d); {
		c := d[i]
		if c < '0' || c > '9' {
			b.WriteByte(c)
			i++
			continue
		}
		j := i
		for j < len(d) && d[j] >= '0' && d[j] <= '9' {
			j++
		}
		if j >= len(d) || d[j] != '.' {
			b.WriteString(d[i:j])
			i = j
			continue
		}
		k := j + 1
		for k < len(d) && d[k] >= '0' && d[k] <= '9' {
			k++
		}
		writeRounded(b, d[i:j], d[j+1:k])
		i = k
	}
}

// writeRounded writes the number intPart.frac rounded to one decimal.
func writeRounded(b *strings.Builder, intPart, frac string) {
	if len(frac) == 0 {
		b.WriteString(intPart)
		return
	}
	tenth := int(frac[0] - '0')
	if len(frac) > 1 && frac[1] >= '5' {
		tenth++
	}
	if tenth == 10 {
		// Carry into the integer part.
		ip := []byte(intPart)
		i := len(ip) - 1
		for ; i >= 0; i-- {
			if ip[i] == '9' {
				ip[i] = '0'
				continue
			}
			ip[i]++
			break
		}
		if i < 0 {
			ip = append([]byte{'1'}, ip...)
		}
		b.Write(ip)
		return
	}
	b.WriteString(intPart)
	if tenth > 0 {
		b.WriteByte('.')
		b.WriteByte(byte('0' + tenth))
	}
}

// writePathData writes path data d compacted: coordinates rounded to
// tenths and, for the commands vgsvg writes (M, L, A, Z), every point but
// a subpath's first relative to the previous one. Rounding the absolute
// points first and taking differences of the rounded values keeps the
// relative steps exact, so errors never accumulate along a path. Data with
// any other command is only rounded.
func writePathData(b *strings.Builder, d string, toks []pathToken) []pathToken {
	toks, ok := pathTokens(d, toks)
	if !ok {
		roundNumbers(b, d)
		return toks
	}
	var cx, cy int64 // the current point, in tenths
	for i := 0; i < len(toks); {
		cmd := toks[i].cmd
		i++
		switch cmd {
		case 'M':
			x, y := toks[i].tenths, toks[i+1].tenths
			i += 2
			b.WriteByte('M')
			writeTenths(b, x)
			b.WriteByte(',')
			writeTenths(b, y)
			cx, cy = x, y
		case 'L':
			x, y := toks[i].tenths, toks[i+1].tenths
			i += 2
			b.WriteByte('l')
			writeTenths(b, x-cx)
			b.WriteByte(',')
			writeTenths(b, y-cy)
			cx, cy = x, y
		case 'A':
			a := toks[i : i+7]
			i += 7
			b.WriteByte('a')
			writeTenths(b, a[0].tenths)
			b.WriteByte(',')
			writeTenths(b, a[1].tenths)
			for _, f := range a[2:5] {
				b.WriteByte(' ')
				writeTenths(b, f.tenths)
			}
			b.WriteByte(' ')
			writeTenths(b, a[5].tenths-cx)
			b.WriteByte(',')
			writeTenths(b, a[6].tenths-cy)
			cx, cy = a[5].tenths, a[6].tenths
		case 'Z':
			b.WriteByte('Z')
		}
	}
	return toks
}

// pathToken is a command letter (cmd != 0) or a number in tenths.
type pathToken struct {
	cmd    byte
	tenths int64
}

// pathArgs is how many numbers follow each command pathTokens knows, -1
// for the others.
func pathArgs(c byte) int {
	switch c {
	case 'M', 'L':
		return 2
	case 'A':
		return 7
	case 'Z':
		return 0
	}
	return -1
}

// pathTokens appends d's commands and numbers to toks; ok is false for
// anything but M x,y / L x,y / A rx,ry rot large sweep x,y / Z with the
// right number of arguments.
func pathTokens(d string, toks []pathToken) (_ []pathToken, ok bool) {
	want := -1
	for i := 0; i < len(d); {
		c := d[i]
		switch {
		case c == ' ' || c == ',':
			i++
		case c == '-' || c == '.' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(d) && (d[j] == '.' || d[j] >= '0' && d[j] <= '9') {
				j++
			}
			v, ok := parseTenths(d[i:j])
			if !ok || want <= 0 {
				return toks, false
			}
			toks = append(toks, pathToken{tenths: v})
			want--
			i = j
		default:
			n := pathArgs(c)
			if n < 0 || want > 0 {
				return toks, false
			}
			toks = append(toks, pathToken{cmd: c})
			want = n
			i++
		}
	}
	if want > 0 || len(toks) == 0 || toks[0].cmd != 'M' {
		return toks, false
	}
	return toks, true
}

// parseTenths reads a decimal number rounded to tenths (half away from
// zero).
func parseTenths(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	ip, frac, _ := strings.Cut(s, ".")
	if ip == "" && frac == "" {
		return 0, false
	}
	var v int64
	for _, c := range ip {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	v *= 10
	if len(frac) > 0 {
		for _, c := range frac {
			if c < '0' || c > '9' {
				return 0, false
			}
		}
		v += int64(frac[0] - '0')
		if len(frac) > 1 && frac[1] >= '5' {
			v++
		}
	}
	if neg {
		v = -v
	}
	return v, true
}

// writeTenths writes v/10 with at most one decimal.
func writeTenths(b *strings.Builder, v int64) {
	if v < 0 {
		b.WriteByte('-')
		v = -v
	}
	var buf [20]byte
	b.Write(strconv.AppendInt(buf[:0], v/10, 10))
	if r := v % 10; r != 0 {
		b.WriteByte('.')
		b.WriteByte(byte('0' + r))
	}
}
