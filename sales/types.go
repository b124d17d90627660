package sales

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// Notification topics a subscription can name.
const (
	TopicProspects    = "prospects"
	TopicInteractions = "interactions"
	TopicQuotes       = "quotes"
	TopicAgents       = "agents"
)

// Notification types: what happened to the prospect.
const (
	NotificationCreated = "created"
	NotificationUpdated = "updated"
)

// Integration is an App instance as Sales knows it: where it was installed and for whom.
type Integration struct {
	ID          string `json:"id"`
	Name        string `json:"name,omitempty"`
	ProviderKey string `json:"providerKey,omitempty"`
	GroupID     string `json:"groupId,omitempty"`
	Group       string `json:"group,omitempty"`
	User        string `json:"user,omitempty"`
	Language    string `json:"language,omitempty"`
	Account     string `json:"account,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
}

// Group is a node of an account's organization tree (company, branch, team).
type Group struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName,omitempty"`
	Name        string   `json:"name,omitempty"`
	Parent      string   `json:"parent,omitempty"`
	Ancestors   []string `json:"ancestors,omitempty"`
	Descendants []string `json:"descendants,omitempty"`
	Type        []string `json:"type,omitempty"`
	Timezone    string   `json:"timezone,omitempty"`
}

// Subscription is a webhook registration: Sales posts notifications of Topics to CallbackURL.
type Subscription struct {
	ID          string   `json:"id"`
	Topics      []string `json:"topics"`
	CallbackURL string   `json:"callbackUrl"`
}

// Prospect is a contact in Sales, in the union of the shapes the API returns for
// GET /prospect/{id} and sends in notifications. Decoding is tolerant where those shapes
// differ: the agent is an object in one and an array in the other, timestamps come in more
// than one format, and emails may arrive only as contact mediums (see EmailAddresses).
type Prospect struct {
	ID               string          `json:"id"`
	Created          time.Time       `json:"created,omitzero"`
	Group            string          `json:"group,omitempty"`
	GroupID          string          `json:"groupId,omitempty"`
	InitialGroup     string          `json:"initialGroup,omitempty"`
	InitialGroupID   string          `json:"initialGroupId,omitempty"`
	Account          string          `json:"account,omitempty"`
	AccountID        string          `json:"accountId,omitempty"`
	FirstName        string          `json:"firstName,omitempty"`
	LastName         string          `json:"lastName,omitempty"`
	Label            string          `json:"label,omitempty"`
	Category         string          `json:"category,omitempty"`
	Status           string          `json:"status,omitempty"`
	ArchivingReason  string          `json:"archivingReason,omitempty"`
	UserMade         bool            `json:"userMade,omitempty"`
	Phones           []string        `json:"phones,omitempty"`
	NIN              []NIN           `json:"nin,omitempty"`
	Emails           []string        `json:"emails,omitempty"`
	ContactMediums   []ContactMedium `json:"contactMediums,omitempty"`
	Leads            []Lead          `json:"leads,omitempty"`
	Agents           Agents          `json:"agent,omitempty"`
	Assigned         time.Time       `json:"assigned,omitzero"`
	FirstContactedAt time.Time       `json:"firstContactedAt,omitzero"`
	AdditionalData   json.RawMessage `json:"additionalData,omitempty"`
}

