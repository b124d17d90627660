package chattonicfake

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/7targets/zenvia-sales-app/chattonic"
)

// serve records the request, applies the injected faults in order (latency, outage, failures,
// rate limit) and answers it.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.log.Record(r, r.URL.Path, nil)

	if latency := s.Latency(); latency > 0 && !s.sleep(r.Context(), latency) {
		return // the client gave up or the server is closing
	}

	status, msg, retryAfter := 0, "", time.Duration(0)
	if s.Down() {
		status, msg = http.StatusServiceUnavailable, "Chat-Tonic is down (chattonicfake.SetDown)"
	} else if failure, ok := s.TakeFailure(); ok {
		status, msg = failure, "injected failure (chattonicfake.FailNext)"
	}
	s.mu.Lock()
	if status == 0 && s.rateN > 0 {
		s.rateN--
		status, msg, retryAfter = http.StatusTooManyRequests, "too many requests", s.rateWait
	}
	s.mu.Unlock()
	if status != 0 {
		if retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64((retryAfter+time.Second-1)/time.Second), 10))
		}
		writeError(w, status, msg)
		return
	}

	codename, resource, ok := route(r.URL.Path)
	switch {
	case !ok:
		writeError(w, http.StatusNotFound, "not found")
		return
	case r.Method != http.MethodGet:
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[codename]
	if a == nil {
		writeError(w, http.StatusNotFound, "bot not found")
		return
	}
	token, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !hasBearer || a.token == "" || token != a.token {
		writeError(w, http.StatusUnauthorized, "invalid access token")
		return
	}
	q := r.URL.Query()
	skip, limit, msg := paging(q.Get("skip"), q.Get("limit"))
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	switch resource {
	case "funnels":
		s.funnelsLocked(w, a, skip, limit)
	case "records":
		s.recordsLocked(w, a, q.Get("funnel"), q.Get("funnelGroup"), q.Get("startDate"), q.Get("endDate"), skip, limit)
	}
}

// route splits /api/v1/{codename}/lead/{funnels|records}.
func route(path string) (codename, resource string, ok bool) {
	rest, ok := strings.CutPrefix(path, "/api/v1/")
	if !ok {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] != "lead" || (parts[2] != "funnels" && parts[2] != "records") {
		return "", "", false
	}
	return parts[0], parts[2], true
}

// paging reads skip and limit as the reference documents them: strings of digits, skip 0 and
// limit DefaultLimit by default, limit at most chattonic.MaxLimit.
func paging(skipText, limitText string) (skip, limit int, msg string) {
	skip, limit = 0, DefaultLimit
	var err error
	if skipText != "" {
		if skip, err = strconv.Atoi(skipText); err != nil || skip < 0 {
			return 0, 0, "skip must be a non-negative integer"
		}
	}
	if limitText != "" {
		if limit, err = strconv.Atoi(limitText); err != nil || limit < 1 {
			return 0, 0, "limit must be a positive integer"
		}
	}
	return skip, min(limit, chattonic.MaxLimit), ""
}

func (s *Server) funnelsLocked(w http.ResponseWriter, a *account, skip, limit int) {
	ids := make([]string, 0, len(a.funnels))
	for id := range a.funnels {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	page := chattonic.FunnelPage{Skip: skip, Limit: limit, Funnels: []chattonic.Funnel{}}
	for _, id := range window(ids, skip, limit) {
		page.Funnels = append(page.Funnels, a.funnels[id])
	}
	s.writePageLocked(w, page)
}

func (s *Server) recordsLocked(w http.ResponseWriter, a *account, funnel, group, start, end string, skip, limit int) {
	if funnel == "" || group == "" {
		writeError(w, http.StatusBadRequest, "funnel and funnelGroup are required")
		return
	}
	from, ok := parseDate(start)
	if !ok {
		writeError(w, http.StatusBadRequest, "startDate must be an ISO 8601 date")
		return
	}
	to, ok := parseDate(end)
	if !ok {
		writeError(w, http.StatusBadRequest, "endDate must be an ISO 8601 date")
		return
	}
	var match []chattonic.Record
	for _, st := range a.records {
		r := st.rec
		// Both bounds are inclusive, on the creation time.
		if r.Funnel != funnel || r.Group != group ||
			(!from.IsZero() && r.CreatedAt.Before(from)) || (!to.IsZero() && r.CreatedAt.After(to)) {
			continue
		}
		match = append(match, cloneRecord(r))
	}
	// Oldest first, ties in creation order: a stable order is what makes skip paging work.
	slices.SortStableFunc(match, func(x, y chattonic.Record) int { return x.CreatedAt.Compare(y.CreatedAt) })
	page := chattonic.RecordPage{Skip: skip, Limit: limit, Records: window(match, skip, limit)}
	s.writePageLocked(w, page)
}

func window[T any](all []T, skip, limit int) []T {
	if skip >= len(all) {
		return []T{}
	}
	return slices.Clone(all[skip:min(len(all), skip+limit)])
}

// parseDate reads an ISO 8601 date or date and time; "" is no bound.
func parseDate(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, true
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// writePageLocked answers a page, with skip and limit as strings when SetStringPaging says so.
func (s *Server) writePageLocked(w http.ResponseWriter, page json.Marshaler) {
	b, err := page.MarshalJSON()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding response")
		return
	}
	if s.stringPaging {
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) == nil {
			for _, k := range []string{"skip", "limit"} {
				m[k], _ = json.Marshal(string(m[k]))
			}
			b, _ = json.Marshal(m)
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// writeError answers a JSON error body: {"message": …, "status": …}.
func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
		Status  int    `json:"status"`
	}{cmp.Or(msg, http.StatusText(status)), status})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
