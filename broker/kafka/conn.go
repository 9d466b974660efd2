package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clientConn is one client connection. One goroutine (serve) reads frames,
// decodes them and starts a handler goroutine per request; another (write)
// writes responses strictly in request order, waiting for each request's
// handler in turn. Kafka clients match responses by order as much as by
// correlation id, so the order is a hard rule, not an optimisation.
//
// Requests run concurrently, produce requests included, so that pipelined
// produce requests share Raft commits and fsyncs. The order of batches per
// partition is kept by produce chains (see produce_chain.go), built here in
// request order.
type clientConn struct {
	s      *Server
	conn   net.Conn
	remote string
	ctx    context.Context
	cancel context.CancelFunc
	queue  chan *pending
	// chains holds, per partition, the link of the latest produce request
	// of this connection (reader goroutine only).
	chains map[cluster.TopicPartition]*chainLink
	// clientID is the client id of the latest request (JoinGroup uses it
	// as the member id prefix and DescribeGroups reports it).
	clientID atomic.Pointer[string]
}

// pending is one request between decoding and its response being written.
type pending struct {
	key      int16
	version  int16
	corr     int32
	clientID string
	req      kmsg.Request
	links    map[cluster.TopicPartition]*chainLink // produce only
	done     chan struct{}
	resp     kmsg.Response
	err      error
}

func newClientConn(s *Server, c net.Conn) *clientConn {
	ctx, cancel := context.WithCancel(context.Background())
	return &clientConn{
		s:      s,
		conn:   c,
		remote: c.RemoteAddr().String(),
		ctx:    ctx,
		cancel: cancel,
		queue:  make(chan *pending, s.cfg.MaxInFlight),
		chains: map[cluster.TopicPartition]*chainLink{},
	}
}

// close aborts the connection: handlers see a cancelled context, both loops
// end.
func (cc *clientConn) close() {
	cc.cancel()
	cc.conn.Close()
}

// serve runs the read loop and, beside it, the write loop; it returns when
// both have ended.
func (cc *clientConn) serve() {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		cc.write()
	}()
	err := cc.read()
	var perr *protocolError
	if errors.As(err, &perr) {
		// Kafka reads a connection's next request only after it has sent
		// the answer to the previous one (the processor mutes the channel
		// per request), so a request it cannot parse, an unsupported
		// version included, closes the connection after every earlier
		// request was answered. Pipelining clients rely on that:
		// kafka-python's version probe sends Metadata v0 right behind
		// ApiVersions and needs the ApiVersions answer either way.
		cc.s.log.Warn("closing kafka connection after answering earlier requests", "remote", cc.remote, "err", err)
		close(cc.queue)
		<-writerDone
		cc.cancel()
		cc.conn.Close()
		return
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && cc.ctx.Err() == nil {
		cc.s.log.Warn("closing kafka connection", "remote", cc.remote, "err", err)
	}
	// The client is gone: requests already queued are still answered if
	// the handlers finish quickly; cancelling makes long waits (Fetch max
	// wait, JoinGroup) end.
	cc.cancel()
	close(cc.queue)
	<-writerDone
	cc.conn.Close()
}

// protocolError is a request the connection cannot serve (a frame above
// the limit, an unknown key, an unsupported version, a malformed body), as
// opposed to the transport failing. See serve.
type protocolError struct{ err error }

func (e *protocolError) Error() string { return e.err.Error() }
func (e *protocolError) Unwrap() error { return e.err }

// read reads frames until an error; each decoded request is queued for the
// writer and handed to a handler goroutine.
func (cc *clientConn) read() error {
	var size [4]byte
	for {
		if _, err := io.ReadFull(cc.conn, size[:]); err != nil {
			return err
		}
		n := int32(binary.BigEndian.Uint32(size[:]))
		if n < 0 || n > cc.s.cfg.MaxFrameBytes {
			return &protocolError{fmt.Errorf("read frame: size %d outside 0..%d", n, cc.s.cfg.MaxFrameBytes)}
		}
		body, err := readBody(cc.conn, int(n))
		if err != nil {
			return fmt.Errorf("read frame body: %w", err)
		}
		p, err := decodeRequest(body)
		if err != nil {
			return &protocolError{err}
		}
		if p.clientID != "" {
			id := p.clientID
			cc.clientID.Store(&id)
		}
		select {
		case cc.queue <- p:
		case <-cc.ctx.Done():
			return cc.ctx.Err()
		}
		if p.resp != nil { // answered while decoding (ApiVersions fallback)
			close(p.done)
			continue
		}
		if p.key == 0 {
			p.links = cc.linkProduce(p.req.(*kmsg.ProduceRequest))
		}
		go cc.handle(p)
	}
}

