package checkers

import (
	"context"
	"errors"
	"io"

	"github.com/chronik-chaos/chronik/checkers/history"
)

// feed reads rd to its end and hands every entry to observe, in history
// order. Decoding is half the work of a check: a second goroutine parses
// lines while the calling one feeds the checkers, so two cores share the
// load; entries travel in batches to keep channel overhead small. It
// returns how many entries were observed, and timedOut when ctx ended
// before the history did (the rest is unread); err is the reader's error
// (a malformed line wraps ErrMalformed).
func feed(ctx context.Context, rd *history.Reader, observe func(*history.Entry)) (n int64, timedOut bool, err error) {
	batches := make(chan []history.Entry, 4)
	readErr := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(batches)
		for {
			batch := make([]history.Entry, 0, 512)
			for len(batch) < cap(batch) {
				e, err := rd.Next()
				if err != nil {
					if len(batch) > 0 {
						select {
						case batches <- batch:
						case <-stop:
						}
					}
					readErr <- err
					return
				}
				batch = append(batch, e)
			}
			select {
			case batches <- batch:
			case <-stop:
				readErr <- ctx.Err()
				return
			}
		}
	}()
	for batch := range batches {
		for i := range batch {
			observe(&batch[i])
		}
		n += int64(len(batch))
		if ctx.Err() != nil {
			return n, true, nil
		}
	}
	if err := <-readErr; !errors.Is(err, io.EOF) {
		return n, false, err
	}
	return n, false, nil
}
