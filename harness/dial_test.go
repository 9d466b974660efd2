package harness

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// timeoutErr is what net.Dialer returns when its timeout runs out.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestDialGuard(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	timedOut := &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}
	type step struct {
		at      time.Duration // since the first dial
		result  error         // what the network answers, if dialed
		dialed  bool          // the dial reached the network
		wantErr bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"refused, then avoided, then probed and found", []step{
			{at: 0, result: refused, dialed: true, wantErr: true},
			{at: 100 * time.Millisecond, dialed: false, wantErr: true},
			{at: 600 * time.Millisecond, result: nil, dialed: true},
			{at: 700 * time.Millisecond, result: nil, dialed: true},
		}},
		{"a timeout is reported as a non-timeout dial error", []step{
			{at: 0, result: timedOut, dialed: true, wantErr: true},
			{at: 400 * time.Millisecond, dialed: false, wantErr: true},
		}},
		{"a failed probe keeps the node down", []step{
			{at: 0, result: refused, dialed: true, wantErr: true},
			{at: 600 * time.Millisecond, result: refused, dialed: true, wantErr: true},
			{at: 1000 * time.Millisecond, dialed: false, wantErr: true},
			{at: 1200 * time.Millisecond, result: nil, dialed: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := time.Unix(0, 0)
			now := base
			g := newDialGuard(time.Second, 500*time.Millisecond)
			g.now = func() time.Time { return now }
			for i, s := range tt.steps {
				now = base.Add(s.at)
				dialed := false
				g.dial = func(context.Context, string, string) (net.Conn, error) {
					dialed = true
					if s.result != nil {
						return nil, s.result
					}
					c1, c2 := net.Pipe()
					c2.Close()
					return c1, nil
				}
				conn, err := g.DialContext(context.Background(), "tcp", "10.0.0.1:9092")
				if conn != nil {
					conn.Close()
				}
				if dialed != s.dialed || (err != nil) != s.wantErr {
					t.Fatalf("step %d at %v: dialed %v err %v, want dialed %v error %v", i, s.at, dialed, err, s.dialed, s.wantErr)
				}
				if err == nil {
					continue
				}
				var ne net.Error
				if !errors.As(err, &ne) || ne.Timeout() || !isDialErr(err) {
					t.Errorf("step %d: %v should be a dial error without timeout", i, err)
				}
			}
		})
	}
}