// UnmarshalJSON decodes a prospect from either API shape; see Prospect.
func (p *Prospect) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		return nil
	}
	type plain Prospect // no methods: no recursion
	var aux struct {
		plain
		MongoID          string   `json:"_id"`
		Created          flexTime `json:"created"`
		Assigned         flexTime `json:"assigned"`
		FirstContactedAt flexTime `json:"firstContactedAt"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*p = Prospect(aux.plain)
	if p.ID == "" {
		p.ID = aux.MongoID
	}
	p.Created = time.Time(aux.Created)
	p.Assigned = time.Time(aux.Assigned)
	p.FirstContactedAt = time.Time(aux.FirstContactedAt)
	return nil
}

// EmailAddresses returns the prospect's email addresses in order and without duplicates: those
// in Emails, then those of email contact mediums, because notifications carry emails only there.
func (p Prospect) EmailAddresses() []string {
	return collect(p.Emails, p.ContactMediums, ContactMedium.isEmail)
}

// PhoneNumbers returns the prospect's phone numbers in order and without duplicates: those in
// Phones, then those of phone-like contact mediums.
func (p Prospect) PhoneNumbers() []string {
	return collect(p.Phones, p.ContactMediums, ContactMedium.isPhone)
}

func collect(direct []string, cms []ContactMedium, match func(ContactMedium) bool) []string {
	var out []string
	seen := make(map[string]bool)
	add := func(v string) {
		v = strings.TrimSpace(v)
		if v != "" && !seen[strings.ToLower(v)] {
			seen[strings.ToLower(v)] = true
			out = append(out, v)
		}
	}
	for _, v := range direct {
		add(v)
	}
	for _, cm := range cms {
		if match(cm) {
			add(cm.Value)
		}
	}
	return out
}

// Lead is one arrival of a prospect: the channel and comments it came with.
type Lead struct {
	Created     time.Time `json:"created,omitzero"`
	CreatedBy   string    `json:"createdBy,omitempty"`
	Source      string    `json:"source,omitempty"`
	UtmSource   string    `json:"utmSource,omitempty"`
	UtmMedium   string    `json:"utmMedium,omitempty"`
	UtmCampaign string    `json:"utmCampaign,omitempty"`
	Provider    string    `json:"provider,omitempty"`
	ProviderKey string    `json:"providerKey,omitempty"`
	Comments    string    `json:"comments,omitempty"`
	Type        string    `json:"type,omitempty"`
}

// UnmarshalJSON decodes a lead, reading its creation time tolerantly: notifications document it
// as a plain string.
func (l *Lead) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		return nil
	}
	type plain Lead
	var aux struct {
		plain
		Created flexTime `json:"created"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*l = Lead(aux.plain)
	l.Created = time.Time(aux.Created)
	return nil
}

// Agent is a Sales user who works prospects.
type Agent struct {
	ID         string          `json:"id,omitempty"`
	FirstName  string          `json:"firstName,omitempty"`
	LastName   string          `json:"lastName,omitempty"`
	Email      string          `json:"email,omitempty"`
	Phone      string          `json:"phone,omitempty"`
	LegacyID   string          `json:"legacyId,omitempty"`
	ExternalID json.RawMessage `json:"externalId,omitempty"`
}

func (a Agent) isZero() bool {
	return a.ID == "" && a.FirstName == "" && a.LastName == "" && a.Email == "" && a.Phone == "" && a.LegacyID == ""
}

// Agents are the agents assigned to a prospect. GET /prospect answers one object, notifications
// an array, and an id string also occurs; all decode to a list, without empty entries, so
// len(p.Agents) > 0 means someone took the prospect. It encodes as an array.
type Agents []Agent

// UnmarshalJSON decodes an agent object, an array of them, an agent id string or null.
func (a *Agents) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if isNull(b) {
		return nil
	}
	var list []Agent
	switch b[0] {
	case '{':
		var one Agent
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		list = []Agent{one}
	case '"':
		var id string
		if err := json.Unmarshal(b, &id); err != nil {
			return err
		}
		list = []Agent{{ID: id}}
	default:
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
	}
	out := list[:0]
	for _, ag := range list {
		if !ag.isZero() {
			out = append(out, ag)
		}
	}
	if len(out) == 0 {
		out = nil
	}
	*a = out
	return nil
}

// ContactMedium is a way to reach a prospect. Sales documents the objects only as "{}", so the
// type and value are read from the usual keys and Raw keeps the object as received.
type ContactMedium struct {
	Type  string          `json:"type,omitempty"`
	Value string          `json:"value,omitempty"`
	Raw   json.RawMessage `json:"-"`
}

// UnmarshalJSON reads Type and Value from whatever keys the object has, and keeps it in Raw. It
// accepts any JSON value and never fails, because an odd contact medium must not lose the
// whole prospect.
func (c *ContactMedium) UnmarshalJSON(b []byte) error {
	*c = ContactMedium{Raw: append(json.RawMessage(nil), b...)}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '"':
		_ = json.Unmarshal(b, &c.Value)
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil {
			return nil
		}
		str := func(keys ...string) (string, string) {
			for _, k := range keys {
				var s string
				if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil && s != "" {
					return k, s
				}
			}
			return "", ""
		}
		_, c.Type = str("type", "medium", "kind", "channel")
		var key string
		key, c.Value = str("value", "contact", "address", "email", "phone", "phoneNumber", "number")
		if c.Type == "" {
			switch key {
			case "email":
				c.Type = "email"
			case "phone", "phoneNumber", "number":
				c.Type = "phone"
			}
		}
	}
	return nil
}

func (c ContactMedium) isEmail() bool {
	if c.Type == "" {
		return strings.Contains(c.Value, "@")
	}
	return strings.Contains(strings.ToLower(c.Type), "mail")
}

