package kafka

import (
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ControlFunc intercepts a request before its handler runs (tests only, as
// franz-go's kfake ControlKey). It returns handled=false to let the normal
// handler run (after, for example, sleeping to delay the request).
// handled=true answers with resp: a nil resp and nil err drop the request
// (no response is written, the client times out); a non-nil err closes the
// connection.
type ControlFunc func(req kmsg.Request) (resp kmsg.Response, err error, handled bool)

// controls holds the installed ControlFuncs by API key.
type controls struct {
	mu   sync.Mutex
	next uint64
	fns  map[int16]map[uint64]ControlFunc
}

// ControlKey installs fn for every request of API key until the returned
// function is called. Several functions for one key run in installation
// order until one handles the request.
func (s *Server) ControlKey(key int16, fn ControlFunc) (remove func()) {
	c := &s.ctl
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fns == nil {
		c.fns = map[int16]map[uint64]ControlFunc{}
	}
	if c.fns[key] == nil {
		c.fns[key] = map[uint64]ControlFunc{}
	}
	c.next++
	id := c.next
	c.fns[key][id] = fn
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.fns[key], id)
	}
}

// run offers req to the control functions of its key.
func (c *controls) run(req kmsg.Request) (kmsg.Response, error, bool) {
	c.mu.Lock()
	byID := c.fns[req.Key()]
	ids := make([]uint64, 0, len(byID))
	fns := make(map[uint64]ControlFunc, len(byID))
	for id, fn := range byID {
		ids = append(ids, id)
		fns[id] = fn
	}
	c.mu.Unlock()
	if len(ids) == 0 {
		return nil, nil, false
	}
	slices.Sort(ids)
	for _, id := range ids {
		if resp, err, handled := fns[id](req); handled {
			return resp, err, true
		}
	}
	return nil, nil, false
}
