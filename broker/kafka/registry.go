package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handlerFunc serves one decoded request. A returned Kafka response is
// written back in request order; a nil response with a nil error writes
// nothing (acks=0 produce); a non-nil error closes the connection, which is
// how Kafka answers a request it cannot answer with an error code.
type handlerFunc func(ctx context.Context, s *Server, cc *clientConn, req kmsg.Request) (kmsg.Response, error)

// typed adapts a handler written for one request type to handlerFunc: it
// asserts the request's type and hands the handler the empty response of
// the request's version, which the handler fills. A request with its own
// TimeoutMillis (Produce, CreateTopics, DeleteTopics) is bounded by it. A
// nil error answers with the response, errNoResponse answers nothing
// (acks=0 produce), any other error closes the connection.
func typed[Req kmsg.Request, Resp kmsg.Response](h func(ctx context.Context, s *Server, cc *clientConn, req Req, resp Resp) error) handlerFunc {
	return func(ctx context.Context, s *Server, cc *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
		if tr, ok := kreq.(kmsg.TimeoutRequest); ok {
			var cancel context.CancelFunc
			ctx, cancel = withTimeoutMillis(ctx, tr.Timeout())
			defer cancel()
		}
		req := kreq.(Req)
		resp := req.ResponseKind().(Resp)
		switch err := h(ctx, s, cc, req, resp); {
		case errors.Is(err, errNoResponse):
			return nil, nil
		case err != nil:
			return nil, err
		}
		return resp, nil
	}
}

// errNoResponse tells typed to write no response.
var errNoResponse = errors.New("no response")

// apiEntry is one registered API key: the versions we serve and the handler.
type apiEntry struct {
	key     int16
	min     int16
	max     int16
	handler handlerFunc
}

var (
	registryMu sync.Mutex
	registry   = map[int16]apiEntry{}
)

// regKey registers an API key, its served version range and its handler.
// Every NN_api.go file calls it from init, and ApiVersions answers from this
// table, so the advertised ranges cannot drift from what is implemented.
// Registering a key twice, an inverted range, or a range beyond what kmsg can
// encode is a programmer error and panics at start.
func regKey(key, minV, maxV int16, h handlerFunc) {
	registryMu.Lock()
	defer registryMu.Unlock()
	req := kmsg.RequestForKey(key)
	switch {
	case req == nil:
		panic(fmt.Sprintf("kafka: regKey: unknown key %d", key))
	case minV < 0 || maxV < minV:
		panic(fmt.Sprintf("kafka: regKey: bad range %d..%d for key %d", minV, maxV, key))
	case maxV > req.MaxVersion():
		panic(fmt.Sprintf("kafka: regKey: key %d max %d beyond kmsg's %d", key, maxV, req.MaxVersion()))
	}
	if _, dup := registry[key]; dup {
		panic(fmt.Sprintf("kafka: regKey: key %d registered twice", key))
	}
	registry[key] = apiEntry{key: key, min: minV, max: maxV, handler: h}
}

// lookupKey returns the registration of key.
func lookupKey(key int16) (apiEntry, bool) {
	registryMu.Lock()
	defer registryMu.Unlock()
	e, ok := registry[key]
	return e, ok
}

// SupportedVersions returns every served API key with its version range,
// sorted by key. Tests and the README use it; ApiVersions answers from it.
func SupportedVersions() []kmsg.ApiVersionsResponseApiKey {
	registryMu.Lock()
	defer registryMu.Unlock()
	out := make([]kmsg.ApiVersionsResponseApiKey, 0, len(registry))
	for _, e := range registry {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = e.key, e.min, e.max
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ApiKey < out[j].ApiKey })
	return out
}
