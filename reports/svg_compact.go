package reports

import (
	"strings"
)

// compactSVG shrinks the SVG gonum's vgsvg writes without changing the
// picture: every number in a path is rounded to a tenth of a point (the
// plots are under 700 points wide, so that is below a pixel) and runs of
// consecutive paths with the same style become one path of several
// subpaths. A scatter plot of ten thousand glyphs drops from about 1 MB to
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
	inPath := false
	flush := func() {
		if inPath {
			b.WriteString(`" style="`)
			b.WriteString(curStyle)
			b.WriteString(`" />`)
			b.WriteByte('\n')
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
		if !ok {
			flush()
			b.WriteString(line)
			if nl >= 0 || len(s) > 0 {
				b.WriteByte('\n')
			}
			continue
		}
		if inPath && style == curStyle {
			roundNumbers(&b, d)
			continue
		}
		flush()
		b.WriteString(open)
		roundNumbers(&b, d)
		curStyle, inPath = style, true
	}
	flush()
	return b.String()
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
