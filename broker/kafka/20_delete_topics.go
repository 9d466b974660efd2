package kafka

// DeleteTopics: v0-6
//
// Behavior:
// * Topics are deleted through __meta (Backend.DeleteTopics); the error of
//   each topic is reported on its own, in request order.
// * v6 names each topic by name or by id. As in Kafka's controller: an
//   entry with neither, or with both, is INVALID_REQUEST; an unknown id is
//   UNKNOWN_TOPIC_ID; a deleted topic is answered with its name and id.
// * TimeoutMillis bounds the wait for the deletions to commit.
//
// Version notes:
// * v1: ThrottleMillis
// * v4: flexible versions
// * v5: ErrorMessage
// * v6: Topics by name or id (KIP-516)

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(20, 0, 6, typed(handleDeleteTopics)) }

func handleDeleteTopics(ctx context.Context, s *Server, _ *clientConn, req *kmsg.DeleteTopicsRequest, resp *kmsg.DeleteTopicsResponse) error {
	named := req.Topics
	if req.Version < 6 {
		named = make([]kmsg.DeleteTopicsRequestTopic, len(req.TopicNames))
		for i := range req.TopicNames {
			named[i].Topic = &req.TopicNames[i]
		}
	}
	var names []string
	var idx []int // response index of each name
	for _, rt := range named {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		switch byID := rt.TopicID != [16]byte{}; {
		case rt.Topic == nil && !byID:
			setDeleteErr(&st, kerr.InvalidRequest.Code, "neither topic name nor id were specified")
		case rt.Topic != nil && byID:
			setDeleteErr(&st, kerr.InvalidRequest.Code, "you may not specify both topic name and topic id")
		case byID:
			if t, ok := topicByID(s.backend, rt.TopicID); ok {
				st.Topic = kmsg.StringPtr(t.Name)
			} else {
				setDeleteErr(&st, kerr.UnknownTopicID.Code, "unknown topic id")
			}
		default:
			if t, ok := s.backend.Topic(*rt.Topic); ok {
				st.TopicID = t.ID
			}
		}
		resp.Topics = append(resp.Topics, st)
		if st.ErrorCode == 0 {
			names = append(names, *st.Topic)
			idx = append(idx, len(resp.Topics)-1)
		}
	}
	if len(names) == 0 {
		return nil
	}
	errs := s.backend.DeleteTopics(ctx, names)
	for j, i := range idx {
		if j < len(errs) && errs[j] != nil {
			setDeleteErr(&resp.Topics[i], errCode(errs[j]), errs[j].Error())
		}
	}
	return nil
}

func setDeleteErr(st *kmsg.DeleteTopicsResponseTopic, code int16, msg string) {
	st.ErrorCode = code
	st.ErrorMessage = &msg
}
