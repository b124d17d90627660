package seventargetsfake

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/7targets/zenvia-sales-app/seventargets"
)

// maxBody is the largest request body the fake reads.
const maxBody = 1 << 20

// Lead states, as 7Targets reports them.
const (
	leadType          = "SALES"
	stateCold         = "Cold"
	subStateFollowup  = "Followup"
	subStateStopped   = "Stopped"
	firstMessageDelay = 15 * time.Minute
)

// wireTimeLayout is how the fake sends nextScheduleTime: a zone-less UTC time,
// as a Java LocalDateTime serialises, to keep clients honest about parsing.
const wireTimeLayout = "2006-01-02T15:04:05"

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	// Counted on arrival, so a request cut short by latency still counts.
	s.record(r, body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "could not read request body"})
		return
	}
	if !s.wait(r.Context(), r, body) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": "Service Unavailable"})
		return
	}
	if r.URL.Path == TokenPath {
		s.serveToken(w, r, body)
		return
	}
	s.serveAPI(w, r, body)
}

func (s *Server) record(r *http.Request, body []byte) {
	s.log.Record(r, r.URL.Path, body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == TokenPath {
		s.tokenReqs++
		if id := tokenClientID(r, body); id != "" {
			s.tokenFor[id]++
		}
	}
}

// serveToken is the Cognito-style client-credentials endpoint. Errors follow
// RFC 6749 section 5.2: 400 with {"error": code}.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, body []byte) {
	form, formErr := parseForm(r, body)
	clientID, secret := clientCredentials(r, form)

	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.Down():
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		return
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "invalid_request"})
		return
	case formErr != nil:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": formErr.Error()})
		return
	}
	c, known := s.clients[clientID]
	if !known || subtle.ConstantTimeCompare([]byte(c.secret), []byte(secret)) != 1 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client"})
		return
	}
	if form.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	scopes := strings.Fields(form.Get("scope"))
	if len(scopes) == 0 || slices.ContainsFunc(scopes, func(sc string) bool { return sc != "leads/post" }) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_scope"})
		return
	}

	now := time.Now()
	expiry := now.Add(s.lifetime)
	tok := newJWT(clientID, now, expiry)
	s.pruneTokensLocked(now)
	s.tokens[tok] = &issuedToken{clientID: clientID, expiry: expiry}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"expires_in":   max(1, int((s.lifetime+time.Second-1)/time.Second)),
		"token_type":   "Bearer",
	})
}

// pruneTokensLocked forgets tokens expired for a while, so a long sandbox
// session does not accumulate them; recently expired ones still get the
// "expired" message.
func (s *Server) pruneTokensLocked(now time.Time) {
	if len(s.tokens) < 256 {
		return
	}
	for k, t := range s.tokens {
		if now.Sub(t.expiry) > time.Hour {
			delete(s.tokens, k)
		}
	}
}

func parseForm(r *http.Request, body []byte) (url.Values, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, fmt.Errorf("content type must be application/x-www-form-urlencoded")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("malformed form body")
	}
	return form, nil
}

// clientCredentials reads the client from HTTP Basic authentication or, as
// Cognito also allows, from the form.
func clientCredentials(r *http.Request, form url.Values) (id, secret string) {
	if id, secret, ok := basicAuth(r); ok {
		return id, secret
	}
	return form.Get("client_id"), form.Get("client_secret")
}

// tokenClientID names the client a token request claims to be, for counting.
func tokenClientID(r *http.Request, body []byte) string {
	form, _ := url.ParseQuery(string(body))
	id, _ := clientCredentials(r, form)
	return id
}

// basicAuth reads HTTP Basic client credentials, which RFC 6749 section
// 2.3.1 says are form-encoded before base64.
func basicAuth(r *http.Request) (id, secret string, ok bool) {
	id, secret, ok = r.BasicAuth()
	if !ok {
		return "", "", false
	}
	uid, err1 := url.QueryUnescape(id)
	usecret, err2 := url.QueryUnescape(secret)
	if err1 != nil || err2 != nil {
		return id, secret, true
	}
	return uid, usecret, true
}

