package history

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// scanAll returns every entry Scan passes to its callback, the line count
// and Scan's error.
func scanAll(t *testing.T, s string) ([]Entry, int64, error) {
	t.Helper()
	var out []Entry
	n, err := Scan(context.Background(), strings.NewReader(s), ScanOptions{Workers: 3}, func(b []Entry) error {
		out = append(out, b...)
		return nil
	})
	return out, n, err
}

// longHistory writes a well-formed history of about n lines that spans
// several of Scan's chunks: clients sending and polling, clients that end
// in info and come back as new processes, a failure, overlapping nemesis
// events and an invocation left open at the end.
func longHistory(t *testing.T, n int) []string {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf, time.Now())
	write := func(op Op, ms ...Mop) {
		if ms != nil {
			if err := op.SetMops(ms); err != nil {
				t.Fatal(err)
			}
		}
		op.Time = time.Duration(w.next+1) * time.Microsecond
		if _, err := w.Write(op); err != nil {
			t.Fatal(err)
		}
	}
	procs := []int{0, 1, 2}
	next := len(procs)
	offsets := map[string]int64{}
	for i := 0; int(w.next) < n; i++ {
		pi := i % len(procs)
		p := Client(procs[pi])
		key := fmt.Sprintf("t0/%d", i%4)
		switch {
		case i%500 == 7:
			write(Op{Process: Nemesis(), Type: Invoke, F: "kill", Value: []byte(`{"nodes":["n1"]}`)})
			write(Op{Process: Nemesis(), Type: Invoke, F: "kill", Value: []byte(`{"nodes":["n2"]}`)})
			write(Op{Process: Nemesis(), Type: Info, F: "kill", Value: []byte(`{"nodes":["n1"]}`)})
			write(Op{Process: Nemesis(), Type: Info, F: "kill", Value: []byte(`{"nodes":["n2"]}`)})
		case i%3 == 0:
			write(Op{Process: p, Type: Invoke, F: FPoll}, Poll())
			o := offsets[key]
			write(Op{Process: p, Type: Ok, F: FPoll}, Mop{F: FPoll, Done: true, Polls: map[string][]Record{key: {{Offset: o - 1, Value: int64(i)}}}})
		default:
			write(Op{Process: p, Type: Invoke, F: FSend}, Send(key, int64(i)))
			switch {
			case i%97 == 0:
				write(Op{Process: p, Type: Info, F: FSend, Error: "timeout"}, Mop{F: FSend, Key: key, Value: int64(i), Done: true})
				procs[pi] = next
				next++
			case i%89 == 0:
				write(Op{Process: p, Type: Fail, F: FSend, Error: "NOT_LEADER"})
			default:
				o := offsets[key]
				offsets[key]++
				write(Op{Process: p, Type: Ok, F: FSend}, Mop{F: FSend, Key: key, Value: int64(i), Offset: &o, Done: true})
			}
		}
	}
	write(Op{Process: Client(procs[0]), Type: Invoke, F: FPoll}, Poll())
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
}

