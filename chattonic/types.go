package chattonic

import (
	"bytes"
	"cmp"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Funnel is a bot funnel: the interactions a user passes through, in order, and the groups
// that count them. Its ID is the key of the funnels object ("sacarTarjeta").
type Funnel struct {
	ID           string
	Interactions []string
	Groups       []FunnelGroup
}

// FunnelGroup is a funnel group: the unit records are read by (funnel and group name).
type FunnelGroup struct {
	ID       string
	FunnelID string
	Name     string
	// Interactions are the group's stages in order; a group that lists none takes its
	// funnel's, so LastInteraction can still tell when a record is done.
	Interactions   []string
	DoubleCounting bool
	// NewAt is passed on as Chat-Tonic sends it; the reference does not say what it counts.
	NewAt int
}

// LastInteraction returns the group's last stage, "" when it lists none.
func (g FunnelGroup) LastInteraction() string {
	if len(g.Interactions) == 0 {
		return ""
	}
	return g.Interactions[len(g.Interactions)-1]
}

// IsLast reports whether stage is the group's last interaction: a record there has completed
// the funnel. Interaction names are compared ignoring case and surrounding space.
func (g FunnelGroup) IsLast(stage string) bool {
	last := strings.TrimSpace(g.LastInteraction())
	return last != "" && strings.EqualFold(last, strings.TrimSpace(stage))
}

// FunnelPage is one answer of GET …/lead/funnels. Funnels are sorted by ID: the API sends them
// as an object, whose order carries no meaning.
type FunnelPage struct {
	Skip, Limit int
	Funnels     []Funnel
}

// Record is a lead a bot captured: where in which funnel the user is, and what they said.
type Record struct {
	ID      string
	App     string
	Account string
	// Funnel and Group name the funnel and funnel group (interaction.funnel and .group).
	Funnel string
	Group  string
	// Last is the stage reached: the last interaction the user passed (interaction.last).
	Last string
	// User is the bot user; zero when the record has none.
	User      User
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Completed reports whether r reached g's last interaction.
func (r Record) Completed(g FunnelGroup) bool { return g.IsLast(r.Last) }

// User is the person a record is about, as the bot knows them.
type User struct {
	MessageUser string
	// Platform is the channel the bot ran on: "messenger", "whatsapp", "webchat"…
	Platform  string
	FirstName string
	LastName  string
	// ExtraData are the answers the bot collected, in the order sent, names as the bot's
	// author chose them.
	ExtraData []ExtraData
}

// ExtraData is one answer a bot collected: a name and its value (cxt on the wire).
type ExtraData struct {
	Name  string
	Value string
}

// RecordPage is one answer of GET …/lead/records. Records holds one entry per element of the
// answer's objects, in order, even for an element that is not a record (a zero Record), so
// that len(Records) says whether the page was short.
type RecordPage struct {
	Skip, Limit int
	Records     []Record
}

// Wire shapes, as the reference documents them. Decoding is tolerant where the reference is
// silent or loose: a field of an unexpected type is dropped rather than failing the page,
// since one odd record must not stop the import of the others.

type wireFunnelPage struct {
	Limit   json.RawMessage `json:"limit"`
	Skip    json.RawMessage `json:"skip"`
	Funnels json.RawMessage `json:"funnels"`
}

type wireFunnel struct {
	ID           string      `json:"-"`
	Interactions flexStrings `json:"interactions,omitempty"`
	Groups       []wireGroup `json:"groups"`
}

type wireGroup struct {
	DoubleCounting flexBool    `json:"doubleCounting"`
	NewAt          flexNumber  `json:"newAt"`
	Interactions   flexStrings `json:"interactions"`
	ID             flexString  `json:"_id"`
	FunnelID       flexString  `json:"funnelId"`
	Name           flexString  `json:"name"`
}

type wireRecordPage struct {
	Limit   json.RawMessage   `json:"limit"`
	Skip    json.RawMessage   `json:"skip"`
	Objects []json.RawMessage `json:"objects"`
}

type wireRecord struct {
	ID          flexString       `json:"_id"`
	App         flexString       `json:"app,omitempty"`
	Account     flexString       `json:"account,omitempty"`
	Interaction *wireInteraction `json:"interaction,omitempty"`
	User        *wireUser        `json:"user,omitempty"`
	CreatedAt   flexTime         `json:"createdAt"`
	UpdatedAt   flexTime         `json:"updatedAt"`
}

type wireInteraction struct {
	Funnel flexString `json:"funnel"`
	Last   flexString `json:"last"`
	Group  flexString `json:"group"`
}

type wireUser struct {
	ExtraData   flexExtras `json:"extraData"`
	MessageUser flexString `json:"messageUser,omitempty"`
	Platform    flexString `json:"platform,omitempty"`
	FirstName   flexString `json:"firstName,omitempty"`
	LastName    flexString `json:"lastName,omitempty"`
}

type wireExtra struct {
	Name flexString `json:"name"`
	Cxt  flexString `json:"cxt"`
}

// UnmarshalJSON keeps what decodes of an interaction that is not an object: nothing.
func (w *wireInteraction) UnmarshalJSON(b []byte) error {
	type plain wireInteraction // no methods: no recursion
	var p plain
	_ = json.Unmarshal(b, &p)
	*w = wireInteraction(p)
	return nil
}

// UnmarshalJSON keeps what decodes of a user that is not an object: nothing.
func (w *wireUser) UnmarshalJSON(b []byte) error {
	type plain wireUser
	var p plain
	_ = json.Unmarshal(b, &p)
	*w = wireUser(p)
	return nil
}

// flexExtras decodes extraData: the pairs of an array, dropping elements that are not
// objects; anything but an array is none.
type flexExtras []wireExtra

func (x *flexExtras) UnmarshalJSON(b []byte) error {
	*x = nil
	var list []json.RawMessage
	if json.Unmarshal(b, &list) != nil {
		return nil
	}
	for _, raw := range list {
		var e wireExtra
		if json.Unmarshal(raw, &e) == nil {
			*x = append(*x, e)
		}
	}
	return nil
}

// DecodeFunnels reads an answer of GET …/lead/funnels. It fails only when b is not a JSON
// object; funnels may come as the documented object keyed by funnel ID or as an array.
func DecodeFunnels(b []byte) (FunnelPage, error) {
	var w wireFunnelPage
	if err := json.Unmarshal(b, &w); err != nil {
		return FunnelPage{}, err
	}
	page := FunnelPage{Skip: flexInt(w.Skip), Limit: flexInt(w.Limit)}
	for _, f := range decodeFunnelSet(w.Funnels) {
		page.Funnels = append(page.Funnels, f.domain())
	}
	// Sorted and unique by ID: a map has no order and an array may repeat one.
	slices.SortStableFunc(page.Funnels, func(a, b Funnel) int { return cmp.Compare(a.ID, b.ID) })
	page.Funnels = slices.CompactFunc(page.Funnels, func(a, b Funnel) bool { return a.ID == b.ID })
	return page, nil
}

// decodeFunnelSet reads the funnels member in either shape, dropping what is not a funnel.
func decodeFunnelSet(raw json.RawMessage) []wireFunnel {
	raw = bytes.TrimSpace(raw)
	var out []wireFunnel
	switch {
	case len(raw) == 0:
	case raw[0] == '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return nil
		}
		// Keys in order, so that of two IDs equal once trimmed the same one is kept every time.
		for _, id := range slices.Sorted(maps.Keys(m)) {
			if f, ok := decodeFunnel(m[id]); ok && strings.TrimSpace(id) != "" {
				f.ID = strings.TrimSpace(id)
				out = append(out, f)
			}
		}
	case raw[0] == '[':
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			return nil
		}
		for _, v := range list {
			f, ok := decodeFunnel(v)
			if !ok {
				continue
			}
			var id struct {
				ID       flexString `json:"id"`
				MongoID  flexString `json:"_id"`
				FunnelID flexString `json:"funnelId"`
				Name     flexString `json:"name"`
			}
			_ = json.Unmarshal(v, &id)
			f.ID = strings.TrimSpace(cmp.Or(string(id.ID), string(id.FunnelID), string(id.MongoID), string(id.Name)))
			if f.ID != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

func decodeFunnel(raw json.RawMessage) (wireFunnel, bool) {
	var f struct {
		Interactions flexStrings       `json:"interactions"`
		Groups       []json.RawMessage `json:"groups"`
	}
	if json.Unmarshal(raw, &f) != nil {
		return wireFunnel{}, false
	}
	w := wireFunnel{Interactions: f.Interactions}
	for _, g := range f.Groups {
		var wg wireGroup
		if json.Unmarshal(g, &wg) == nil {
			w.Groups = append(w.Groups, wg)
		}
	}
	return w, true
}

func (w wireFunnel) domain() Funnel {
	f := Funnel{ID: w.ID, Interactions: []string(w.Interactions)}
	for _, wg := range w.Groups {
		g := FunnelGroup{
			ID: string(wg.ID), FunnelID: cmp.Or(strings.TrimSpace(string(wg.FunnelID)), w.ID),
			Name: strings.TrimSpace(string(wg.Name)), Interactions: []string(wg.Interactions),
			DoubleCounting: bool(wg.DoubleCounting), NewAt: int(wg.NewAt),
		}
		if len(g.Interactions) == 0 {
			g.Interactions = slices.Clone(f.Interactions)
		}
		if g.Name == "" {
			continue // records are read by group name: a group without one cannot be read
		}
		f.Groups = append(f.Groups, g)
	}
	return f
}

// MarshalJSON encodes p in the documented shape, funnels keyed by ID, as the fake answers.
func (p FunnelPage) MarshalJSON() ([]byte, error) {
	funnels := make(map[string]wireFunnel, len(p.Funnels))
	for _, f := range p.Funnels {
		w := wireFunnel{Interactions: f.Interactions, Groups: []wireGroup{}}
		for _, g := range f.Groups {
			w.Groups = append(w.Groups, wireGroup{
				DoubleCounting: flexBool(g.DoubleCounting), NewAt: flexNumber(g.NewAt),
				Interactions: g.Interactions, ID: flexString(g.ID), FunnelID: flexString(g.FunnelID),
				Name: flexString(g.Name),
			})
		}
		funnels[f.ID] = w
	}
	return json.Marshal(struct {
		Limit   int                   `json:"limit"`
		Skip    int                   `json:"skip"`
		Funnels map[string]wireFunnel `json:"funnels"`
	}{p.Limit, p.Skip, funnels})
}

// DecodeRecords reads an answer of GET …/lead/records. It fails only when b is not a JSON
// object or its objects member is not an array.
func DecodeRecords(b []byte) (RecordPage, error) {
	var w wireRecordPage
	if err := json.Unmarshal(b, &w); err != nil {
		return RecordPage{}, err
	}
	page := RecordPage{Skip: flexInt(w.Skip), Limit: flexInt(w.Limit), Records: make([]Record, 0, len(w.Objects))}
	for _, raw := range w.Objects {
		page.Records = append(page.Records, decodeRecord(raw))
	}
	return page, nil
}

// decodeRecord reads one element of objects; anything that is not a record object is the zero
// Record.
func decodeRecord(raw json.RawMessage) Record {
	var w wireRecord
	if json.Unmarshal(raw, &w) != nil {
		return Record{}
	}
	r := Record{
		ID: strings.TrimSpace(string(w.ID)), App: string(w.App), Account: string(w.Account),
		CreatedAt: time.Time(w.CreatedAt), UpdatedAt: time.Time(w.UpdatedAt),
	}
	if w.Interaction != nil {
		r.Funnel, r.Group, r.Last = string(w.Interaction.Funnel), string(w.Interaction.Group), string(w.Interaction.Last)
	}
	if u := w.User; u != nil {
		r.User = User{
			MessageUser: string(u.MessageUser), Platform: string(u.Platform),
			FirstName: string(u.FirstName), LastName: string(u.LastName),
		}
		for _, x := range u.ExtraData {
			if x.Name != "" || x.Cxt != "" {
				r.User.ExtraData = append(r.User.ExtraData, ExtraData{Name: string(x.Name), Value: string(x.Cxt)})
			}
		}
	}
	return r
}

// MarshalJSON encodes p in the documented shape, as the fake answers.
func (p RecordPage) MarshalJSON() ([]byte, error) {
	objects := make([]wireRecord, 0, len(p.Records))
	for _, r := range p.Records {
		objects = append(objects, r.wire())
	}
	return json.Marshal(struct {
		Limit   int          `json:"limit"`
		Skip    int          `json:"skip"`
		Objects []wireRecord `json:"objects"`
	}{p.Limit, p.Skip, objects})
}

func (r Record) wire() wireRecord {
	w := wireRecord{
		ID: flexString(r.ID), App: flexString(r.App), Account: flexString(r.Account),
		Interaction: &wireInteraction{Funnel: flexString(r.Funnel), Last: flexString(r.Last), Group: flexString(r.Group)},
		CreatedAt:   flexTime(r.CreatedAt), UpdatedAt: flexTime(r.UpdatedAt),
	}
	if u := r.User; u.MessageUser != "" || u.Platform != "" || u.FirstName != "" || u.LastName != "" || len(u.ExtraData) > 0 {
		w.User = &wireUser{
			ExtraData: flexExtras{}, MessageUser: flexString(u.MessageUser), Platform: flexString(u.Platform),
			FirstName: flexString(u.FirstName), LastName: flexString(u.LastName),
		}
		for _, x := range u.ExtraData {
			w.User.ExtraData = append(w.User.ExtraData, wireExtra{Name: flexString(x.Name), Cxt: flexString(x.Value)})
		}
	}
	return w
}

// flexString decodes a JSON string, or a number or boolean as its text: bots store what users
// typed, and a number-typed answer (a DNI, an amount) is still the answer. Null, objects and
// arrays decode to "".
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*s = ""
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '"':
		var v string
		if json.Unmarshal(b, &v) == nil {
			*s = flexString(v)
		}
	case 't', 'f':
		*s = flexString(b)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if json.Unmarshal(b, &n) == nil {
			*s = flexString(n.String())
		}
	}
	return nil
}

// flexStrings decodes an array of strings, keeping its text elements (as flexString reads
// them) and dropping empty ones; anything but an array is empty.
type flexStrings []string

func (s *flexStrings) UnmarshalJSON(b []byte) error {
	*s = nil
	var list []flexString
	if json.Unmarshal(b, &list) != nil {
		return nil
	}
	for _, v := range list {
		if t := strings.TrimSpace(string(v)); t != "" {
			*s = append(*s, t)
		}
	}
	return nil
}

// flexBool decodes true, "true" and 1 as true, anything else as false.
type flexBool bool

func (v *flexBool) UnmarshalJSON(b []byte) error {
	switch strings.Trim(strings.TrimSpace(string(b)), `"`) {
	case "true", "1":
		*v = true
	default:
		*v = false
	}
	return nil
}

// flexNumber decodes a count as flexInt does.
type flexNumber int

func (v *flexNumber) UnmarshalJSON(b []byte) error {
	*v = flexNumber(flexInt(b))
	return nil
}

// flexInt reads a count sent as a number or a numeric string, as the reference documents skip
// and limit as strings but shows numbers; anything else, or a negative count, is 0.
func flexInt(raw json.RawMessage) int {
	var s flexString
	_ = s.UnmarshalJSON(raw)
	f, err := strconv.ParseFloat(strings.TrimSpace(string(s)), 64)
	if err != nil || math.IsNaN(f) || f < 0 {
		return 0
	}
	return int(math.Min(f, math.MaxInt32))
}

// flexTime is a time.Time that decodes from ISO 8601 text, as the reference shows, or unix
// milliseconds; anything else is the zero time, and it encodes as ISO 8601 with milliseconds
// in UTC, as Chat-Tonic sends it.
type flexTime time.Time

// isoLayout is how Chat-Tonic writes times (JavaScript's toISOString) and how the client sends
// startDate and endDate.
const isoLayout = "2006-01-02T15:04:05.000Z07:00"

func (t *flexTime) UnmarshalJSON(b []byte) error {
	*t = flexTime(parseTime(b))
	return nil
}

func (t flexTime) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(formatTime(time.Time(t)))
}

// formatTime writes t as Chat-Tonic does.
func formatTime(t time.Time) string { return t.UTC().Format(isoLayout) }

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", time.DateOnly}

func parseTime(b []byte) time.Time {
	b = bytes.TrimSpace(b)
	var t time.Time
	switch {
	case len(b) == 0:
		return time.Time{}
	case b[0] == '"':
		var s string
		if json.Unmarshal(b, &s) != nil {
			return time.Time{}
		}
		for _, layout := range timeLayouts {
			if p, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
				t = p
				break
			}
		}
	default:
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil || math.IsNaN(f) || f <= 0 || f >= 1e15 {
			return time.Time{}
		}
		t = time.UnixMilli(int64(f))
	}
	// Milliseconds in UTC: what the wire carries, so a decoded time encodes back to itself.
	t = t.UTC().Truncate(time.Millisecond)
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}
	}
	return t
}
