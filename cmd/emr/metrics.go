package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/emr-project/emr/internal/hl7v2"
	"github.com/emr-project/emr/internal/hl7v2/tofhir"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics (--metrics-addr): HTTP
// requests by part of the server, HL7 v2 messages received and orders
// sent by acknowledgment, the orders waiting to be sent, and the Go
// runtime's and the process's own. No label holds patient data: no id,
// no path beyond the part of the server.
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	hl7Received  *prometheus.CounterVec
	ordersSent   *prometheus.CounterVec
	ordersWaitFn func(context.Context) (int, error)
	// criticalFn says how many critical results wait for their review and
	// since when the oldest has.
	criticalFn func(context.Context) (int64, time.Time, error)
	// overdueFn says how many of them were not acknowledged in time.
	overdueFn func(context.Context) (int64, error)
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "emr_http_requests_total",
		Help: "HTTP requests answered, by part of the server (fhir, fhir-r4, smart, ui, health), method and status code."},
		[]string{"handler", "method", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "emr_http_request_duration_seconds",
		Help:    "Time to answer HTTP requests, by part of the server.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
		[]string{"handler", "method"})
	m.hl7Received = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "emr_hl7v2_messages_received_total",
		Help: "HL7 v2 messages received (--mllp-addr), by type and event and by acknowledgment code (none: not answered, the store failed)."},
		[]string{"type", "ack"})
	m.ordersSent = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "emr_hl7v2_orders_sent_total",
		Help: "Tries to send an order (--hl7-orders-to), by outcome: the acknowledgment code, unanswered (sent again later) or unsendable."},
		[]string{"outcome"})
	m.reg.MustRegister(m.requests, m.duration, m.hl7Received, m.ordersSent,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "emr_hl7v2_orders_waiting",
			Help: "Order versions in the outbox, not yet acknowledged by the receiver (-1 when it could not be read)."},
			func() float64 {
				return count(func(ctx context.Context) (int64, error) {
					if m.ordersWaitFn == nil {
						return 0, nil
					}
					n, err := m.ordersWaitFn(ctx)
					return int64(n), err
				})
			}))
	critical := func(oldest bool) float64 {
		if m.criticalFn == nil {
			return 0
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, since, err := m.criticalFn(ctx)
		switch {
		case err != nil:
			return -1
		case !oldest:
			return float64(n)
		case since.IsZero():
			return 0
		}
		return time.Since(since).Seconds()
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "emr_critical_results_waiting",
			Help: "Critical results (HH, LL, AA) whose review no clinician has acknowledged yet (-1 when they could not be counted)."},
			func() float64 { return critical(false) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "emr_critical_results_oldest_wait_seconds",
			Help: "How long the critical result waiting longest for its review has waited (0 when none waits; -1 when it could not be read)."},
			func() float64 { return critical(true) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "emr_critical_results_overdue",
			Help: "Critical results whose review was not acknowledged within --critical-escalate-after and still waits (-1 when they could not be counted)."},
			func() float64 {
				return count(func(ctx context.Context) (int64, error) {
					if m.overdueFn == nil {
						return 0, nil
					}
					return m.overdueFn(ctx)
				})
			}))
	return m
}

// count is a gauge's value from fn, given five seconds: -1 when it
// fails.
func count(fn func(context.Context) (int64, error)) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := fn(ctx)
	if err != nil {
		return -1
	}
	return float64(n)
}

// parts are the parts of the server a request's path falls in.
var parts = []string{"fhir", "fhir-r4", "smart", "ui", "health"}

func partOf(path string) string {
	switch {
	case path == "/fhir/R4" || strings.HasPrefix(path, "/fhir/R4/"):
		return "fhir-r4"
	case path == "/fhir" || strings.HasPrefix(path, "/fhir/"):
		return "fhir"
	case strings.HasPrefix(path, "/oauth/") || strings.HasPrefix(path, "/.well-known/"):
		return "smart"
	case path == "/healthz" || path == "/readyz":
		return "health"
	}
	return "ui"
}

// instrument counts and times h's requests.
func (m *metrics) instrument(h http.Handler) http.Handler {
	byPart := map[string]http.Handler{}
	for _, p := range parts {
		labels := prometheus.Labels{"handler": p}
		byPart[p] = promhttp.InstrumentHandlerDuration(m.duration.MustCurryWith(labels),
			promhttp.InstrumentHandlerCounter(m.requests.MustCurryWith(labels), h))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		byPart[partOf(r.URL.Path)].ServeHTTP(w, r)
	})
}

// hl7Counted counts an HL7 v2 message received (inbound.Interface.Counted).
func (m *metrics) hl7Counted(messageType, ack string) {
	// Labels take few values whatever senders write: the types the
	// interface takes, the acknowledgment codes.
	switch {
	case messageType == "":
		messageType = "unparsed"
	case !slices.Contains(tofhir.Events, messageType):
		messageType = "other"
	}
	switch ack {
	case hl7v2.AA, hl7v2.AE, hl7v2.AR:
	case "":
		ack = "none"
	default:
		ack = "other"
	}
	m.hl7Received.WithLabelValues(messageType, ack).Inc()
}

// orderCounted counts a try to send an order (outbound.Orders.Counted).
func (m *metrics) orderCounted(outcome string) { m.ordersSent.WithLabelValues(outcome).Inc() }

// serveMetrics serves the metrics at /metrics on ln until ctx ends.
func (m *metrics) serve(ctx context.Context, ln net.Listener, logger *slog.Logger) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		logger.Error("metrics: serving stopped", "error", err)
	}
}

// metricsListener listens on --metrics-addr; nil without it.
func metricsListener(addr string) (net.Listener, string, error) {
	if addr == "" {
		return nil, "", nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen on --metrics-addr %s: %w", addr, err)
	}
	return ln, fmt.Sprintf("http://%s/metrics", ln.Addr()), nil
}
