package kafka

// CreateTopics: v0-7
//
// Behavior:
// * Topics are created through __meta (Backend.CreateTopics), which returns
//   once each creation has committed and its partition groups exist here.
// * NumPartitions -1 takes the server's default partition count.
// * ReplicationFactor and ReplicaAssignment are ignored: every partition is
//   replicated on every node of the cluster (DESIGN.md); v5+ answers report
//   ReplicationFactor -1 ("broker decides").
// * A topic named twice in one request fails with INVALID_REQUEST for each
//   occurrence, as Kafka does.
// * ValidateOnly (v1+) checks without creating.
// * Configs are passed to the backend as given; per-config errors are not
//   reported.
//
// Version notes:
// * v1: ValidateOnly, ErrorMessage
// * v2: ThrottleMillis
// * v5: flexible versions; NumPartitions, ReplicationFactor, Configs in the
//   response (KIP-525)
// * v7: TopicID in the response (KIP-516)

import (
	"context"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(19, 0, 7, handleCreateTopics) }

func handleCreateTopics(ctx context.Context, s *Server, _ *clientConn, kreq kmsg.Request) (kmsg.Response, error) {
	req := kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	if req.TimeoutMillis > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMillis)*time.Millisecond)
		defer cancel()
	}

	count := map[string]int{}
	for _, rt := range req.Topics {
		count[rt.Topic]++
	}
	var (
		specs []cluster.TopicSpec
		idx   []int
	)
	for i, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		resp.Topics = append(resp.Topics, st)
		if count[rt.Topic] > 1 {
			setCreateErr(&resp.Topics[i], kerr.InvalidRequest.Code, "topic named more than once in the request")
			continue
		}
		n := rt.NumPartitions
		if n == -1 {
			n = s.cfg.DefaultPartitions
		}
		if n <= 0 {
			setCreateErr(&resp.Topics[i], kerr.InvalidPartitions.Code, "partition count must be positive or -1")
			continue
		}
		spec := cluster.TopicSpec{Name: rt.Topic, Partitions: n}
		for _, c := range rt.Configs {
			if c.Value != nil {
				if spec.Configs == nil {
					spec.Configs = map[string]string{}
				}
				spec.Configs[c.Name] = *c.Value
			}
		}
		specs = append(specs, spec)
		idx = append(idx, i)
	}
	if len(specs) > 0 {
		errs := s.backend.CreateTopics(ctx, specs, req.ValidateOnly)
		for j, i := range idx {
			var err error
			if j < len(errs) {
				err = errs[j]
			}
			st := &resp.Topics[i]
			if err != nil {
				setCreateErr(st, errCode(err), err.Error())
				continue
			}
			st.NumPartitions = specs[j].Partitions
			if t, ok := s.backend.Topic(st.Topic); ok {
				st.TopicID = t.ID
			}
		}
	}
	return resp, nil
}

func setCreateErr(st *kmsg.CreateTopicsResponseTopic, code int16, msg string) {
	st.ErrorCode = code
	st.ErrorMessage = &msg
}
