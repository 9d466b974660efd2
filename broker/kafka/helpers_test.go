package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/chronik-chaos/chronik/broker/recordbatch"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// startServer runs a Server over a fake backend on a loopback port.
func startServer(t testing.TB, mod func(*Config)) (*Server, *fakeBackend, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host, portS, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(portS)
	fb := newFakeBackend(host, int32(port))
	cfg := Config{Backend: fb, AutoCreateTopics: true, DefaultPartitions: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s, fb, ln.Addr().String()
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// rawConn is a hand-driven client connection for wire-level tests.
type rawConn struct {
	t    testing.TB
	c    net.Conn
	corr int32
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}
}

// frame encodes req with a request header at req's version.
func frame(req kmsg.Request, corr int32) []byte {
	b := []byte{0, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = kbin.AppendNullableString(b, strPtr("raw-test"))
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func strPtr(s string) *string { return &s }

func (r *rawConn) send(req kmsg.Request, corr int32) {
	r.t.Helper()
	if _, err := r.c.Write(frame(req, corr)); err != nil {
		r.t.Fatal(err)
	}
}

// recv reads one response frame and returns its correlation id and body
// (after the header tags when flexible is true).
func (r *rawConn) recv(flexible bool) (int32, []byte, error) {
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(r.c, size[:]); err != nil {
		return 0, nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r.c, body); err != nil {
		return 0, nil, err
	}
	corr := int32(binary.BigEndian.Uint32(body))
	body = body[4:]
	if flexible {
		body = body[1:]
	}
	return corr, body, nil
}

func tpOf(topic string, p int32) cluster.TopicPartition {
	return cluster.TopicPartition{Topic: topic, Partition: p}
}

func contextWithShortTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 50*time.Millisecond)
}

// fixCRC recomputes a batch's CRC-32C after a test edited it.
func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[recordbatch.CRC:], recordbatch.Checksum(b))
}

// callHandler runs the registered handler of req's key directly, without a
// connection (handlers that need one are not called this way).
func callHandler(ctx context.Context, s *Server, req kmsg.Request) (kmsg.Response, error) {
	entry, ok := lookupKey(req.Key())
	if !ok {
		return nil, fmt.Errorf("key %d not registered", req.Key())
	}
	return entry.handler(ctx, s, nil, req)
}
