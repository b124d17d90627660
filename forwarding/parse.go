package forwarding

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/sales"
)

// ErrMalformed means a webhook body is not a Zenvia Sales notification of a shape the App
// reads: not JSON, not an object or array of objects, fields of the wrong type, or more
// prospects than one body may carry.
var ErrMalformed = fmt.Errorf("malformed notification: %w", zen7.ErrMalformed)

// Bounds on what one webhook body may cause. The HTTP layer already limits the body to 1 MiB.
const (
	// maxProspectsPerBody bounds the prospects (and the envelopes) one body may carry, counted
	// before they are decoded.
	maxProspectsPerBody = 100
	// maxProspectIDLen bounds a prospect id; Sales ids are 24 characters. A longer one is not
	// a Sales id and is skipped rather than stored.
	maxProspectIDLen = 256
	// maxCommentsRunes bounds Prospect.Comments, which becomes a lead's
	// additionalInformationLine.
	maxCommentsRunes = 1000
	// maxEmailLen is the longest address SMTP allows (RFC 5321 with RFC 3696 erratum).
	maxEmailLen = zen7.MaxEmailLen
	// maxContacts bounds the emails and the phones kept of a prospect: only the first is
	// sent to 7Targets, and the outbox should not store thousands.
	maxContacts = 20
)

// Event types, as Event.Type holds them.
const (
	eventCreated = sales.NotificationCreated
	eventUpdated = sales.NotificationUpdated
)

// volatileEnvelopeKeys are the envelope fields that change when Sales delivers the same
// notification again; the Key leaves them out.
var volatileEnvelopeKeys = []string{"attempts", "sent", "received", "subscriptionId"}

// ParseNotifications parses a webhook body from Zenvia Sales into one Event per prospect of
// the "prospects" topic. It reads the documented envelope (an object with a "prospect"
// array), and tolerates "prospect" as a single object, a top-level array of envelopes, and a
// bare prospect object (one with an "id" and neither "prospect" nor "topic"), read as an
// "updated" notification. An envelope without a topic is taken as "prospects"; envelopes of
// other topics and prospects without a usable id are skipped, not errors. A prospect listed
// twice in one notification yields one event.
//
// It returns an error wrapping ErrMalformed for anything else, and for bodies with more than
// 100 prospects.
func ParseNotifications(body []byte) ([]Event, error) {
	var top json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, describeJSONError(err))
	}
	top = bytes.TrimSpace(top)
	var items []json.RawMessage
	switch top[0] {
	case '{':
		items = []json.RawMessage{top}
	case '[':
		if err := json.Unmarshal(top, &items); err != nil {
			return nil, fmt.Errorf("%w: %s", ErrMalformed, describeJSONError(err))
		}
		if len(items) > maxProspectsPerBody {
			return nil, fmt.Errorf("%w: more than %d notifications in one body", ErrMalformed, maxProspectsPerBody)
		}
	default:
		return nil, fmt.Errorf("%w: the body must be a JSON object or an array of objects", ErrMalformed)
	}

	p := parser{budget: maxProspectsPerBody, seen: make(map[string]bool)}
	for i, raw := range items {
		if err := p.parseItem(raw); err != nil {
			if len(items) > 1 {
				return nil, fmt.Errorf("%w (notification %d)", err, i)
			}
			return nil, err
		}
	}
	return p.events, nil
}

// parser accumulates the events of one body.
type parser struct {
	budget int             // prospects the body may still carry
	seen   map[string]bool // keys already returned
	events []Event
}

// envelopeProbe tells the shapes apart with encoding/json's own key matching (case
// insensitive, last duplicate wins), so the shape seen here is the one decoded later.
type envelopeProbe struct {
	Topic    json.RawMessage `json:"topic"`
	Prospect json.RawMessage `json:"prospect"`
	ID       json.RawMessage `json:"id"`
	MongoID  json.RawMessage `json:"_id"`
}

