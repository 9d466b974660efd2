package kafka

// DescribeConfigs: v0-4
//
// Behavior:
// * Topic resources: the configs given at creation (source
//   DYNAMIC_TOPIC_CONFIG) plus the defaults that describe how this broker
//   really behaves (source DEFAULT_CONFIG): nothing is ever deleted or
//   compacted (retention.ms and retention.bytes -1, cleanup.policy
//   delete), acks=all waits for a Raft majority (min.insync.replicas is the
//   quorum size), timestamps are the producer's. Stored configs are not
//   enforced; they are reported as given, as CreateTopics documents.
//   An unknown topic answers UNKNOWN_TOPIC_OR_PARTITION.
// * Broker resources: this node's own settings (source
//   STATIC_BROKER_CONFIG) for an empty name (cluster defaults) or this
//   node's id; another broker's id answers INVALID_REQUEST, since only
//   that broker knows its settings (clients send those requests to it).
// * Every config is read-only: AlterConfigs is not served.
// * ConfigNames filters (null = all); names we do not know are left out.
// * Other resource types (broker loggers, client metrics, groups) answer
//   INVALID_REQUEST.
//
// Version notes:
// * v1: IncludeSynonyms, Source, ConfigSynonyms
// * v2: ThrottleMillis behavior change only
// * v3: IncludeDocumentation, ConfigType, Documentation
// * v4: flexible versions

import (
	"context"
	"sort"
	"strconv"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(32, 0, 4, typed(handleDescribeConfigs)) }

// configEntry is one config as DescribeConfigs reports it.
type configEntry struct {
	name   string
	value  string
	source kmsg.ConfigSource
	typ    kmsg.ConfigType
	doc    string
}

func handleDescribeConfigs(_ context.Context, s *Server, _ *clientConn, req *kmsg.DescribeConfigsRequest, resp *kmsg.DescribeConfigsResponse) error {
	for _, rr := range req.Resources {
		res := kmsg.NewDescribeConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		var entries []configEntry
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			var ok bool
			if entries, ok = s.topicConfigs(rr.ResourceName); !ok {
				res.ErrorCode = kerr.UnknownTopicOrPartition.Code
				res.ErrorMessage = kmsg.StringPtr("topic " + strconv.Quote(rr.ResourceName) + " does not exist")
			}
		case kmsg.ConfigResourceTypeBroker:
			self := strconv.Itoa(int(s.backend.NodeID()))
			if rr.ResourceName != "" && rr.ResourceName != self {
				res.ErrorCode = kerr.InvalidRequest.Code
				res.ErrorMessage = kmsg.StringPtr("this is broker " + self + "; ask broker " + rr.ResourceName + " for its own configs")
				break
			}
			entries = s.brokerConfigs()
		default:
			res.ErrorCode = kerr.InvalidRequest.Code
			res.ErrorMessage = kmsg.StringPtr("resource type " + rr.ResourceType.String() + " is not served")
		}
		for _, e := range filterConfigs(entries, rr.ConfigNames) {
			res.Configs = append(res.Configs, e.encode(req.Version, req.IncludeSynonyms, req.IncludeDocumentation))
		}
		resp.Resources = append(resp.Resources, res)
	}
	return nil
}

// topicConfigs returns a topic's configs, or false if it does not exist.
func (s *Server) topicConfigs(name string) ([]configEntry, bool) {
	t, ok := s.backend.Topic(name)
	if !ok {
		return nil, false
	}
	return topicConfigEntries(t.Configs, topicReplicas(t)), true
}

// topicReplicas is the replication factor of t: every partition is
// replicated on the same nodes.
func topicReplicas(t cluster.TopicInfo) int {
	if len(t.Partitions) > 0 && len(t.Partitions[0].Replicas) > 0 {
		return len(t.Partitions[0].Replicas)
	}
	return 1
}