// readBody reads an n-byte frame body. Memory grows with the bytes that
// actually arrive, not with the size the client announced: a client that
// claims 100 MiB and sends nothing must not make us allocate 100 MiB.
func readBody(r io.Reader, n int) ([]byte, error) {
	const eager = 1 << 20
	if n <= eager {
		body := make([]byte, n)
		_, err := io.ReadFull(r, body)
		return body, err
	}
	var buf bytes.Buffer
	buf.Grow(eager)
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// errUnsupportedVersion is decodeRequest's error for a version outside the
// served range of a key other than ApiVersions.
var errUnsupportedVersion = errors.New("unsupported request version")

// decodeRequest parses one frame body: the request header (v1, or v2 with
// tagged fields when the request version is flexible, KIP-482) and the
// request. An ApiVersions request of a version we do not serve is answered
// without parsing its body (KIP-511): the client may be newer than us and
// the body's layout unknown. Every other problem is an error, which closes
// the connection; decodeRequest never panics on any input.
func decodeRequest(body []byte) (p *pending, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("decode request: panic: %v", r)
		}
	}()
	rd := kbin.Reader{Src: body}
	key, version, corr := rd.Int16(), rd.Int16(), rd.Int32()
	cid := rd.NullableString()
	if !rd.Ok() {
		return nil, errors.New("decode request header: short frame")
	}
	entry, ok := lookupKey(key)
	if !ok {
		return nil, fmt.Errorf("decode request: unsupported key %d", key)
	}
	p = &pending{key: key, version: version, corr: corr, done: make(chan struct{})}
	if cid != nil {
		p.clientID = *cid
	}
	if version < entry.min || version > entry.max {
		if key == 18 && version > entry.max {
			p.resp = unsupportedApiVersions()
			return p, nil
		}
		return nil, fmt.Errorf("decode %s v%d (serving %d..%d): %w", kmsg.NameForKey(key), version, entry.min, entry.max, errUnsupportedVersion)
	}
	req := kmsg.RequestForKey(key)
	req.SetVersion(version)
	if req.IsFlexible() {
		kmsg.SkipTags(&rd)
		if !rd.Ok() {
			return nil, errors.New("decode request header: bad tagged fields")
		}
	}
	if err := req.ReadFrom(rd.Src); err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w", kmsg.NameForKey(key), version, err)
	}
	p.req = req
	return p, nil
}

// handle runs the handler of p, recovering from panics so that one bad
// request cannot take the server down: the panic is logged with its stack
// and the connection closed.
func (cc *clientConn) handle(p *pending) {
	defer close(p.done)
	// Whatever happens, later produce requests must not wait on p forever.
	defer finishLinks(p.links)
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			cc.s.log.Error("kafka handler panic", "api", kmsg.NameForKey(p.key), "version", p.version,
				"remote", cc.remote, "panic", r, "stack", string(debug.Stack()))
			p.resp, p.err = nil, fmt.Errorf("handle %s: panic: %v", kmsg.NameForKey(p.key), r)
		}
		cc.s.cfg.Metrics.observe(p.key, p.resp, p.err, time.Since(start))
	}()
	if resp, err, handled := cc.s.ctl.run(p.req); handled {
		p.resp, p.err = resp, err
		return
	}
	entry, _ := lookupKey(p.key)
	ctx := cc.ctx
	if p.key != 11 && p.key != 14 {
		// A safety net under every Backend call: nothing but a JoinGroup
		// or SyncGroup (bounded by the group's rebalance timeout) may hold
		// a request slot for long, whatever the core does without quorum.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, maxRequestTime)
		defer cancel()
	}
	if p.links != nil {
		ctx = withLinks(ctx, p.links)
	}
	p.resp, p.err = entry.handler(ctx, cc.s, cc, p.req)
}

// writeTimeout bounds writing one response.
const writeTimeout = 30 * time.Second

// maxRequestTime bounds the handling of one request other than JoinGroup
// and SyncGroup; it exceeds Fetch's longest wait (maxFetchWait).
const maxRequestTime = 60 * time.Second

// write writes responses in queue (= request) order.
func (cc *clientConn) write() {
	var buf []byte
	for p := range cc.queue {
		<-p.done
		if p.err != nil {
			if cc.ctx.Err() == nil {
				cc.s.log.Warn("kafka request failed, closing connection", "remote", cc.remote,
					"api", kmsg.NameForKey(p.key), "err", p.err)
			}
			cc.close()
			continue // drain so that handlers never block
		}
		if p.resp == nil || cc.ctx.Err() != nil {
			continue
		}
		buf = appendResponse(buf[:0], p.corr, p.resp)
		// A client that stops reading (or vanished behind a partition)
		// must not pin this connection's goroutines forever.
		_ = cc.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := cc.conn.Write(buf); err != nil {
			cc.close()
		}
	}
}

// appendResponse frames a response: size, correlation id, the header's
// tagged fields when flexible (ApiVersions always uses header v0, so that
// a client that does not know our version can still read it), the body.
func appendResponse(dst []byte, corr int32, resp kmsg.Response) []byte {
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	if resp.IsFlexible() && resp.Key() != 18 {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[:4], uint32(len(dst)-4))
	return dst
}

// unsupportedApiVersions is the v0 answer to an ApiVersions request of a
// version above ours: UNSUPPORTED_VERSION plus our whole key table, so the
// client can retry with a version we serve.
func unsupportedApiVersions() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = SupportedVersions()
	return resp
}
