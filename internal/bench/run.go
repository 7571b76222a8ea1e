package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RunOptions say how long and how hard to measure each kind.
type RunOptions struct {
	// Iterations, when above zero, is the number of queries per kind;
	// otherwise each kind runs for Duration.
	Iterations  int
	Duration    time.Duration
	Concurrency int // clients sending queries at once (default 4)
}

// Result is the measurement of one kind.
type Result struct {
	Kind        string        `json:"kind"`
	Description string        `json:"description"`
	Example     string        `json:"example"` // the first query's path
	Count       int           `json:"count"`   // queries answered, right or wrong
	Errors      int           `json:"errors"`
	PerSecond   float64       `json:"queries_per_second"`
	P50         time.Duration `json:"-"`
	P90         time.Duration `json:"-"`
	P99         time.Duration `json:"-"`
	Max         time.Duration `json:"-"`
	Elapsed     time.Duration `json:"-"`
	// Bytes is the mean size of an answer's body.
	Bytes int `json:"bytes"`
	// ErrorSamples are the distinct error messages, with how often each
	// occurred (at most a few).
	ErrorSamples map[string]int `json:"error_samples,omitempty"`
}

// MarshalJSON writes durations as milliseconds, which plotting tools expect.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return json.Marshal(struct {
		plain
		P50     float64 `json:"p50_ms"`
		P90     float64 `json:"p90_ms"`
		P99     float64 `json:"p99_ms"`
		Max     float64 `json:"max_ms"`
		Elapsed float64 `json:"elapsed_s"`
	}{plain(r), ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), r.Elapsed.Seconds()})
}

const maxErrorSamples = 5

// Measure runs the queries of kind through c with opt.Concurrency
// clients and returns the latency percentiles, throughput and errors.
// Query i is kind.Make(pool, i), so two runs send the same queries.
func Measure(ctx context.Context, c Client, pool *Pool, kind Kind, opt RunOptions) Result {
	if opt.Concurrency <= 0 {
		opt.Concurrency = 4
	}
	res := Result{Kind: kind.Name, Description: kind.Description, ErrorSamples: map[string]int{}}
	if pool.Len() == 0 {
		res.ErrorSamples["no patients loaded"] = 1
		res.Errors = 1
		return res
	}
	res.Example = kind.Make(pool, 0).Path

	var next atomic.Int64
	deadline := time.Now().Add(opt.Duration)
	var mu sync.Mutex
	var all []time.Duration
	var bytes int64
	begin := time.Now()
	var wg sync.WaitGroup
	for range opt.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var size int64
			errs := map[string]int{}
			nerr := 0
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if opt.Iterations > 0 && i >= opt.Iterations || opt.Iterations <= 0 && time.Now().After(deadline) {
					break
				}
				q := kind.Make(pool, i)
				start := time.Now()
				status, body, err := c.Do(ctx, q.Method, q.Path, q.Body)
				lat = append(lat, time.Since(start))
				size += int64(len(body))
				if err == nil {
					err = q.Check(status, body)
				}
				if err != nil {
					nerr++
					if msg := err.Error(); len(errs) < maxErrorSamples || errs[msg] > 0 {
						errs[msg]++
					}
				}
			}
			mu.Lock()
			all = append(all, lat...)
			bytes += size
			res.Errors += nerr
			for m, n := range errs {
				if len(res.ErrorSamples) < maxErrorSamples || res.ErrorSamples[m] > 0 {
					res.ErrorSamples[m] += n
				}
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(begin)
	res.Count = len(all)
	if res.Count > 0 {
		slices.Sort(all)
		res.P50, res.P90, res.P99, res.Max = percentile(all, 50), percentile(all, 90), percentile(all, 99), all[len(all)-1]
		res.PerSecond = float64(res.Count) / res.Elapsed.Seconds()
		res.Bytes = int(bytes / int64(res.Count))
	}
	if len(res.ErrorSamples) == 0 {
		res.ErrorSamples = nil
	}
	return res
}

// percentile returns the p-th percentile of sorted by the nearest-rank method.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 × n)
	return sorted[max(rank, 1)-1]
}

// WriteTable prints results as an aligned table, then the errors.
func WriteTable(w io.Writer, results []Result) {
	fmt.Fprintf(w, "%-16s %8s %7s %10s %10s %10s %10s %10s %9s\n", "query", "count", "errors", "q/s", "p50", "p90", "p99", "max", "bytes")
	for _, r := range results {
		fmt.Fprintf(w, "%-16s %8d %7d %10.1f %10s %10s %10s %10s %9d\n", r.Kind, r.Count, r.Errors, r.PerSecond,
			fmtLatency(r.P50), fmtLatency(r.P90), fmtLatency(r.P99), fmtLatency(r.Max), r.Bytes)
	}
	for _, r := range results {
		if r.Errors == 0 {
			continue
		}
		msgs := make([]string, 0, len(r.ErrorSamples))
		for m := range r.ErrorSamples {
			msgs = append(msgs, m)
		}
		sort.Strings(msgs)
		fmt.Fprintf(w, "errors in %s (%d of %d):\n", r.Kind, r.Errors, r.Count)
		for _, m := range msgs {
			fmt.Fprintf(w, "  %6d × %s\n", r.ErrorSamples[m], strings.TrimSpace(m))
		}
	}
}

func fmtLatency(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d.Nanoseconds())/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1e3)
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}
