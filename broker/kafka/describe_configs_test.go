package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/chronik-chaos/chronik/broker/cluster"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDescribeConfigsKadm: what admin tools (kadm here; Sarama's
// ListTopics and the Java AdminClient do the same) ask for.
func TestDescribeConfigsKadm(t *testing.T) {
	_, _, addr := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	adm := kadm.NewClient(newClient(t, addr))
	if _, err := adm.CreateTopic(ctx, 2, -1, map[string]*string{"retention.ms": kmsg.StringPtr("1000"), "x.custom": kmsg.StringPtr("y")}, "cfg"); err != nil {
		t.Fatal(err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "cfg", "missing")
	if err != nil {
		t.Fatal(err)
	}
	byTopic := map[string]kadm.ResourceConfig{}
	for _, rc := range rcs {
		byTopic[rc.Name] = rc
	}
	if err := byTopic["missing"].Err; err != kerr.UnknownTopicOrPartition {
		t.Errorf("missing topic: err %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
	got := map[string]kadm.Config{}
	for _, c := range byTopic["cfg"].Configs {
		got[c.Key] = c
	}
	cases := []struct {
		name, value string
		source      kmsg.ConfigSource
	}{
		{"retention.ms", "1000", kmsg.ConfigSourceDynamicTopicConfig},
		{"x.custom", "y", kmsg.ConfigSourceDynamicTopicConfig},
		{"retention.bytes", "-1", kmsg.ConfigSourceDefaultConfig},
		{"cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig},
		{"min.insync.replicas", "1", kmsg.ConfigSourceDefaultConfig},
	}
	for _, tc := range cases {
		c, ok := got[tc.name]
		if !ok || c.MaybeValue() != tc.value || c.Source != tc.source {
			t.Errorf("%s = %q (source %v, present %v), want %q from %v", tc.name, c.MaybeValue(), c.Source, ok, tc.value, tc.source)
		}
	}

	brs, err := adm.DescribeBrokerConfigs(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	bc := map[string]string{}
	for _, rc := range brs {
		if rc.Err != nil {
			t.Fatalf("broker 1 configs: %v", rc.Err)
		}
		for _, c := range rc.Configs {
			bc[c.Key] = c.MaybeValue()
		}
	}
	if bc["broker.id"] != "1" || bc["auto.create.topics.enable"] != "true" || bc["num.partitions"] != "1" {
		t.Errorf("broker configs %v", bc)
	}
}

// TestDescribeConfigsVersions drives the handler at v0 (IsDefault, no
// source) and v3 (synonyms, documentation), with a name filter and the
// resources it must refuse.
func TestDescribeConfigsVersions(t *testing.T) {
	s, _, _ := startServer(t, nil)
	ctx := context.Background()
	if errs := s.backend.CreateTopics(ctx, []cluster.TopicSpec{{Name: "v", Partitions: 1}}, false); errs[0] != nil {
		t.Fatal(errs[0])
	}
	res := func(typ kmsg.ConfigResourceType, name string, names ...string) kmsg.DescribeConfigsRequestResource {
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName, r.ConfigNames = typ, name, names
		return r
	}
	cases := []struct {
		name      string
		version   int16
		resource  kmsg.DescribeConfigsRequestResource
		wantErr   int16
		wantNames []string
		check     func(t *testing.T, c kmsg.DescribeConfigsResponseResourceConfig)
	}{
		{name: "v0 default flag", version: 0, resource: res(kmsg.ConfigResourceTypeTopic, "v", "retention.ms"),
			wantNames: []string{"retention.ms"},
			check: func(t *testing.T, c kmsg.DescribeConfigsResponseResourceConfig) {
				if !c.IsDefault || !c.ReadOnly || len(c.ConfigSynonyms) != 0 || c.Documentation != nil {
					t.Errorf("v0 config %+v", c)
				}
			}},
		{name: "v3 synonyms and docs", version: 3, resource: res(kmsg.ConfigResourceTypeTopic, "v", "cleanup.policy", "no.such.config"),
			wantNames: []string{"cleanup.policy"},
			check: func(t *testing.T, c kmsg.DescribeConfigsResponseResourceConfig) {
				if c.IsDefault || c.Source != kmsg.ConfigSourceDefaultConfig || len(c.ConfigSynonyms) != 1 || c.Documentation == nil || c.ConfigType != kmsg.ConfigTypeList {
					t.Errorf("v3 config %+v", c)
				}
			}},
		{name: "broker defaults by empty name", version: 4, resource: res(kmsg.ConfigResourceTypeBroker, "", "node.id"), wantNames: []string{"node.id"}},
		{name: "other broker", version: 4, resource: res(kmsg.ConfigResourceTypeBroker, "7"), wantErr: kerr.InvalidRequest.Code},
		{name: "broker logger", version: 4, resource: res(kmsg.ConfigResourceTypeBrokerLogger, "1"), wantErr: kerr.InvalidRequest.Code},
		{name: "unknown topic", version: 1, resource: res(kmsg.ConfigResourceTypeTopic, "nope"), wantErr: kerr.UnknownTopicOrPartition.Code},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrDescribeConfigsRequest()
			req.Version = tc.version
			req.IncludeSynonyms, req.IncludeDocumentation = true, true
			req.Resources = []kmsg.DescribeConfigsRequestResource{tc.resource}
			kresp, err := callHandler(ctx, s, req)
			if err != nil {
				t.Fatal(err)
			}
			// The response must survive encoding at the request's version.
			resp := kresp.(*kmsg.DescribeConfigsResponse)
			resp.Version = tc.version
			back := kmsg.NewPtrDescribeConfigsResponse()
			back.Version = tc.version
			if err := back.ReadFrom(resp.AppendTo(nil)); err != nil {
				t.Fatalf("round trip at v%d: %v", tc.version, err)
			}
			if len(back.Resources) != 1 {
				t.Fatalf("%d resources", len(back.Resources))
			}
			r := back.Resources[0]
			if r.ErrorCode != tc.wantErr {
				t.Fatalf("error code %d, want %d (%v)", r.ErrorCode, tc.wantErr, r.ErrorMessage)
			}
			if tc.wantErr != 0 {
				if r.ErrorMessage == nil && tc.version > 0 {
					t.Errorf("error without a message")
				}
				return
			}
			var names []string
			for _, c := range r.Configs {
				names = append(names, c.Name)
				if tc.check != nil {
					tc.check(t, c)
				}
			}
			if len(names) != len(tc.wantNames) || (len(names) > 0 && names[0] != tc.wantNames[0]) {
				t.Errorf("configs %v, want %v", names, tc.wantNames)
			}
		})
	}
}
