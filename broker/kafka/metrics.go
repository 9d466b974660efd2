package kafka

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Metrics counts Kafka requests and their handling latency per API key. A
// nil *Metrics records nothing.
type Metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	overtaken prometheus.Counter
	// rebalances counts completed join phases of consumer groups.
	rebalances prometheus.Counter
}

// NewMetrics creates the request metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronik_kafka_requests_total",
			Help: "Kafka requests handled, by API and outcome (ok, closed: the connection was closed, dropped: no response).",
		}, []string{"api", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chronik_kafka_request_seconds",
			Help:    "Time from a decoded Kafka request to its response being ready, by API.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18),
		}, []string{"api"}),
		overtaken: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chronik_kafka_produce_overtaken_total",
			Help: "Idempotent batches that overtook their predecessor of the same connection and partition on the way into Raft, were rejected, and were produced again after it.",
		}),
		rebalances: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chronik_group_rebalances_total",
			Help: "Consumer-group rebalances this coordinator completed (a join phase ended and the generation was bumped).",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.overtaken, m.rebalances} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) observe(key int16, resp kmsg.Response, err error, d time.Duration) {
	if m == nil {
		return
	}
	api := kmsg.NameForKey(key)
	outcome := "ok"
	switch {
	case err != nil:
		outcome = "closed"
	case resp == nil:
		outcome = "dropped"
	}
	m.requests.WithLabelValues(api, outcome).Inc()
	m.latency.WithLabelValues(api).Observe(d.Seconds())
}

func (m *Metrics) overtook() {
	if m != nil {
		m.overtaken.Inc()
	}
}

func (m *Metrics) rebalanced() {
	if m != nil {
		m.rebalances.Inc()
	}
}
