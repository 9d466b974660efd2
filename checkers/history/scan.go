package history

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
)

// ScanOptions tune Scan.
type ScanOptions struct {
	// Workers is the number of goroutines decoding lines; zero means
	// GOMAXPROCS.
	Workers int
}

// scanChunk is the number of lines decoded as one unit of work and passed
// to fn as one batch: large enough that channel hand-offs cost nothing
// next to decoding, small enough that a few chunks in flight per worker
// stay within a few megabytes.
const scanChunk = 4096

// chunk is a run of consecutive lines on their way through Scan.
type chunk struct {
	first   int64 // line number of lines[0], from 1
	lines   [][]byte
	entries []Entry
	// errAt is the position of the first line decode found wrong (lerr),
	// or len(lines); nothing after it is decoded.
	errAt int
	lerr  *lineError
	// readErr ends the stream after these lines.
	readErr error
	done    chan struct{}
}

// Scan reads a history exactly as Reader does (the same decoding, checks
// and pairing), but decodes lines on several goroutines while the caller's
// goroutine pairs them and calls fn with consecutive batches of the
// entries Next would return, in the same order, the Pending completions
// last. It returns the number of lines read and nil once fn has seen
// every entry; otherwise the first error, which is the *FormatError of the
// first malformed line (fn has then seen every entry before that line),
// an I/O error, fn's error or ctx's error.
//
// fn must not keep the batch slice, which Scan reuses, but may keep copies
// of the entries and everything they point to. Scan stops its goroutines
// before it returns.
func Scan(ctx context.Context, r io.Reader, opts ScanOptions, fn func([]Entry) error) (lines int64, err error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	// Chunks go to the workers and, in the same order, to this goroutine,
	// which waits for each to be decoded: that keeps file order without a
	// reordering buffer, and bounds the chunks in flight.
	work := make(chan *chunk, workers)
	order := make(chan *chunk, 2*workers)
	free := make(chan *chunk, 3*workers+2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(order)
		defer close(work)
		split(ctx, &lineSplitter{r: r}, free, work, order)
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := newDecoder()
			for c := range work {
				c.decodeWith(d)
				c.done <- struct{}{}
			}
		}()
	}

	p := newPairer()
	for c := range order {
		select {
		case <-c.done:
		case <-ctx.Done():
			return lines, ctx.Err()
		}
		if err := ctx.Err(); err != nil {
			return lines, err
		}
		n, err := c.pair(p)
		lines = c.first + int64(n) - 1
		if n > 0 {
			if ferr := fn(c.entries[:n]); ferr != nil {
				return lines, ferr
			}
		}
		if err != nil {
			return lines + 1, err
		}
		if c.readErr != nil {
			return lines + 1, readErr(c.readErr, lines+1)
		}
		select {
		case free <- c:
		default:
		}
	}
	if err := ctx.Err(); err != nil {
		return lines, err
	}
	if pending := p.pending(); len(pending) > 0 {
		if err := fn(pending); err != nil {
			return lines, err
		}
	}
	return lines, nil
}

// split cuts the input into chunks and hands each to the workers and to
// the pairing goroutine, until the input ends, fails or ctx is done.
func split(ctx context.Context, s *lineSplitter, free <-chan *chunk, work, order chan<- *chunk) {
	next := int64(1)
	for {
		var c *chunk
		select {
		case c = <-free:
			c.lines, c.readErr = c.lines[:0], nil
		default:
			c = &chunk{lines: make([][]byte, 0, scanChunk), entries: make([]Entry, scanChunk), done: make(chan struct{}, 1)}
		}
		c.first = next
		for len(c.lines) < scanChunk {
			line, err := s.next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					c.readErr = err
				}
				break
			}
			c.lines = append(c.lines, line)
		}
		next += int64(len(c.lines))
		if len(c.lines) == 0 && c.readErr == nil {
			return
		}
		for _, ch := range []chan<- *chunk{work, order} {
			select {
			case ch <- c:
			case <-ctx.Done():
				return
			}
		}
		if len(c.lines) < scanChunk {
			return
		}
	}
}

// decodeWith decodes the chunk's lines up to the first one that is wrong.
func (c *chunk) decodeWith(d *decoder) {
	c.errAt, c.lerr = len(c.lines), nil
	for i, line := range c.lines {
		if lerr := d.decode(line, c.first+int64(i)-1, &c.entries[i]); lerr != nil {
			c.errAt, c.lerr = i, lerr
			return
		}
	}
}

// pair runs the decoded entries through p in order. It returns how many
// are good, and the error of the first one that is not.
func (c *chunk) pair(p *pairer) (int, error) {
	for i := range c.errAt {
		if err := p.add(&c.entries[i], c.first+int64(i), nil); err != nil {
			return i, err
		}
	}
	if c.lerr != nil {
		return c.errAt, p.add(&c.entries[c.errAt], c.first+int64(c.errAt), c.lerr)
	}
	return c.errAt, nil
}
