package history

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxLineBytes bounds one line of history.jsonl. A poll that returns a
// thousand records is about 30 KiB; 16 MiB leaves room for huge polls while
// keeping a corrupt file (say, a binary blob without newlines) from eating
// all memory.
const MaxLineBytes = 16 << 20

// splitBlock is the size of the blocks lines are read into.
const splitBlock = 1 << 20

// errTooLong is returned by lineSplitter.next for a line over MaxLineBytes.
var errTooLong = errors.New("line too long")

// lineSplitter cuts a stream into lines. Every line it returns is a
// sub-slice of a block that is never written again, so decoded entries
// may point into their line (Entry.Value) instead of copying it.
type lineSplitter struct {
	r io.Reader
	// buf[pos:] is read but not yet returned; buf[scanned:] has not been
	// searched for a newline.
	buf     []byte
	pos     int
	scanned int
	eof     bool
}

// next returns the next line without its line ending, io.EOF after the
// last one, errTooLong, or an I/O error.
func (s *lineSplitter) next() ([]byte, error) {
	for {
		if i := bytes.IndexByte(s.buf[s.scanned:], '\n'); i >= 0 {
			end := s.scanned + i
			line := dropCR(s.buf[s.pos:end:end])
			s.pos, s.scanned = end+1, end+1
			if len(line) > MaxLineBytes {
				return nil, errTooLong
			}
			return line, nil
		}
		s.scanned = len(s.buf)
		if len(s.buf)-s.pos > MaxLineBytes {
			return nil, errTooLong
		}
		if s.eof {
			if s.pos == len(s.buf) {
				return nil, io.EOF
			}
			line := s.buf[s.pos:len(s.buf):len(s.buf)]
			s.pos = len(s.buf)
			return dropCR(line), nil
		}
		if err := s.fill(); err != nil {
			return nil, err
		}
	}
}

// fill reads more input after buf, moving the unfinished line to a fresh
// block when buf is full (the lines before it stay where they are).
func (s *lineSplitter) fill() error {
	if len(s.buf) == cap(s.buf) {
		rest := s.buf[s.pos:]
		nb := make([]byte, len(rest), min(max(splitBlock, 2*len(rest)), MaxLineBytes+2))
		copy(nb, rest)
		s.buf, s.scanned, s.pos = nb, len(rest), 0
	}
	// A reader that keeps returning nothing is broken; bound the retries
	// as bufio.Scanner does.
	for range 100 {
		n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		switch {
		case errors.Is(err, io.EOF):
			s.eof = true
			return nil
		case err != nil:
			return err
		case n > 0:
			return nil
		}
	}
	return io.ErrNoProgress
}

func dropCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

// readErr turns an error of lineSplitter.next at line into the Reader's.
func readErr(err error, line int64) error {
	if errors.Is(err, errTooLong) {
		return &FormatError{Line: line, Msg: fmt.Sprintf("line longer than %d bytes", MaxLineBytes)}
	}
	return fmt.Errorf("read history line %d: %w", line, err)
}
