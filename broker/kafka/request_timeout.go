package kafka

import (
	"context"
	"time"
)

// withTimeoutMillis bounds ctx by a request's own timeout field
// (CreateTopics, DeleteTopics); a timeout of 0 or less leaves ctx as it is,
// under the connection's own bound (maxRequestTime).
func withTimeoutMillis(ctx context.Context, ms int32) (context.Context, context.CancelFunc) {
	if ms <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
}