// parseItem parses one envelope or bare prospect.
func (p *parser) parseItem(raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("%w: a notification must be a JSON object", ErrMalformed)
	}
	var probe envelopeProbe
	if err := json.Unmarshal(raw, &probe); err != nil {
		return fmt.Errorf("%w: %s", ErrMalformed, describeJSONError(err))
	}
	switch {
	case probe.Prospect != nil || probe.Topic != nil:
		return p.parseEnvelope(raw, probe)
	case probe.ID != nil || probe.MongoID != nil:
		return p.parseBareProspect(raw)
	default:
		return fmt.Errorf("%w: neither a notification (no prospect or topic) nor a prospect (no id)", ErrMalformed)
	}
}

func (p *parser) parseEnvelope(raw json.RawMessage, probe envelopeProbe) error {
	n, err := countProspects(probe.Prospect)
	if err != nil {
		return err
	}
	if err := p.spend(n); err != nil {
		return err
	}
	var topic string
	if t := bytes.TrimSpace(probe.Topic); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		if err := json.Unmarshal(t, &topic); err != nil {
			return fmt.Errorf("%w: topic must be a string", ErrMalformed)
		}
	}
	if topic = strings.TrimSpace(topic); topic != "" && !strings.EqualFold(topic, sales.TopicProspects) {
		return nil // another topic: not for the App, and not an error to Sales
	}
	var env sales.Notification
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("%w: %s", ErrMalformed, describeJSONError(err))
	}
	canon, err := canonicalEnvelope(raw)
	if err != nil {
		return err
	}
	typ := eventUpdated
	if strings.EqualFold(strings.TrimSpace(env.Type), eventCreated) {
		typ = eventCreated
	}
	for _, sp := range env.Prospect {
		pr, ok := prospectOf(sp)
		if !ok {
			continue
		}
		if !env.UpdatedAt.IsZero() {
			pr.UpdatedAt = env.UpdatedAt
		}
		p.add(Event{Topic: sales.TopicProspects, Type: typ, Prospect: pr, Key: eventKey(canon, pr.ID)})
	}
	return nil
}

func (p *parser) parseBareProspect(raw json.RawMessage) error {
	if err := p.spend(1); err != nil {
		return err
	}
	var sp sales.Prospect
	if err := json.Unmarshal(raw, &sp); err != nil {
		return fmt.Errorf("%w: %s", ErrMalformed, describeJSONError(err))
	}
	pr, ok := prospectOf(sp)
	if !ok {
		return nil
	}
	canon, err := canonicalEnvelope(raw)
	if err != nil {
		return err
	}
	p.add(Event{Topic: sales.TopicProspects, Type: eventUpdated, Prospect: pr, Key: eventKey(canon, pr.ID)})
	return nil
}

// spend takes n prospects from the body's budget.
func (p *parser) spend(n int) error {
	if n > p.budget {
		return fmt.Errorf("%w: more than %d prospects in one body", ErrMalformed, maxProspectsPerBody)
	}
	p.budget -= n
	return nil
}

// add appends e unless an event with its key is already there: the same prospect listed
// twice in one notification is one event.
func (p *parser) add(e Event) {
	if p.seen[e.Key] {
		return
	}
	p.seen[e.Key] = true
	p.events = append(p.events, e)
}

// countProspects counts the prospects of an envelope's "prospect" value: an array, a single
// object, or absent or null. It counts before anything is decoded, to bound the work.
func countProspects(raw json.RawMessage) (int, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return 0, nil
	case raw[0] == '[':
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return 0, fmt.Errorf("%w: %s", ErrMalformed, describeJSONError(err))
		}
		return len(list), nil
	case raw[0] == '{':
		return 1, nil
	default:
		return 0, fmt.Errorf("%w: prospect must be an array or an object", ErrMalformed)
	}
}

