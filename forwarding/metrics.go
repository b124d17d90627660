package forwarding

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/seventargets"
)

// Metrics are the forwarding figures operators watch: deliveries by outcome, 7Targets attempts,
// the outbox's depth and age, and the latency and status of calls to 7Targets and Sales.
// A nil *Metrics records nothing.
type Metrics struct {
	deliveries    *prometheus.CounterVec
	attempts      *prometheus.CounterVec
	webhooks      *prometheus.CounterVec
	queueDepth    prometheus.Gauge
	queueAge      prometheus.Gauge
	upstream      *prometheus.HistogramVec
	tokenRequests *prometheus.CounterVec
	// The Chat-Tonic import.
	chatRead     prometheus.Counter
	chatImported *prometheus.CounterVec
	chatPoll     prometheus.Histogram
	chatFailures *prometheus.CounterVec
}

// NewMetrics registers the forwarding metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	latency := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forwarding_deliveries_total", Help: "Finished deliveries by final state and outcome.",
		}, []string{"state", "outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forwarding_attempts_total", Help: "Calls to 7Targets made for deliveries, by result (ok, error).",
		}, []string{"result"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "forwarding_webhook_events_total", Help: "Prospect events received by webhook, by result (queued, duplicate, ignored).",
		}, []string{"result"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "forwarding_outbox_depth", Help: "Deliveries waiting in the outbox.",
		}),
		queueAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "forwarding_outbox_oldest_age_seconds", Help: "Age of the oldest delivery waiting in the outbox.",
		}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "upstream_request_duration_seconds", Help: "Calls to 7Targets and Zenvia Sales by service, operation and status (0: no answer).",
			Buckets: latency,
		}, []string{"service", "op", "status"}),
		tokenRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "seventargets_token_requests_total", Help: "7Targets OAuth2 token requests by outcome.",
		}, []string{"outcome"}),
	}
	m.chatRead = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "chattonic_records_read_total", Help: "Chat-Tonic records read, re-reads of recent records included.",
	})
	m.chatImported = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chattonic_imports_total", Help: "Finished Chat-Tonic record imports by state (done: Sales took the lead; skipped, failed, dead).",
	}, []string{"state"})
	m.chatPoll = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "chattonic_poll_duration_seconds", Help: "Duration of one read of an instance's Chat-Tonic funnels.",
		Buckets: latency,
	})
	m.chatFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chattonic_source_failures_total", Help: "Failed reads of Chat-Tonic by kind (unauthorized, unknown_codename, rate_limited, unavailable, rejected).",
	}, []string{"kind"})
	reg.MustRegister(m.deliveries, m.attempts, m.webhooks, m.queueDepth, m.queueAge, m.upstream, m.tokenRequests,
		m.chatRead, m.chatImported, m.chatPoll, m.chatFailures)
	return m
}

func (m *Metrics) delivered(state zen7.DeliveryState, outcome zen7.Outcome) {
	if m != nil {
		m.deliveries.WithLabelValues(string(state), string(outcome)).Inc()
	}
}

func (m *Metrics) attempt(ok bool) {
	if m == nil {
		return
	}
	result := "ok"
	if !ok {
		result = "error"
	}
	m.attempts.WithLabelValues(result).Inc()
}

func (m *Metrics) webhookEvents(result string, n int) {
	if m != nil && n > 0 {
		m.webhooks.WithLabelValues(result).Add(float64(n))
	}
}

func (m *Metrics) setQueue(depth int, oldest, now time.Time) {
	if m == nil {
		return
	}
	m.queueDepth.Set(float64(depth))
	age := 0.0
	if !oldest.IsZero() {
		age = now.Sub(oldest).Seconds()
	}
	m.queueAge.Set(age)
}

// ObserveCall implements seventargets.Observer.
func (m *Metrics) ObserveCall(op string, status int, elapsed time.Duration, _ error) {
	m.observeUpstream("seventargets", op, status, elapsed)
}

// ObserveTokenRequest implements seventargets.Observer.
func (m *Metrics) ObserveTokenRequest(outcome seventargets.TokenOutcome, _ time.Duration) {
	if m != nil {
		m.tokenRequests.WithLabelValues(string(outcome)).Inc()
	}
}

// ObserveSalesCall records a call to Zenvia Sales (a sales.WithObserver function).
func (m *Metrics) ObserveSalesCall(op string, status int, elapsed time.Duration, _ error) {
	m.observeUpstream("sales", op, status, elapsed)
}

func (m *Metrics) observeUpstream(service, op string, status int, elapsed time.Duration) {
	if m != nil {
		m.upstream.WithLabelValues(service, op, strconv.Itoa(status)).Observe(elapsed.Seconds())
	}
}

func (m *Metrics) chatTonicRead(n int) {
	if m != nil && n > 0 {
		m.chatRead.Add(float64(n))
	}
}

func (m *Metrics) chatTonicImported(state zen7.DeliveryState) {
	if m != nil {
		m.chatImported.WithLabelValues(string(state)).Inc()
	}
}

func (m *Metrics) chatTonicPoll(d time.Duration) {
	if m != nil {
		m.chatPoll.Observe(d.Seconds())
	}
}

func (m *Metrics) chatTonicFailure(kind string) {
	if m != nil {
		m.chatFailures.WithLabelValues(kind).Inc()
	}
}

// ObserveChatTonicCall records a call to Chat-Tonic (a chattonic.WithObserver function).
func (m *Metrics) ObserveChatTonicCall(op string, status int, elapsed time.Duration, _ error) {
	m.observeUpstream("chattonic", op, status, elapsed)
}

var _ seventargets.Observer = (*Metrics)(nil)