func (c ContactMedium) isPhone() bool {
	t := strings.ToLower(c.Type)
	for _, k := range []string{"phone", "mobile", "cell", "whatsapp", "sms"} {
		if strings.Contains(t, k) {
			return true
		}
	}
	return false
}

// Notification is the envelope Sales posts to a subscription's callback URL. Sales retries a
// failed delivery up to 20 times and may deliver one twice, so receivers should deduplicate.
type Notification struct {
	SubscriptionID string            `json:"subscriptionId"`
	Topic          string            `json:"topic"`
	Type           string            `json:"type"`
	Received       time.Time         `json:"received,omitzero"`
	Sent           time.Time         `json:"sent,omitzero"`
	Attempts       int               `json:"attempts"`
	Prospect       []Prospect        `json:"prospect"`
	UpdatedAt      time.Time         `json:"updatedAt,omitzero"`
	OperationID    string            `json:"operationId,omitempty"`
	Updates        []json.RawMessage `json:"updates,omitempty"`
}

// UnmarshalJSON decodes the envelope tolerantly: timestamps in any format parseTime reads,
// attempts as a number or numeric string, and prospect and updates as an array or a single
// object.
func (n *Notification) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		return nil
	}
	type plain Notification
	var aux struct {
		plain
		Received  flexTime        `json:"received"`
		Sent      flexTime        `json:"sent"`
		UpdatedAt flexTime        `json:"updatedAt"`
		Attempts  json.RawMessage `json:"attempts"`
		Prospect  json.RawMessage `json:"prospect"`
		Updates   json.RawMessage `json:"updates"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*n = Notification(aux.plain)
	n.Received = time.Time(aux.Received)
	n.Sent = time.Time(aux.Sent)
	n.UpdatedAt = time.Time(aux.UpdatedAt)
	n.Attempts = flexInt(aux.Attempts)
	if err := oneOrMany(aux.Prospect, &n.Prospect); err != nil {
		return err
	}
	return oneOrMany(aux.Updates, &n.Updates)
}

// oneOrMany decodes a JSON array into *dst, or a single value as a one-element slice.
func oneOrMany[T any](raw json.RawMessage, dst *[]T) error {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		*dst = nil
		return nil
	}
	if raw[0] == '[' {
		return json.Unmarshal(raw, dst)
	}
	var one T
	if err := json.Unmarshal(raw, &one); err != nil {
		return err
	}
	*dst = []T{one}
	return nil
}

// flexInt reads a count sent as a number or a numeric string; anything else is 0.
func flexInt(raw json.RawMessage) int {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return 0
	}
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return 0
		}
	default:
		return 0
	}
	if math.IsNaN(f) || f < 0 {
		return 0
	}
	return int(math.Min(f, math.MaxInt32))
}

func isNull(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

// flexTime is a time.Time that decodes from any timestamp Sales sends; see parseTime.
type flexTime time.Time

// UnmarshalJSON never fails: an unreadable timestamp is the zero time, because one odd field
// must not lose a whole notification.
func (t *flexTime) UnmarshalJSON(b []byte) error {
	*t = flexTime(parseTime(b))
	return nil
}

// Time layouts seen in the wild besides RFC 3339: no zone (read as UTC), a space instead of T,
// a bare date, HTTP dates.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	time.DateOnly,
	time.RFC1123,
	time.RFC1123Z,
}

// parseTime reads a JSON timestamp: a string in one of timeLayouts, or unix seconds or
// milliseconds as a number or numeric string, in UTC. Anything else, or a time outside the
// years 1 to 9999 that JSON can encode back, is the zero time.
func parseTime(b []byte) time.Time {
	b = bytes.TrimSpace(b)
	if isNull(b) {
		return time.Time{}
	}
	var t time.Time
	switch b[0] {
	case '"':
		var s string
		if json.Unmarshal(b, &s) != nil {
			return time.Time{}
		}
		s = strings.TrimSpace(s)
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			t = unixTime(f)
			break
		}
		for _, layout := range timeLayouts {
			if parsed, err := time.Parse(layout, s); err == nil {
				t = parsed
				break
			}
		}
	default:
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return time.Time{}
		}
		t = unixTime(f)
	}
	// UTC: the offset carries no meaning here, and an odd one would not encode back.
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}
	}
	return t
}

// unixTime reads f as unix milliseconds when it is too large to be seconds before the year
// 5000, else as unix seconds.
func unixTime(f float64) time.Time {
	switch {
	case math.IsNaN(f) || f <= 0 || f >= 1e15:
		return time.Time{}
	case f >= 1e11:
		return time.UnixMilli(int64(f)).UTC()
	default:
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC()
	}
}
