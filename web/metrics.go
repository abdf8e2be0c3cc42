package web

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mssbridge/mssbridge/store"
)

// metrics are the desk's Prometheus metrics for the IT team: counts by state, box, input and
// kind, ages, certificate expiry, desk actions and HTTP timings. No label ever holds a
// patient's name, an address or a job id.
type metrics struct {
	reg         *prometheus.Registry
	handler     http.Handler
	actions     *prometheus.CounterVec
	logins      *prometheus.CounterVec
	csrfRefused prometheus.Counter
	requests    *prometheus.HistogramVec
}

func newMetrics(srv *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.actions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mssbridge_desk_actions_total", Help: "Actions taken on the review desk (release, reject, retry, export).",
	}, []string{"action"})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mssbridge_desk_logins_total", Help: "Login attempts on the review desk by result (ok, failed, locked).",
	}, []string{"result"})
	m.csrfRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mssbridge_desk_csrf_refused_total", Help: "POST requests refused for a missing or wrong CSRF token.",
	})
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "mssbridge_desk_http_request_duration_seconds", Help: "Review desk HTTP requests by route pattern and status.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route", "code"})
	for _, a := range []string{"release", "reject", "retry", "export"} {
		m.actions.WithLabelValues(a)
	}
	for _, r := range []string{"ok", "failed", "locked"} {
		m.logins.WithLabelValues(r)
	}
	m.reg.MustRegister(m.actions, m.logins, m.csrfRefused, m.requests,
		&storeCollector{srv: srv},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Observe(d.Seconds())
}

// serveMetrics answers loopback clients (a Prometheus agent or node exporter on the same
// machine) without a login, and anyone else only with a desk session: the metrics hold no
// patient data, but they tell how busy a service is.
func (srv *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if !isLoopbackRemote(r.RemoteAddr) && srv.session(r) == nil {
		http.Error(w, "/metrics : réservé à la machine locale ou à une session du poste de relecture.", http.StatusForbidden)
		return
	}
	srv.metrics.handler.ServeHTTP(w, r)
}

func isLoopbackRemote(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// storeCollector reads the job store and the ledger at each scrape; the result is kept a few
// seconds so that several scrapers do not query the store in a loop.
type storeCollector struct {
	srv *Server

	mu      sync.Mutex
	at      time.Time
	metrics []prometheus.Metric
}

var (
	jobsDesc = prometheus.NewDesc("mssbridge_jobs", "Jobs in the store by state, box and input.",
		[]string{"state", "box", "input"}, nil)
	heldDesc    = prometheus.NewDesc("mssbridge_held_jobs", "Documents waiting for a human review.", nil, nil)
	heldAgeDesc = prometheus.NewDesc("mssbridge_held_oldest_age_seconds",
		"Age of the oldest document waiting for review (0 when none).", nil, nil)
	failedDesc   = prometheus.NewDesc("mssbridge_failed_jobs", "Documents that failed and wait for a retry or a decision.", nil, nil)
	receivedDesc = prometheus.NewDesc("mssbridge_received_messages", "Received messages in the ledger by box and kind (document, dsn, mdn, quarantine, duplicate).",
		[]string{"box", "kind"}, nil)
	certDesc = prometheus.NewDesc("mssbridge_certificate_expiry_timestamp_seconds", "Expiry of each box's client certificate (Unix time).",
		[]string{"box", "use"}, nil)
	scrapeErrDesc = prometheus.NewDesc("mssbridge_store_scrape_error", "1 when the job store could not be read for this scrape.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{jobsDesc, heldDesc, heldAgeDesc, failedDesc, receivedDesc, certDesc, scrapeErrDesc} {
		ch <- d
	}
}

// cacheFor is how long a scrape's reading of the store is reused.
const cacheFor = 5 * time.Second

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) > cacheFor {
		c.metrics = c.collect()
		c.at = time.Now()
	}
	for _, m := range c.metrics {
		ch <- m
	}
}

func (c *storeCollector) collect() []prometheus.Metric {
	srv := c.srv
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []prometheus.Metric
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}
	scrapeErr := 0.0
	counts, err := srv.b.Store().Counts(ctx)
	if err != nil {
		scrapeErr = 1
	}
	held, failed := 0, 0
	for _, k := range counts {
		gauge(jobsDesc, float64(k.N), string(k.State), k.Box, k.Input)
		switch k.State {
		case store.StateHeld:
			held += k.N
		case store.StateFailed:
			failed += k.N
		}
	}
	gauge(heldDesc, float64(held))
	gauge(failedDesc, float64(failed))
	age := 0.0
	if held > 0 {
		if jobs, err := srv.b.Store().List(ctx, store.Filter{States: []store.State{store.StateHeld}}); err == nil && len(jobs) > 0 {
			age = time.Since(jobs[len(jobs)-1].CreatedAt).Seconds()
		}
	}
	gauge(heldAgeDesc, age)
	if led, ok := srv.b.Store().(receivedLedger); ok {
		for _, b := range srv.cfg.Boxes {
			if b.IMAP == nil {
				continue
			}
			recs, err := led.ListReceived(ctx, b.ID, "", 0)
			if err != nil {
				scrapeErr = 1
				continue
			}
			kinds := map[string]int{"document": 0, "dsn": 0, "mdn": 0, "quarantine": 0, "duplicate": 0}
			for _, r := range recs {
				kinds[r.Kind]++
			}
			for k, n := range kinds {
				gauge(receivedDesc, float64(n), b.ID, k)
			}
		}
	}
	for _, ci := range srv.certificates() {
		if !ci.NotAfter.IsZero() {
			gauge(certDesc, float64(ci.NotAfter.Unix()), ci.Box, ci.Use)
		}
	}
	gauge(scrapeErrDesc, scrapeErr)
	return out
}