// newJWT returns a string shaped like a Cognito access token. It is not
// signed: clients must treat tokens as opaque anyway.
func newJWT(clientID string, now, expiry time.Time) string {
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"kid": "seventargetsfake", "alg": "RS256"})
	payload, _ := json.Marshal(map[string]any{
		"sub":       clientID,
		"client_id": clientID,
		"token_use": "access",
		"scope":     "leads/post",
		"iss":       "https://seventargetsfake.invalid",
		"iat":       now.Unix(),
		"exp":       expiry.Unix(),
		"jti":       rand.Text(),
	})
	sig := make([]byte, 64)
	_, _ = rand.Read(sig)
	return enc.EncodeToString(header) + "." + enc.EncodeToString(payload) + "." + enc.EncodeToString(sig)
}

// apiRoutes lists the API's paths and the methods each accepts.
var apiRoutes = map[string]string{
	"/leads":               "POST, PUT",
	"/leads/stop/followup": "PUT",
	"/leads/assistant":     "GET",
}

// serveAPI checks, in the order a gateway would: availability, injected
// faults, the route, the token, the user identifier; then runs the operation.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, body []byte) {
	if s.Down() {
		writeMessage(w, http.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	if status, ok := s.TakeFailure(); ok {
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		writeMessage(w, status, "injected failure: "+http.StatusText(status))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	methods, ok := apiRoutes[r.URL.Path]
	if !ok {
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	if !strings.Contains(methods, r.Method) {
		w.Header().Set("Allow", methods)
		writeMessage(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	owner, status, msg := s.authenticateLocked(r)
	if status != 0 {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
		writeMessage(w, status, msg)
		return
	}
	switch r.Method + " " + r.URL.Path {
	case "POST /leads":
		s.createLeadLocked(w, owner, body)
	case "PUT /leads":
		s.updateLeadLocked(w, owner, body, false)
	case "PUT /leads/stop/followup":
		s.updateLeadLocked(w, owner, body, true)
	case "GET /leads/assistant":
		s.listAssistantsLocked(w, r)
	}
}

// authenticateLocked returns the client a request acts for, or the status
// and message to refuse it with.
func (s *Server) authenticateLocked(r *http.Request) (clientID string, status int, msg string) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", http.StatusUnauthorized, "Unauthorized"
	}
	t, ok := s.tokens[tok]
	if !ok {
		return "", http.StatusUnauthorized, "Unauthorized"
	}
	if !time.Now().Before(t.expiry) {
		return "", http.StatusUnauthorized, "The incoming token has expired"
	}
	user := r.Header.Get("7ts-user-identifier")
	if user == "" {
		return "", http.StatusUnauthorized, "7ts-user-identifier header is required"
	}
	c, ok := s.clients[t.clientID]
	if !ok {
		return "", http.StatusUnauthorized, "Unauthorized"
	}
	if len(c.users) > 0 && !c.users[user] {
		return "", http.StatusForbidden, "user identifier does not belong to this client"
	}
	return t.clientID, 0, ""
}

// leadInput is a lead request body. Pointers tell "absent or null", which an
// update leaves alone, from a value.
type leadInput struct {
	ID                        *int64                     `json:"id"`
	Name                      *string                    `json:"name"`
	LastName                  *string                    `json:"lastName"`
	Source                    *string                    `json:"source"`
	Context                   *string                    `json:"context"`
	AdditionalInformationLine *string                    `json:"additionalInformationLine"`
	Email                     *string                    `json:"email"`
	Phone                     *string                    `json:"phone"`
	AssistantEmail            *string                    `json:"assistantEmail"`
	ScheduleID                *int64                     `json:"scheduleId"`
	ScheduleName              *string                    `json:"scheduleName"`
	CustomFields              []seventargets.CustomField `json:"customFields"`
}

func decodeLead(w http.ResponseWriter, body []byte) (leadInput, bool) {
	var in leadInput
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		writeMessage(w, http.StatusBadRequest, "The body can't be empty")
		return in, false
	}
	if err := json.Unmarshal(trimmed, &in); err != nil {
		writeMessage(w, http.StatusBadRequest, "Malformed JSON request body")
		return in, false
	}
	return in, true
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return strings.TrimSpace(*p)
}

func (s *Server) createLeadLocked(w http.ResponseWriter, owner string, body []byte) {
	in, ok := decodeLead(w, body)
	if !ok {
		return
	}
	var missing []string
	for _, f := range []struct {
		name  string
		value *string
	}{{"name", in.Name}, {"email", in.Email}, {"assistantEmail", in.AssistantEmail}} {
		if str(f.value) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		writeMessage(w, http.StatusBadRequest, strings.Join(missing, ", ")+" mandatory")
		return
	}
	email := str(in.Email)
	if _, err := mail.ParseAddress(email); err != nil || strings.ContainsAny(email, "<> ") {
		writeMessage(w, http.StatusBadRequest, "email is not a valid email address")
		return
	}
	assistant, ok := s.assistantLocked(str(in.AssistantEmail))
	if !ok {
		writeMessage(w, http.StatusBadRequest, "Assistant not found for assistantEmail "+str(in.AssistantEmail))
		return
	}
	schedID, schedName, msg := s.scheduleLocked(in, assistant)
	if msg != "" {
		writeMessage(w, http.StatusBadRequest, msg)
		return
	}

	// "Creates or assigns": the same email again is the same lead, now
	// assigned to this assistant and sequence.
	if l := s.findLeadLocked(owner, 0, email); l != nil {
		l.res.AssistantID = assistant.ID
		l.res.ScheduleID, l.res.ScheduleName = schedID, schedName
		writeLead(w, http.StatusCreated, l.res)
		return
	}
	next := time.Now().Add(firstMessageDelay).UTC().Truncate(time.Second)
	l := &storedLead{owner: owner, res: seventargets.LeadResult{
		ID:               s.nextLeadID,
		Name:             str(in.Name),
		LastName:         str(in.LastName),
		Type:             leadType,
		Email:            email,
		Phone:            str(in.Phone),
		ScheduleID:       schedID,
		ScheduleName:     schedName,
		AssistantID:      assistant.ID,
		NextScheduleTime: &next,
		State:            stateCold,
		SubState:         subStateFollowup,
		Followup:         1,
		CustomFields:     mergeFields(nil, in.CustomFields),
	}}
	s.nextLeadID++
	s.leads[l.res.ID] = l
	s.byEmail[emailKey(owner, email)] = l
	writeLead(w, http.StatusCreated, l.res)
}

// updateLeadLocked serves both PUT operations, which find the lead the same
// way: by id, else by email.
func (s *Server) updateLeadLocked(w http.ResponseWriter, owner string, body []byte, stop bool) {
	in, ok := decodeLead(w, body)
	if !ok {
		return
	}
	var id int64
	if in.ID != nil {
		id = *in.ID
	}
	if id == 0 && str(in.Email) == "" {
		writeMessage(w, http.StatusBadRequest, "id or email is required to identify the lead")
		return
	}
	l := s.findLeadLocked(owner, id, str(in.Email))
	if l == nil {
		writeMessage(w, http.StatusNotFound, "Lead not found")
		return
	}
	if stop {
		l.res.NextScheduleTime = nil
		l.res.SubState = subStateStopped
		writeLead(w, http.StatusOK, l.res)
		return
	}

	// Validate everything before changing anything.
	assistantID := l.res.AssistantID
	if a := str(in.AssistantEmail); a != "" {
		assistant, ok := s.assistantLocked(a)
		if !ok {
			writeMessage(w, http.StatusBadRequest, "Assistant not found for assistantEmail "+a)
			return
		}
		assistantID = assistant.ID
	}
	// The sequence changes only when one is named: an update that merely
	// repeats the assistant must not restart the lead's sequence.
	schedID, schedName := l.res.ScheduleID, l.res.ScheduleName
	if (in.ScheduleID != nil && *in.ScheduleID != 0) || str(in.ScheduleName) != "" {
		var msg string
		if schedID, schedName, msg = s.scheduleLocked(in, seventargets.Assistant{}); msg != "" {
			writeMessage(w, http.StatusBadRequest, msg)
			return
		}
	}
	// Email cannot change, as documented; it is silently kept.
	for _, f := range []struct {
		dst *string
		src *string
	}{{&l.res.Name, in.Name}, {&l.res.LastName, in.LastName}, {&l.res.Phone, in.Phone}} {
		if f.src != nil {
			*f.dst = str(f.src)
		}
	}
	l.res.AssistantID = assistantID
	l.res.ScheduleID, l.res.ScheduleName = schedID, schedName
	l.res.CustomFields = mergeFields(l.res.CustomFields, in.CustomFields)
	writeLead(w, http.StatusOK, l.res)
}

func (s *Server) findLeadLocked(owner string, id int64, email string) *storedLead {
	if id != 0 {
		if l, ok := s.leads[id]; ok && l.owner == owner {
			return l
		}
		return nil
	}
	return s.byEmail[emailKey(owner, email)]
}

// emailKey names a client's lead by its email, in any case: a lead's email never changes.
func emailKey(owner, email string) string { return owner + "\x00" + strings.ToLower(email) }

func (s *Server) assistantLocked(email string) (seventargets.Assistant, bool) {
	for _, a := range s.assistants {
		if strings.EqualFold(a.EmailID, email) {
			return a, true
		}
	}
	return seventargets.Assistant{}, false
}

// scheduleLocked resolves the sequence as documented: scheduleId, else
// scheduleName (case sensitive), else the assistant's default.
func (s *Server) scheduleLocked(in leadInput, a seventargets.Assistant) (id int64, name, msg string) {
	switch {
	case in.ScheduleID != nil && *in.ScheduleID != 0:
		name, ok := s.schedules[*in.ScheduleID]
		if !ok {
			return 0, "", fmt.Sprintf("Sequence not found for scheduleId %d", *in.ScheduleID)
		}
		return *in.ScheduleID, name, ""
	case str(in.ScheduleName) != "":
		for id, name := range s.schedules {
			if name == str(in.ScheduleName) {
				return id, name, ""
			}
		}
		return 0, "", "Sequence not found for scheduleName " + str(in.ScheduleName)
	default:
		return a.DefaultScheduleID, s.schedules[a.DefaultScheduleID], ""
	}
}

// mergeFields updates fields by name and appends new ones.
func mergeFields(have, in []seventargets.CustomField) []seventargets.CustomField {
	out := append([]seventargets.CustomField(nil), have...)
next:
	for _, f := range in {
		for i := range out {
			if out[i].Name == f.Name {
				out[i].Value = f.Value
				continue next
			}
		}
		out = append(out, f)
	}
	return out
}

// wireAssistant adds the field the client ignores, as the real API sends it.
type wireAssistant struct {
	seventargets.Assistant
	CompleteSignature           string `json:"completeSignature"`
	DefaultScheduleIDForEmailCC int64  `json:"defaultScheduleIdForEmailCC"`
}

func (s *Server) listAssistantsLocked(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, size := 0, 10
	for _, p := range []struct {
		name string
		dst  *int
		min  int
	}{{"page", &page, 0}, {"size", &size, 1}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < p.min {
			writeMessage(w, http.StatusBadRequest, "invalid "+p.name+" parameter")
			return
		}
		*p.dst = n
	}
	size = min(size, 100)
	search := strings.ToLower(q.Get("searchString"))
	var matched []seventargets.Assistant
	for _, a := range s.assistants {
		if strings.Contains(strings.ToLower(a.Name), search) || strings.Contains(strings.ToLower(a.EmailID), search) {
			matched = append(matched, a)
		}
	}
	out := []wireAssistant{}
	if start := page * size; page < len(matched) && start < len(matched) {
		for _, a := range matched[start:min(start+size, len(matched))] {
			out = append(out, wireAssistant{
				Assistant:                   a,
				CompleteSignature:           "<p><strong>" + a.Name + "</strong></p><p>${NURTURING_LINE}</p>",
				DefaultScheduleIDForEmailCC: a.DefaultScheduleID + 3000,
			})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// writeLead sends a lead with nextScheduleTime as the real API might: a
// zone-less time or null.
func writeLead(w http.ResponseWriter, status int, l seventargets.LeadResult) {
	out := struct {
		seventargets.LeadResult
		NextScheduleTime *string                    `json:"nextScheduleTime"`
		CustomFields     []seventargets.CustomField `json:"customFields"`
	}{LeadResult: l, CustomFields: l.CustomFields}
	if out.CustomFields == nil {
		out.CustomFields = []seventargets.CustomField{}
	}
	if l.NextScheduleTime != nil {
		t := l.NextScheduleTime.UTC().Format(wireTimeLayout)
		out.NextScheduleTime = &t
	}
	writeJSON(w, status, out)
}

func writeMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
