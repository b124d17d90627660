package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/7targets/zenvia-sales-app/sales"
)

// loadResult is one closed-loop run: c senders, each sending its next request as soon as the
// previous one is answered, as Sales' delivery workers do.
type loadResult struct {
	Concurrency int     `json:"concurrency"`
	Requests    int     `json:"requests"`
	Failed      int     `json:"failed"`   // answered other than 200, or not at all
	Accepted    int64   `json:"accepted"` // answered 200, the warm-up's included: what the store was sent
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"perSecond"`
	P50ms       float64 `json:"p50ms"`
	P90ms       float64 `json:"p90ms"`
	P99ms       float64 `json:"p99ms"`
	MaxMs       float64 `json:"maxMs"`
}

func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{
			MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute,
		},
	}
}

// post sends one webhook and returns its status (0 when it got no answer).
func post(ctx context.Context, client *http.Client, url string, body []byte) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// hammer runs c closed-loop senders for warmup+d, or until n requests were sent when n > 0,
// and measures the requests that started after the warm-up. next returns the i-th request's
// URL and body (i counts from 1).
func hammer(ctx context.Context, c int, warmup, d time.Duration, n int64, next func(i int64) (string, []byte)) loadResult {
	client := newClient(c)
	defer client.CloseIdleConnections()
	var seq, accepted atomic.Int64
	start := time.Now()
	measureFrom, end := start.Add(warmup), start.Add(warmup+d)
	lat := make([][]time.Duration, c)
	failed := make([]int, c)
	var wg sync.WaitGroup
	for w := range c {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				i := seq.Add(1)
				if n > 0 && i > n {
					return
				}
				url, body := next(i)
				status := post(ctx, client, url, body)
				if status == http.StatusOK {
					accepted.Add(1)
				}
				if t0.Before(measureFrom) {
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
				if status != http.StatusOK {
					failed[w]++
				}
			}
		})
	}
	wg.Wait()
	// Throughput counts what was answered between the warm-up and the last answer.
	elapsed := time.Since(measureFrom)
	all := slices.Concat(lat...)
	r := summarize(all)
	r.Concurrency = c
	r.Accepted = accepted.Load()
	r.Seconds = elapsed.Seconds()
	r.PerSecond = float64(len(all)) / elapsed.Seconds()
	for _, f := range failed {
		r.Failed += f
	}
	return r
}

// summarize fills the request count and latency percentiles of a run.
func summarize(lat []time.Duration) loadResult {
	r := loadResult{Requests: len(lat)}
	if len(lat) == 0 {
		return r
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	at := func(q float64) float64 { return ms(lat[min(len(lat)-1, int(q*float64(len(lat))))]) }
	r.P50ms, r.P90ms, r.P99ms, r.MaxMs = at(0.50), at(0.90), at(0.99), ms(lat[len(lat)-1])
	return r
}

var (
	firstNames = []string{"Ana", "Bruno", "Carla", "Diego", "Elena", "Felipe", "Gabriela", "Hugo", "Isabel", "João", "Lucía", "Mateo"}
	lastNames  = []string{"Souza", "García", "Oliveira", "Fernández", "Costa", "López", "Pereira", "Martínez"}
	sources    = []string{"google", "facebook", "newsletter", "website", "instagram"}
)

// prospectNotification is what Sales posts when prospect n of an instance is created or
// updated: the documented envelope with the whole prospect, about 1 KB.
func prospectNotification(in instance, n int64, typ, status string) []byte {
	now := time.Now().UTC()
	first, last := firstNames[n%int64(len(firstNames))], lastNames[n%int64(len(lastNames))]
	p := sales.Prospect{
		ID: prospectID(n), Created: now.Add(-time.Second), Group: "Sales team", GroupID: in.groupID,
		InitialGroup: "Sales team", InitialGroupID: in.groupID, Account: "Loadgen account", AccountID: in.groupID,
		FirstName: first, LastName: last, Status: status,
		Phones: []string{fmt.Sprintf("+55 11 9%04d-%04d", n%10000, (n/10000)%10000)},
		Emails: []string{prospectEmail(first, last, n)},
		Leads: []sales.Lead{{
			Created: now.Add(-time.Second), Source: "Website form", UtmSource: sources[n%int64(len(sources))], Type: "form",
			Comments: "Interested in a test drive of the new model; prefers to be contacted in the afternoon.",
		}},
	}
	b, _ := json.Marshal(sales.Notification{
		SubscriptionID: "5f1a2b3c4d5e6f7a8b9c0d1e", Topic: sales.TopicProspects, Type: typ,
		Received: now, Sent: now, Attempts: 1, UpdatedAt: now, Prospect: []sales.Prospect{p},
	})
	return b
}

func prospectID(n int64) string { return fmt.Sprintf("6a5b%020d", n) }

func prospectEmail(first, last string, n int64) string {
	r := strings.NewReplacer("ã", "a", "á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "ç", "c")
	return strings.ToLower(r.Replace(fmt.Sprintf("%s.%s.%d@example.com", first, last, n)))
}