// topicConfigEntries returns the configs of a topic created with configs
// and replicated on replicas nodes: the defaults below, overridden by the
// configs given at creation.
func topicConfigEntries(configs map[string]string, replicas int) []configEntry {
	defaults := []configEntry{
		{"cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeList, "Records are never compacted (nor deleted: see retention.ms)."},
		{"compression.type", "producer", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeString, "Batches are stored as the producer compressed them."},
		{"message.timestamp.type", "CreateTime", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeString, "Record timestamps are the producer's."},
		{"min.insync.replicas", strconv.Itoa(replicas/2 + 1), kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeInt, "acks=all is answered once a Raft majority of the replicas has the batch."},
		{"retention.bytes", "-1", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeLong, "The log is never truncated by size."},
		{"retention.ms", "-1", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeLong, "The log is never truncated by age."},
	}
	byName := map[string]configEntry{}
	for _, d := range defaults {
		byName[d.name] = d
	}
	for k, v := range configs {
		e := configEntry{name: k, value: v, source: kmsg.ConfigSourceDynamicTopicConfig, typ: kmsg.ConfigTypeString, doc: "Given at topic creation; stored, not enforced."}
		if d, ok := byName[k]; ok {
			e.typ = d.typ
		}
		byName[k] = e
	}
	return sortedConfigs(byName)
}

// brokerConfigs returns this node's settings.
func (s *Server) brokerConfigs() []configEntry {
	id := strconv.Itoa(int(s.backend.NodeID()))
	byName := map[string]configEntry{
		"broker.id":                 {"broker.id", id, kmsg.ConfigSourceStaticBrokerConfig, kmsg.ConfigTypeInt, "This node's id (--node-id)."},
		"node.id":                   {"node.id", id, kmsg.ConfigSourceStaticBrokerConfig, kmsg.ConfigTypeInt, "This node's id (--node-id)."},
		"auto.create.topics.enable": {"auto.create.topics.enable", strconv.FormatBool(s.cfg.AutoCreateTopics), kmsg.ConfigSourceStaticBrokerConfig, kmsg.ConfigTypeBoolean, "Unknown topics named by Metadata or Produce are created."},
		"num.partitions":            {"num.partitions", strconv.Itoa(int(s.cfg.DefaultPartitions)), kmsg.ConfigSourceStaticBrokerConfig, kmsg.ConfigTypeInt, "Partitions of auto-created topics."},
		"socket.request.max.bytes":  {"socket.request.max.bytes", strconv.Itoa(int(s.cfg.MaxFrameBytes)), kmsg.ConfigSourceStaticBrokerConfig, kmsg.ConfigTypeInt, "Largest request frame accepted."},
	}
	for _, b := range s.backend.Brokers() {
		if b.ID == s.backend.NodeID() {
			v := "PLAINTEXT://" + b.Host + ":" + strconv.Itoa(int(b.Port))
			byName["advertised.listeners"] = configEntry{"advertised.listeners", v, kmsg.ConfigSourceStaticBrokerConfig, kmsg.ConfigTypeList, "The address clients are told to use."}
		}
	}
	return sortedConfigs(byName)
}

func sortedConfigs(m map[string]configEntry) []configEntry {
	out := make([]configEntry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// filterConfigs keeps the named configs; names == nil keeps all.
func filterConfigs(all []configEntry, names []string) []configEntry {
	if names == nil {
		return all
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []configEntry
	for _, e := range all {
		if want[e.name] {
			out = append(out, e)
		}
	}
	return out
}

func (e configEntry) encode(version int16, synonyms, docs bool) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name, c.Value, c.ReadOnly = e.name, kmsg.StringPtr(e.value), true
	c.Source = e.source
	c.IsDefault = version == 0 && e.source == kmsg.ConfigSourceDefaultConfig
	c.ConfigType = e.typ
	if synonyms && version >= 1 {
		syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
		syn.Name, syn.Value, syn.Source = e.name, kmsg.StringPtr(e.value), e.source
		c.ConfigSynonyms = append(c.ConfigSynonyms, syn)
	}
	if docs && version >= 3 {
		c.Documentation = kmsg.StringPtr(e.doc)
	}
	return c
}