// canonicalEnvelope returns the envelope without the fields that change between deliveries
// of one notification, in a form independent of key order and whitespace: decoded, stripped
// and encoded again (encoding/json sorts map keys). Numbers keep their text, so two numbers
// that differ only beyond float64 precision still differ.
func canonicalEnvelope(raw json.RawMessage) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, describeJSONError(err))
	}
	for k := range m {
		for _, v := range volatileEnvelopeKeys {
			// encoding/json reads keys case-insensitively, so "Attempts" is attempts too.
			if strings.EqualFold(k, v) {
				delete(m, k)
			}
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return b, nil
}

// eventKey hashes the canonical envelope and the prospect id. The NUL separator cannot occur
// in encoded JSON, so no two (envelope, id) pairs share an input.
func eventKey(canon []byte, prospectID string) string {
	h := sha256.New()
	h.Write(canon)
	h.Write([]byte{0})
	h.Write([]byte(prospectID))
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// FromSales converts a prospect as the Sales API returns it (GET /prospect/{id}, or in a
// notification) to what the App keeps, cleaning it on the way: names trimmed with inner
// white space collapsed, emails lowercased and validated, phones normalised (NormalizePhone),
// both without duplicates and at most 20 of each. UpdatedAt is the prospect's latest own
// timestamp; ParseNotifications replaces it with the notification's updatedAt when there is
// one. The ID is "" when sp has no usable id (empty, over 256 bytes, or with control
// characters).
func FromSales(sp sales.Prospect) zen7.Prospect {
	id := strings.TrimSpace(sp.ID)
	if len(id) > maxProspectIDLen || strings.IndexFunc(id, unicode.IsControl) >= 0 || !utf8.ValidString(id) {
		id = ""
	}
	group := strings.TrimSpace(sp.GroupID)
	if group == "" {
		group = strings.TrimSpace(sp.Group)
	}
	if len(group) > maxProspectIDLen {
		group = ""
	}
	p := zen7.Prospect{
		ID:        id,
		GroupID:   squashSpace(group),
		FirstName: squashSpace(sp.FirstName),
		LastName:  squashSpace(sp.LastName),
		Emails:    CleanEmails(sp.EmailAddresses()),
		Phones:    CleanPhones(sp.PhoneNumbers()),
		Status:    sp.Status,
		UpdatedAt: latestTimestamp(sp),
	}
	if sp.GroupID != "" {
		p.GroupName = capRunes(squashSpace(sp.Group), maxRouteValueRunes)
	}
	p.Category = capRunes(squashSpace(sp.Category), maxRouteValueRunes)
	leads := newestFirst(sp.Leads)
	p.UTMSource = utmSourceOf(leads)
	p.UTMMedium = newestOf(leads, func(l sales.Lead) string { return l.UtmMedium })
	p.UTMCampaign = newestOf(leads, func(l sales.Lead) string { return l.UtmCampaign })
	p.Provider = newestOf(leads, func(l sales.Lead) string { return l.Provider })
	if p.Provider == "" {
		p.Provider = newestOf(leads, func(l sales.Lead) string { return l.ProviderKey })
	}
	p.Comments = commentsOf(leads)
	p.Partial = p.FirstName == "" && p.LastName == "" && len(p.Emails) == 0 && len(p.Phones) == 0 &&
		strings.TrimSpace(p.Status) == ""
	return p
}

// prospectOf converts sp, reporting false when it has no usable id.
func prospectOf(sp sales.Prospect) (zen7.Prospect, bool) {
	p := FromSales(sp)
	return p, p.ID != ""
}

// CleanEmails keeps the valid addresses of in, lowercased, without duplicates, at most
// maxContacts of them.
func CleanEmails(in []string) []string {
	var out []string
	seen := make(map[string]bool)
	for _, e := range in {
		if len(out) == maxContacts {
			break
		}
		if e, ok := zen7.BareEmail(e); ok && !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

// CleanPhones keeps the valid numbers of in, normalised, without duplicates, at most
// maxContacts of them.
func CleanPhones(in []string) []string {
	var out []string
	seen := make(map[string]bool)
	for _, ph := range in {
		if len(out) == maxContacts {
			break
		}
		if ph = NormalizePhone(ph); ph != "" && !seen[ph] {
			seen[ph] = true
			out = append(out, ph)
		}
	}
	return out
}

// latestTimestamp is the newest time the prospect itself carries: its creation, assignment,
// first contact, and the arrival of its leads.
func latestTimestamp(sp sales.Prospect) time.Time {
	latest := sp.Created
	for _, t := range []time.Time{sp.Assigned, sp.FirstContactedAt} {
		if t.After(latest) {
			latest = t
		}
	}
	for _, l := range sp.Leads {
		if l.Created.After(latest) {
			latest = l.Created
		}
	}
	return latest
}

// newestFirst orders leads by creation time, newest first. Leads without a time count as
// older than any dated one, and among equals a later position in the list is newer, since
// Sales appends leads as they arrive.
func newestFirst(leads []sales.Lead) []sales.Lead {
	idx := make([]int, len(leads))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := leads[b].Created.Compare(leads[a].Created); c != 0 {
			return c
		}
		return b - a
	})
	out := make([]sales.Lead, len(leads))
	for i, j := range idx {
		out[i] = leads[j]
	}
	return out
}

// utmSourceOf returns the utmSource of the newest lead that has one, else the deprecated
// source of the newest lead that has that.
func utmSourceOf(newest []sales.Lead) string {
	for _, l := range newest {
		if s := squashSpace(l.UtmSource); s != "" {
			return s
		}
	}
	for _, l := range newest {
		if s := squashSpace(l.Source); s != "" {
			return s
		}
	}
	return ""
}

// maxRouteValueRunes bounds the prospect fields routing rules compare and deliveries keep.
const maxRouteValueRunes = 200

// newestOf returns the field of the newest lead that has it, spaces squashed.
func newestOf(newest []sales.Lead, field func(sales.Lead) string) string {
	for _, l := range newest {
		if v := squashSpace(field(l)); v != "" {
			return capRunes(v, maxRouteValueRunes)
		}
	}
	return ""
}

// commentsOf joins the leads' comments, newest first, without duplicates, each on one line.
func commentsOf(newest []sales.Lead) string {
	var parts []string
	seen := make(map[string]bool)
	size := 0
	for _, l := range newest {
		c := squashSpace(l.Comments)
		if c == "" || seen[c] {
			continue
		}
		seen[c] = true
		parts = append(parts, c)
		if size += len(c) + 3; size > 4*maxCommentsRunes {
			break // enough to fill the cap whatever the encoding
		}
	}
	return capRunes(strings.Join(parts, " | "), maxCommentsRunes)
}

// squashSpace trims s, turns control characters into spaces, collapses runs of white space
// to one space and drops invalid UTF-8, so the result is one clean line.
func squashSpace(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// capRunes cuts s to at most n runes, on a rune boundary, without trailing white space.
func capRunes(s string, n int) string {
	count := 0
	for i := range s {
		if count == n {
			return strings.TrimRightFunc(s[:i], unicode.IsSpace)
		}
		count++
	}
	return s
}

// describeJSONError describes a decoding error without echoing the input.
func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		kind, _, _ := strings.Cut(typ.Value, " ") // "number 12": the kind, not the input
		if f := typ.Field; f != "" && len(f) <= 64 && strings.Trim(f, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._") == "" {
			return fmt.Sprintf("%s has the wrong type (%s)", f, kind)
		}
		return fmt.Sprintf("a value has the wrong type (%s)", kind)
	case err.Error() == "unexpected end of JSON input" || err.Error() == "EOF":
		return "the body is empty or cut short"
	default:
		return "invalid JSON"
	}
}
