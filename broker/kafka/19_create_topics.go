package kafka

// CreateTopics: v0-7
//
// Behavior:
// * Topics are created through __meta (Backend.CreateTopics), which returns
//   once each creation has committed and its partition groups exist here.
// * NumPartitions -1 takes the server's default partition count, or, when
//   a ReplicaAssignment is given (the Java admin client's
//   NewTopic(name, replicasAssignments) sends NumPartitions -1), the number
//   of partitions assigned. As in Kafka, an assignment together with a
//   NumPartitions or ReplicationFactor other than -1 is INVALID_REQUEST and
//   partitions not numbered 0..n-1 are INVALID_REPLICA_ASSIGNMENT.
// * ReplicationFactor and the assignment's replica lists are otherwise
//   ignored: every partition is replicated on every node of the cluster
//   (DESIGN.md).
// * v5+ success answers carry, as Kafka's do, the partition count, the
//   real replication factor (the number of replicas; the registered
//   brokers for ValidateOnly) and the topic's configs as DescribeConfigs
//   reports them (never a null list: the Java admin client reads the list
//   of every successful topic and fails the whole call on a null one,
//   KafkaAdminClient.createTopics handleResponse).
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

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(19, 0, 7, typed(handleCreateTopics)) }

func handleCreateTopics(ctx context.Context, s *Server, _ *clientConn, req *kmsg.CreateTopicsRequest, resp *kmsg.CreateTopicsResponse) error {

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
		if len(rt.ReplicaAssignment) > 0 {
			if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
				setCreateErr(&resp.Topics[i], kerr.InvalidRequest.Code, "both a replica assignment and NumPartitions or ReplicationFactor were given")
				continue
			}
			if !assignmentDense(rt.ReplicaAssignment) {
				setCreateErr(&resp.Topics[i], kerr.InvalidReplicaAssignment.Code, "assigned partitions must be numbered 0 to n-1")
				continue
			}
			n = int32(len(rt.ReplicaAssignment))
		} else if n == -1 {
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
			replicas := len(s.backend.Brokers())
			if t, ok := s.backend.Topic(st.Topic); ok && !req.ValidateOnly {
				st.TopicID = t.ID
				replicas = topicReplicas(t)
			}
			st.ReplicationFactor = int16(max(replicas, 1))
			st.Configs = []kmsg.CreateTopicsResponseTopicConfig{}
			for _, e := range topicConfigEntries(specs[j].Configs, max(replicas, 1)) {
				c := kmsg.NewCreateTopicsResponseTopicConfig()
				c.Name, c.Value, c.ReadOnly, c.Source = e.name, kmsg.StringPtr(e.value), true, int8(e.source)
				st.Configs = append(st.Configs, c)
			}
		}
	}
	return nil
}

func setCreateErr(st *kmsg.CreateTopicsResponseTopic, code int16, msg string) {
	st.ErrorCode = code
	st.ErrorMessage = &msg
}

// assignmentDense reports whether a replica assignment numbers its
// partitions 0..n-1, each once.
func assignmentDense(as []kmsg.CreateTopicsRequestTopicReplicaAssignment) bool {
	seen := make([]bool, len(as))
	for _, a := range as {
		if a.Partition < 0 || int(a.Partition) >= len(as) || seen[a.Partition] {
			return false
		}
		seen[a.Partition] = true
	}
	return true
}
