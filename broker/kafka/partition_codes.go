package kafka

import (
	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
)

// partitionCodes is the answer, being built, of a request that names
// partitions by topic and carries the ones that pass their own checks in a
// single __meta proposal (OffsetCommit, OffsetDelete): one error code per
// requested partition, in request order, and which of them the proposal
// carries, so that its failure becomes their answer and only theirs.
type partitionCodes struct {
	topics  []string
	parts   [][]int32
	codes   [][]int16
	carried [][2]int // (topic, partition) indices

	info  cluster.TopicInfo // the latest topic, as the backend knows it
	known bool
}

// topic starts the next topic of the request; add then appends its
// partitions.
func (pc *partitionCodes) topic(b Backend, name string) {
	pc.topics = append(pc.topics, name)
	pc.parts = append(pc.parts, nil)
	pc.codes = append(pc.codes, nil)
	pc.info, pc.known = b.Topic(name)
}

// add answers partition p of the latest topic: UNKNOWN_TOPIC_OR_PARTITION
// when it does not exist (which Kafka checks before anything about the
// group), else code. It reports whether the proposal carries p (code 0).
func (pc *partitionCodes) add(p int32, code int16) bool {
	if _, ok := findPartition(pc.info, p); !pc.known || !ok {
		code = kerr.UnknownTopicOrPartition.Code
	}
	i := len(pc.topics) - 1
	if code == 0 {
		pc.carried = append(pc.carried, [2]int{i, len(pc.parts[i])})
	}
	pc.parts[i] = append(pc.parts[i], p)
	pc.codes[i] = append(pc.codes[i], code)
	return code == 0
}

// propose runs the proposal when it carries anything and gives its
// failure, as a group-coordinator code, to every carried partition.
func (pc *partitionCodes) propose(run func() error) {
	if len(pc.carried) == 0 {
		return
	}
	if err := run(); err != nil {
		code := groupErrCode(err)
		for _, ij := range pc.carried {
			pc.codes[ij[0]][ij[1]] = code
		}
	}
}

// answerTopics renders pc as a response's topic list: topic makes one
// topic's entry from its name and partition entries, part one partition's
// entry from its number and code.
func answerTopics[T, P any](pc *partitionCodes, topic func(name string, parts []P) T, part func(p int32, code int16) P) []T {
	out := make([]T, len(pc.topics))
	for i, name := range pc.topics {
		parts := make([]P, len(pc.parts[i]))
		for j, p := range pc.parts[i] {
			parts[j] = part(p, pc.codes[i][j])
		}
		out[i] = topic(name, parts)
	}
	return out
}