// TestScanMatchesReader checks that Scan passes exactly the entries Reader
// returns, and fails with the same error at the same line, on histories
// that span several chunks and break at and around chunk boundaries.
func TestScanMatchesReader(t *testing.T) {
	good := longHistory(t, 3*scanChunk+100)
	broken := func(line int, with string) string {
		ls := append([]string(nil), good...)
		ls[line-1] = with
		return lines(ls...)
	}
	tests := []struct {
		name    string
		history string
		errLine int64 // 0: well-formed
	}{
		{"well-formed", lines(good...), 0},
		{"no newline at the end", strings.Join(good, "\n"), 0},
		{"CRLF", strings.Join(good, "\r\n") + "\r\n", 0},
		{"empty", "", 0},
		{"bad first line", broken(1, `{"index":0`), 1},
		{"bad last line of a chunk", broken(scanChunk, `nonsense`), scanChunk},
		{"bad first line of a chunk", broken(scanChunk+1, ``), scanChunk + 1},
		{"unknown type in the second chunk", broken(scanChunk+2, strings.Replace(good[scanChunk+1], `"type":"`, `"type":"x`, 1)), scanChunk + 2},
		{"index out of place", broken(2*scanChunk+5, good[2*scanChunk+3]), 2*scanChunk + 5},
		{"last line", broken(len(good), `{}`), int64(len(good))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, rerr := readAll(t, tt.history)
			got, n, serr := scanAll(t, tt.history)
			if tt.errLine == 0 {
				if rerr != nil || serr != nil {
					t.Fatalf("reader: %v, scan: %v", rerr, serr)
				}
				if wantN := int64(strings.Count(tt.history, "\n")); !strings.HasSuffix(tt.history, "\n") && tt.history != "" {
					if n != wantN+1 {
						t.Errorf("scan read %d lines, want %d", n, wantN+1)
					}
				} else if n != wantN {
					t.Errorf("scan read %d lines, want %d", n, wantN)
				}
			} else {
				var fe *FormatError
				if !errors.As(serr, &fe) || fe.Line != tt.errLine {
					t.Fatalf("scan error %v, want a FormatError at line %d", serr, tt.errLine)
				}
				if rerr == nil || serr.Error() != rerr.Error() {
					t.Errorf("scan error %q, reader error %q", serr, rerr)
				}
				if n != tt.errLine {
					t.Errorf("scan counted %d lines, want %d", n, tt.errLine)
				}
				if len(got) != int(tt.errLine-1) {
					t.Errorf("scan passed %d entries before the bad line %d", len(got), tt.errLine)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("scan passed %d entries, reader returned %d", len(got), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("entry %d: scan %+v\nreader %+v", i, got[i], want[i])
				}
			}
		})
	}
}

// TestScanStops checks that Scan returns its callback's error or its
// context's, and stops its goroutines before returning.
func TestScanStops(t *testing.T) {
	history := lines(longHistory(t, 4*scanChunk)...)
	stop := errors.New("stop")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		fn   func(batches int) error
		want error
	}{
		{"callback error", context.Background(), func(batches int) error {
			if batches == 2 {
				return stop
			}
			return nil
		}, stop},
		{"canceled context", canceled, func(int) error { return nil }, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			batches := 0
			_, err := Scan(tt.ctx, strings.NewReader(history), ScanOptions{Workers: 2}, func([]Entry) error {
				batches++
				return tt.fn(batches)
			})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			// A goroutine that has signalled its end may take a moment to
			// be gone; one that is still blocked never goes.
			after := runtime.NumGoroutine()
			for i := 0; i < 200 && after > before; i++ {
				time.Sleep(10 * time.Millisecond)
				after = runtime.NumGoroutine()
			}
			if after > before {
				t.Errorf("%d goroutines after Scan returned, %d before", after, before)
			}
		})
	}
}

// failingReader returns its data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestScanReadError checks that an I/O error is returned as such, with the
// line it happened at, after the lines before it.
func TestScanReadError(t *testing.T) {
	good := longHistory(t, scanChunk+10)
	disk := errors.New("disk on fire")
	var got int
	n, err := Scan(context.Background(), &failingReader{data: []byte(lines(good...)), err: disk}, ScanOptions{}, func(b []Entry) error {
		got += len(b)
		return nil
	})
	if !errors.Is(err, disk) || errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want the read error", err)
	}
	if n != int64(len(good)+1) || got != len(good) {
		t.Errorf("read error at line %d after %d entries, want line %d after %d", n, got, len(good)+1, len(good))
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("line %d", len(good)+1)) {
		t.Errorf("err = %v, want it to name line %d", err, len(good)+1)
	}
}

func FuzzScanMatchesReader(f *testing.F) {
	f.Add([]byte(lines(fmt.Sprintf(invSend, 0, 1, 0, 1), fmt.Sprintf(okSend, 1, 2, 0, 0, 1))))
	f.Add([]byte(`{"index":0,"time":1,"process":"nemesis","type":"info","f":"kill","value":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		want, rerr := readAll(t, string(b))
		got, _, serr := scanAll(t, string(b))
		if (rerr == nil) != (serr == nil) || rerr != nil && rerr.Error() != serr.Error() {
			t.Fatalf("reader error %v, scan error %v", rerr, serr)
		}
		if !reflect.DeepEqual(got, want) && (len(got) > 0 || len(want) > 0) {
			t.Fatalf("scan %+v\nreader %+v", got, want)
		}
	})
}
