package reports

import (
	"bufio"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strconv"
	"unicode/utf8"
)

// The history view is a client-side paginated table. Its data is a compact
// JSON array per page of pageSize events, each row
//
//	[index, time_ns, process (-1 = nemesis), type (0 invoke, 1 ok, 2 fail, 3 info),
//	 f (index into the run's f list), value (JSON text, folded), error,
//	 pair index (-1 none), pair time_ns, pair type,
//	 node (index into the run's node list, -1 none)]
//
// wrapped in a call chronikPage(n, rows) so that a page can be loaded with a
// plain <script src> tag, which browsers allow from file:// (fetch is not).
// A history whose pages together stay under maxInlineHistory bytes is
// embedded whole in index.html; a larger one embeds its first page only
// (the one the history view and the timeline open on) and writes every
// page to history-pages/cNNNNN.js next to index.html, pagesPerFile pages a
// file (a file per page would mean 2,000 files for a million operations),
// loaded when a link or the pager asks for one.
const (
	pageSize         = 1000
	pagesPerFile     = 10
	maxInlineHistory = 256 << 10
	pagesDir         = "history-pages"
)

// chunkFile names the file holding chunk c (pages c*pagesPerFile ...),
// relative to the run directory.
func chunkFile(c int) string { return fmt.Sprintf("%s/c%05d.js", pagesDir, c) }

// appendPage appends page n's data as a chronikPage(...) call.
func appendPage(b []byte, h *loadedHistory, n int) []byte {
	lo := n * pageSize
	hi := min(lo+pageSize, len(h.events))
	b = append(b, "chronikPage("...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, ",["...)
	for i := lo; i < hi; i++ {
		e := &h.events[i]
		if i > lo {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, e.idx, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, e.t, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(e.proc), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(e.typ), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(e.f), 10)
		b = append(b, ',')
		b = appendJSString(b, h.valueBytes(e))
		b = append(b, ',')
		b = appendJSString(b, h.errBytes(e))
		b = append(b, ',')
		b = strconv.AppendInt(b, e.pair, 10)
		pt, ptyp := int64(-1), int64(-1)
		if p := h.pos(e.pair); e.pair >= 0 && p >= 0 {
			pt, ptyp = h.events[p].t, int64(h.events[p].typ)
		}
		b = append(b, ',')
		b = strconv.AppendInt(b, pt, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, ptyp, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(e.node)-1, 10)
		b = append(b, ']')
	}
	return append(b, "]);\n"...)
}

// appendJSString appends s as a JSON string that is also safe inside an
// HTML <script> element: '<', '>' and '&' are escaped so "</script>" in a
// value cannot end the element.
func appendJSString(b []byte, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xf])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// writePageFiles writes every page to history-pages/, replacing what a
// previous render left there.
func writePageFiles(runDir string, h *loadedHistory, pages int) error {
	dir := filepath.Join(runDir, pagesDir)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clear history pages: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create history pages: %w", err)
	}
	buf := make([]byte, 0, 2<<20)
	for c := 0; c*pagesPerFile < pages; c++ {
		buf = buf[:0]
		for n := c * pagesPerFile; n < min(pages, (c+1)*pagesPerFile); n++ {
			buf = appendPage(buf, h, n)
		}
		if err := writeFileAtomic(filepath.Join(runDir, chunkFile(c)), buf); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes through a temporary file and a rename, so that a
// browser reading the store during a re-render never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("create %s: %w", filepath.Base(path), err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	if _, err := w.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", filepath.Base(path), err)
	}
	return nil
}

// paginate decides which history pages go inline and writes page files
// when not all of them do.
func (pg *runPage) paginate(runDir string, h *loadedHistory) error {
	pg.Pages = (len(h.events) + pageSize - 1) / pageSize
	var pages [][]byte
	total := 0
	for n := 0; n < pg.Pages && total <= maxInlineHistory; n++ {
		b := appendPage(nil, h, n)
		pages = append(pages, b)
		total += len(b)
	}
	if total <= maxInlineHistory {
		// A previous render of a larger history may have left pages.
		if err := os.RemoveAll(filepath.Join(runDir, pagesDir)); err != nil {
			return fmt.Errorf("clear history pages: %w", err)
		}
	} else {
		pg.PageFiles = true
		pages = pages[:1]
		if err := writePageFiles(runDir, h, pg.Pages); err != nil {
			return err
		}
	}
	for _, b := range pages {
		pg.InlinePages = append(pg.InlinePages, template.JS(b))
	}
	return nil
}
