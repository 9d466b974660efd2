package kafka

// DeleteTopics: v0-5
//
// Behavior:
// * Topics are deleted through __meta (Backend.DeleteTopics); the error of
//   each topic is reported on its own.
// * TimeoutMillis bounds the wait for the deletions to commit.
//
// Version notes:
// * v1: ThrottleMillis
// * v4: flexible versions
// * v5: ErrorMessage
// (v6 names topics by id; not served.)

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(20, 0, 5, handleDeleteTopics) }

func handleDeleteTopics(ctx context.Context, s *Server, _ *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	if req.TimeoutMillis > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMillis)*time.Millisecond)
		defer cancel()
	}
	if len(req.TopicNames) == 0 {
		return resp, nil
	}
	errs := s.backend.DeleteTopics(ctx, req.TopicNames)
	for i, name := range req.TopicNames {
		st := kmsg.NewDeleteTopicsResponseTopic()
		n := name
		st.Topic = &n
		if i < len(errs) && errs[i] != nil {
			st.ErrorCode = errCode(errs[i])
			if req.Version >= 5 {
				msg := errs[i].Error()
				st.ErrorMessage = &msg
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}
