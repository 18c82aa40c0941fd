// Package metrics writes the Prometheus text exposition format. Shoal's
// components keep their own atomic counters; a scrape reads them through
// Collectors, so nothing is updated per packet just for metrics.
package metrics

import (
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Writer writes metric families in the Prometheus text format. It buffers
// everything until Flush.
type Writer struct {
	w    io.Writer
	buf  []byte
	seen map[string]bool
}

// NewWriter returns a Writer that writes to w. Call Flush when done.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, seen: map[string]bool{}}
}

// Labels are a metric's label pairs.
type Labels map[string]string

// Counter writes one sample of a counter family.
func (w *Writer) Counter(name, help string, v float64, l Labels) {
	w.sample(name, "counter", help, v, l)
}

// Gauge writes one sample of a gauge family.
func (w *Writer) Gauge(name, help string, v float64, l Labels) { w.sample(name, "gauge", help, v, l) }

func (w *Writer) sample(name, typ, help string, v float64, l Labels) {
	if !w.seen[name] {
		w.seen[name] = true
		w.buf = append(w.buf, "# HELP "+name+" "+help+"\n# TYPE "+name+" "+typ+"\n"...)
	}
	w.buf = append(w.buf, name...)
	if len(l) > 0 {
		keys := make([]string, 0, len(l))
		for k := range l {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.buf = append(w.buf, '{')
		for i, k := range keys {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.buf = append(w.buf, k+`="`+escape(l[k])+`"`...)
		}
		w.buf = append(w.buf, '}')
	}
	w.buf = append(w.buf, ' ')
	w.buf = strconv.AppendFloat(w.buf, v, 'g', -1, 64)
	w.buf = append(w.buf, '\n')
}

// Flush writes the buffered output.
func (w *Writer) Flush() error {
	_, err := w.w.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

var escaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escape(s string) string { return escaper.Replace(s) }

// Collector writes its current metrics to w.
type Collector func(w *Writer)

// Handler serves the samples of every collector, in order.
func Handler(collectors ...Collector) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w := NewWriter(rw)
		for _, c := range collectors {
			c(w)
		}
		_ = w.Flush()
	})
}
