package forwarding_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/forwarding"
)

// documentedEnvelope is a prospects-topic notification in the documented shape, with the
// values a real one carries.
const documentedEnvelope = `{
  "subscriptionId": "65f1c0a2b3d4e5f601234567",
  "topic": "prospects",
  "type": "created",
  "received": "2024-05-02T13:04:05.120Z",
  "sent": "2024-05-02T13:04:05.480Z",
  "attempts": 0,
  "prospect": [
    {
      "id": "6633a1f0c2d4e5f601234abc",
      "created": "2024-05-02T13:04:01Z",
      "group": "Sucursal Palermo",
      "groupId": "5e8f1a2b3c4d5e6f70819a2b",
      "account": "Autos del Sur",
      "accountId": "5e8f1a2b3c4d5e6f70810000",
      "initialGroup": "Sucursal Palermo",
      "initialGroupId": "5e8f1a2b3c4d5e6f70819a2b",
      "firstName": "  María   José ",
      "lastName": "Pérez\tGómez",
      "category": "hot",
      "userMade": false,
      "status": "unclaimed",
      "additionalData": {"modelo": "Sandero 2024"},
      "phones": ["+54 9 11 4552 0371"],
      "contactMediums": [
        {"type": "email", "value": "Maria.Perez@Example.com"},
        {"type": "whatsapp", "value": "+54 9 11 4552-0371"}
      ],
      "leads": [
        {
          "created": "2024-04-20T10:00:00Z",
          "createdBy": "web-form",
          "source": "web",
          "utmSource": "newsletter",
          "providerKey": "website",
          "comments": "Pidió precio de contado.",
          "type": "contact"
        },
        {
          "created": "2024-05-02T13:04:01Z",
          "createdBy": "api",
          "source": "facebook",
          "utmSource": "google",
          "providerKey": "7targets",
          "comments": "Quiere una cotización\n del Sandero 2024.",
          "type": "quote"
        }
      ],
      "agent": [],
      "assigned": null,
      "firstContactedAt": null
    }
  ],
  "updatedAt": "2024-05-02T13:04:02Z",
  "operationId": "op-8c1d2e",
  "updates": []
}`

// documentedProspect is what documentedEnvelope's prospect becomes.
var documentedProspect = zen7.Prospect{
	ID:        "6633a1f0c2d4e5f601234abc",
	GroupID:   "5e8f1a2b3c4d5e6f70819a2b",
	FirstName: "María José",
	LastName:  "Pérez Gómez",
	Emails:    []string{"maria.perez@example.com"},
	Phones:    []string{"+5491145520371"},
	Status:    "unclaimed",
	UTMSource: "google",
	GroupName: "Sucursal Palermo",
	Category:  "hot",
	Provider:  "7targets",
	Comments:  "Quiere una cotización del Sandero 2024. | Pidió precio de contado.",
	UpdatedAt: time.Date(2024, 5, 2, 13, 4, 2, 0, time.UTC),
}

// referenceExample is the prospects-topic example of the Sales API reference, as printed.
const referenceExample = `{"subscriptionId":"string","topic":"prospects","type":"updated",
"received":"2019-08-24T14:15:22Z","sent":"2019-08-24T14:15:22Z","attempts":0,
"prospect":[{"id":"string","created":"2019-08-24T14:15:22Z","group":"string","groupId":"string",
"account":"string","accountId":"string","initialGroup":"string","initialGroupId":"string",
"firstName":"string","lastName":"string","category":"string","userMade":true,"status":"string",
"additionalData":{},"phones":["+54 9 11 4552 0371"],"contactMediums":[{}],
"leads":[{"created":"string","createdBy":"string","source":"string","utmSource":"string",
"providerKey":"string","comments":"string","type":"string"}],
"agent":[{"id":"string","firstName":"string","lastName":"string","phone":"string","email":"string"}],
"assigned":"2019-08-24T14:15:22Z","firstContactedAt":"2019-08-24T14:15:22Z"}],
"updatedAt":"2019-08-24T14:15:22Z","operationId":"string",
"whatsAppDueAt":"2019-08-24T14:15:22Z","facebookDueAt":"2019-08-24T14:15:22Z","updates":[{}]}`

var keyPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// parse parses body and fails the test on an error or a malformed Key.
func parse(tb testing.TB, body string) []forwarding.Event {
	tb.Helper()
	events, err := forwarding.ParseNotifications([]byte(body))
	if err != nil {
		tb.Fatalf("ParseNotifications(%.200q) error = %v", body, err)
	}
	for _, e := range events {
		if !keyPattern.MatchString(e.Key) {
			tb.Fatalf("event for %q has Key %q, want 32 lowercase hex digits", e.Prospect.ID, e.Key)
		}
	}
	return events
}

// ignoreKey compares events without their keys, which TestParseNotificationsKey covers.
var ignoreKey = cmpopts.IgnoreFields(forwarding.Event{}, "Key")

func prospectEvent(typ string, p zen7.Prospect) forwarding.Event {
	return forwarding.Event{Topic: "prospects", Type: typ, Prospect: p}
}

func TestParseNotificationsShapes(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 2, 13, 4, 2, 0, time.UTC)
	ana := zen7.Prospect{ID: "p1", FirstName: "Ana", Status: "new", UpdatedAt: at}
	bruno := zen7.Prospect{ID: "p2", FirstName: "Bruno", Status: "followUp", UpdatedAt: at}
	tests := []struct {
		name string
		body string
		want []forwarding.Event
	}{
		{
			name: "documented envelope",
			body: documentedEnvelope,
			want: []forwarding.Event{prospectEvent("created", documentedProspect)},
		},
		{
			name: "reference example",
			body: referenceExample,
			want: []forwarding.Event{prospectEvent("updated", zen7.Prospect{
				ID: "string", GroupID: "string", FirstName: "string", LastName: "string",
				Phones: []string{"+5491145520371"}, Status: "string", UTMSource: "string", Comments: "string",
				GroupName: "string", Category: "string", Provider: "string",
				UpdatedAt: time.Date(2019, 8, 24, 14, 15, 22, 0, time.UTC),
			})},
		},
		{
			name: "prospect as a single object",
			body: `{"topic":"prospects","type":"updated","updatedAt":"2024-05-02T13:04:02Z",
				"prospect":{"id":"p1","firstName":"Ana","status":"new"}}`,
			want: []forwarding.Event{prospectEvent("updated", ana)},
		},
		{
			name: "top-level array of envelopes",
			body: `[{"topic":"prospects","type":"created","updatedAt":"2024-05-02T13:04:02Z","prospect":[{"id":"p1","firstName":"Ana","status":"new"}]},
				{"topic":"prospects","type":"updated","updatedAt":"2024-05-02T13:04:02Z","prospect":{"id":"p2","firstName":"Bruno","status":"followUp"}}]`,
			want: []forwarding.Event{prospectEvent("created", ana), prospectEvent("updated", bruno)},
		},
		{
			name: "bare prospect",
			body: `{"id":"p1","firstName":"Ana","status":"new","created":"2024-05-02T13:04:02Z"}`,
			want: []forwarding.Event{prospectEvent("updated", ana)},
		},
		{
			name: "bare prospect with a Mongo id",
			body: `{"_id":"p1","firstName":"Ana","status":"new","created":"2024-05-02T13:04:02Z"}`,
			want: []forwarding.Event{prospectEvent("updated", ana)},
		},
		{
			name: "several prospects in one envelope",
			body: `{"topic":"prospects","type":"updated","updatedAt":"2024-05-02T13:04:02Z",
				"prospect":[{"id":"p1","firstName":"Ana","status":"new"},{"id":"p2","firstName":"Bruno","status":"followUp"}]}`,
			want: []forwarding.Event{prospectEvent("updated", ana), prospectEvent("updated", bruno)},
		},
		{
			name: "a prospect listed twice is one event",
			body: `{"topic":"prospects","type":"updated","updatedAt":"2024-05-02T13:04:02Z",
				"prospect":[{"id":"p1","firstName":"Ana","status":"new"},{"id":"p1","firstName":"Ana","status":"new"}]}`,
			want: []forwarding.Event{prospectEvent("updated", ana)},
		},
		{
			name: "topic missing means prospects",
			body: `{"type":"created","updatedAt":"2024-05-02T13:04:02Z","prospect":[{"id":"p1","firstName":"Ana","status":"new"}]}`,
			want: []forwarding.Event{prospectEvent("created", ana)},
		},
		{
			name: "topic in another case",
			body: `{"topic":" Prospects ","type":"CREATED","updatedAt":"2024-05-02T13:04:02Z","prospect":[{"id":"p1","firstName":"Ana","status":"new"}]}`,
			want: []forwarding.Event{prospectEvent("created", ana)},
		},
		{
			name: "other topics are ignored",
			body: `{"topic":"interactions","type":"created","prospect":[{"id":"p1","firstName":"Ana"}],"interaction":{"id":"i1"}}`,
			want: nil,
		},
		{
			name: "other topics are ignored even with odd prospects",
			body: `{"topic":"agents","type":"updated","prospect":[{"id":5}]}`,
			want: nil,
		},
		{
			name: "other topics in an array are ignored",
			body: `[{"topic":"quotes","prospect":[{"id":"q"}]},
				{"topic":"prospects","type":"updated","updatedAt":"2024-05-02T13:04:02Z","prospect":[{"id":"p2","firstName":"Bruno","status":"followUp"}]},
				{"topic":"agents","prospect":{"id":"a"}}]`,
			want: []forwarding.Event{prospectEvent("updated", bruno)},
		},
		{
			name: "prospects without an id are skipped",
			body: `{"topic":"prospects","type":"updated","updatedAt":"2024-05-02T13:04:02Z",
				"prospect":[{"firstName":"Nobody"},{"id":"","firstName":"Empty"},{"id":"   "},null,{"id":"p1","firstName":"Ana","status":"new"}]}`,
			want: []forwarding.Event{prospectEvent("updated", ana)},
		},
		{
			name: "an absurdly long id is skipped",
			body: `{"topic":"prospects","prospect":[{"id":"` + strings.Repeat("x", 257) + `"}]}`,
			want: nil,
		},
		{
			name: "bare prospect with an empty id is skipped",
			body: `{"id":"","firstName":"Ana"}`,
			want: nil,
		},
		{
			name: "unknown type reads as updated",
			body: `{"topic":"prospects","type":"deleted","updatedAt":"2024-05-02T13:04:02Z","prospect":[{"id":"p1","firstName":"Ana","status":"new"}]}`,
			want: []forwarding.Event{prospectEvent("updated", ana)},
		},
		{
			name: "empty envelope list",
			body: `[]`,
			want: nil,
		},
		{
			name: "envelope without prospects",
			body: `{"topic":"prospects","type":"updated","prospect":null}`,
			want: nil,
		},
		{
			name: "envelope with an empty prospect list",
			body: `{"topic":"prospects","type":"updated","prospect":[]}`,
			want: nil,
		},
		{
			name: "tolerant timestamps and attempts",
			body: `{"topic":"prospects","type":"updated","updatedAt":1714655042000,"attempts":"3","sent":"yesterday",
				"prospect":[{"id":"p1","firstName":"Ana","status":"new"}]}`,
			want: []forwarding.Event{prospectEvent("updated", ana)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := parse(t, tt.body)
			if diff := cmp.Diff(tt.want, got, ignoreKey, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ParseNotifications() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseNotificationsMalformed(t *testing.T) {
	t.Parallel()
	prospects := func(n int) string {
		ps := make([]string, n)
		for i := range ps {
			ps[i] = fmt.Sprintf(`{"id":"p%d"}`, i)
		}
		return "[" + strings.Join(ps, ",") + "]"
	}
	tests := []struct {
		name string
		body string
	}{
		{"empty", ``},
		{"white space", " \n\t "},
		{"not JSON", `<xml>prospect</xml>`},
		{"cut short", `{"topic":"prospects","prospect":[{"id":"p1"`},
		{"number", `42`},
		{"string", `"prospects"`},
		{"boolean", `true`},
		{"null", `null`},
		{"trailing data", `{"id":"p1"} {"id":"p2"}`},
		{"stray closer", `{"id":"p1"}]`},
		{"empty object", `{}`},
		{"object of neither shape", `{"name":"Ana","email":"ana@example.com"}`},
		{"array of numbers", `[1,2,3]`},
		{"array with a null", `[null]`},
		{"nested arrays", `[[{"id":"p1"}]]`},
		{"array with a non-envelope", `[{"topic":"prospects","prospect":[]},{"x":1}]`},
		{"prospect is a string", `{"topic":"prospects","prospect":"p1"}`},
		{"prospect is a number", `{"topic":"prospects","prospect":1}`},
		{"prospect list of strings", `{"topic":"prospects","prospect":["p1"]}`},
		{"topic is a number", `{"topic":7,"prospect":[{"id":"p1"}]}`},
		{"id is a number", `{"topic":"prospects","prospect":[{"id":12}]}`},
		{"bare id is an object", `{"id":{"$gt":""}}`},
		{"firstName is an array", `{"prospect":[{"id":"p1","firstName":["Ana"]}]}`},
		{"101 prospects in one envelope", `{"topic":"prospects","prospect":` + prospects(101) + `}`},
		{"101 prospects over two envelopes", `[{"prospect":` + prospects(51) + `},{"prospect":` + prospects(50) + `}]`},
		{"101 prospects of another topic", `{"topic":"interactions","prospect":` + prospects(101) + `}`},
		{"101 envelopes", "[" + strings.Repeat(`{"topic":"quotes"},`, 100) + `{"topic":"quotes"}]`},
		{"101 bare prospects", prospects(101)},
		{"deeply nested arrays", strings.Repeat("[", 20000) + strings.Repeat("]", 20000)},
		{"deeply nested objects", strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)},
		{"deeply nested in a prospect", `{"prospect":[{"id":"p1","additionalData":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}]}`},
		{"invalid UTF-8 outside strings", "{\"id\":\"p1\"\xff}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			events, err := forwarding.ParseNotifications([]byte(tt.body))
			if !errors.Is(err, forwarding.ErrMalformed) {
				t.Fatalf("ParseNotifications(%.80q) = %d events, %v; want ErrMalformed", tt.body, len(events), err)
			}
			if events != nil {
				t.Errorf("ParseNotifications returned %d events with an error", len(events))
			}
			if msg := err.Error(); len(msg) > 200 || strings.Contains(msg, "$gt") {
				t.Errorf("error message %q is long or echoes the input", msg)
			}
		})
	}
}

func TestParseNotificationsBoundIsInclusive(t *testing.T) {
	t.Parallel()
	ps := make([]string, 100)
	for i := range ps {
		ps[i] = fmt.Sprintf(`{"id":"p%d","firstName":"P"}`, i)
	}
	got := parse(t, `{"topic":"prospects","prospect":[`+strings.Join(ps, ",")+`]}`)
	if len(got) != 100 {
		t.Fatalf("got %d events, want 100", len(got))
	}
}

// keyBase is the notification the key variants start from.
func keyBase() map[string]any {
	return map[string]any{
		"subscriptionId": "sub-1",
		"topic":          "prospects",
		"type":           "updated",
		"received":       "2024-05-02T13:04:05Z",
		"sent":           "2024-05-02T13:04:05Z",
		"attempts":       0,
		"updatedAt":      "2024-05-02T13:04:02Z",
		"operationId":    "op-1",
		"updates":        []any{map[string]any{"field": "status", "value": "followUp"}},
		"prospect": []any{map[string]any{
			"id": "p1", "firstName": "Ana", "status": "followUp",
			"emails": []any{"ana@example.com"},
		}},
	}
}

func keyOf(tb testing.TB, body string) string {
	tb.Helper()
	events := parse(tb, body)
	if len(events) != 1 {
		tb.Fatalf("got %d events, want 1", len(events))
	}
	return events[0].Key
}

func marshal(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestParseNotificationsKey(t *testing.T) {
	t.Parallel()
	base := keyOf(t, marshal(t, keyBase()))
	with := func(change func(m map[string]any)) func(testing.TB) string {
		return func(tb testing.TB) string {
			m := keyBase()
			change(m)
			return marshal(tb, m)
		}
	}
	literal := func(s string) func(testing.TB) string { return func(testing.TB) string { return s } }
	prospect := func(m map[string]any) map[string]any { return m["prospect"].([]any)[0].(map[string]any) }

	same := []struct {
		name string
		body func(testing.TB) string
	}{
		{"redelivered with more attempts", with(func(m map[string]any) { m["attempts"] = 7 })},
		{"attempts as a string", with(func(m map[string]any) { m["attempts"] = "3" })},
		{"sent later", with(func(m map[string]any) { m["sent"] = "2024-05-02T13:09:00Z" })},
		{"received later", with(func(m map[string]any) { m["received"] = "2024-05-02T13:08:00Z" })},
		{"another subscription", with(func(m map[string]any) { m["subscriptionId"] = "sub-2" })},
		{"volatile fields absent", with(func(m map[string]any) {
			delete(m, "attempts")
			delete(m, "sent")
			delete(m, "received")
			delete(m, "subscriptionId")
		})},
		{"volatile fields in another case", with(func(m map[string]any) {
			delete(m, "attempts")
			m["Attempts"] = 4
		})},
		{"reordered keys and other white space", literal(`{
			"prospect" : [ { "status":"followUp", "emails":[ "ana@example.com" ], "firstName":"Ana", "id":"p1" } ],
			"updates": [{"value":"followUp","field":"status"}],
			"operationId":"op-1",   "updatedAt":"2024-05-02T13:04:02Z",
			"type":"updated", "topic":"prospects",
			"attempts": 2, "sent": "2024-05-02T13:05:05Z", "received": "2024-05-02T13:04:05Z", "subscriptionId": "sub-1"
		}`)},
		{"indented", func(tb testing.TB) string {
			var buf bytes.Buffer
			if err := json.Indent(&buf, []byte(marshal(tb, keyBase())), "", "\t"); err != nil {
				tb.Fatal(err)
			}
			return buf.String()
		}},
		{"escaped characters", literal(`{"subscriptionId":"sub-1","topic":"prospects","type":"upd\u0061ted",` +
			`"received":"2024-05-02T13:04:05Z","sent":"2024-05-02T13:04:05Z","attempts":0,` +
			`"updatedAt":"2024-05-02T13:04:02Z","operationId":"op-1","updates":[{"field":"status","value":"followUp"}],` +
			`"prospect":[{"id":"p1","firstName":"\u0041na","status":"followUp","emails":["ana@example.com"]}]}`)},
	}
	for _, tt := range same {
		t.Run("same/"+tt.name, func(t *testing.T) {
			t.Parallel()
			if got := keyOf(t, tt.body(t)); got != base {
				t.Errorf("Key = %s, want %s as for the first delivery", got, base)
			}
		})
	}

	different := []struct {
		name string
		body func(testing.TB) string
	}{
		{"another type", with(func(m map[string]any) { m["type"] = "created" })},
		{"another updatedAt", with(func(m map[string]any) { m["updatedAt"] = "2024-05-02T13:04:03Z" })},
		{"no updatedAt", with(func(m map[string]any) { delete(m, "updatedAt") })},
		{"another operation", with(func(m map[string]any) { m["operationId"] = "op-2" })},
		{"other updates", with(func(m map[string]any) { m["updates"] = []any{map[string]any{"field": "status", "value": "archived"}} })},
		{"another status", with(func(m map[string]any) { prospect(m)["status"] = "archived" })},
		{"another name", with(func(m map[string]any) { prospect(m)["firstName"] = "Anna" })},
		{"another prospect", with(func(m map[string]any) { prospect(m)["id"] = "p2" })},
		{"a large number that differs beyond float64 precision", with(func(m map[string]any) {
			prospect(m)["additionalData"] = json.RawMessage(`{"n":9007199254740993}`)
		})},
	}
	keys := map[string]string{base: "base"}
	for _, tt := range different {
		got := keyOf(t, tt.body(t))
		if other, ok := keys[got]; ok {
			t.Errorf("%s: Key = %s, the same as %s", tt.name, got, other)
		}
		keys[got] = tt.name
	}
	// The large-number variant must also differ from its float64 neighbour.
	a := with(func(m map[string]any) { prospect(m)["additionalData"] = json.RawMessage(`{"n":9007199254740992}`) })(t)
	if got := keyOf(t, a); keys[got] != "" {
		t.Errorf("Key of the float64 neighbour equals that of %s", keys[got])
	}
}

func TestParseNotificationsKeyPerProspect(t *testing.T) {
	t.Parallel()
	events := parse(t, `{"topic":"prospects","prospect":[{"id":"p1"},{"id":"p2"}]}`)
	if len(events) != 2 || events[0].Key == events[1].Key {
		t.Fatalf("two prospects of one notification must get two keys: %+v", events)
	}
	again := parse(t, `{"prospect":[{"id":"p1"},{"id":"p2"}],"topic":"prospects","attempts":3}`)
	for i := range events {
		if events[i].Key != again[i].Key {
			t.Errorf("prospect %d: Key %s, then %s on redelivery", i, events[i].Key, again[i].Key)
		}
	}
	bare := parse(t, `{"id":"p1"}`)
	if bare[0].Key == events[0].Key {
		t.Error("a bare prospect and an envelope got the same key")
	}
}

func TestParseNotificationsContacts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		prospect   string
		wantEmails []string
		wantPhones []string
	}{
		{
			name:       "emails from contact mediums",
			prospect:   `"contactMediums":[{"type":"email","value":"ana@example.com"},{"type":"phone","value":"+55 11 91234-5678"}]`,
			wantEmails: []string{"ana@example.com"},
			wantPhones: []string{"+5511912345678"},
		},
		{
			name: "contact mediums in other shapes",
			prospect: `"contactMediums":[{"medium":"E-Mail","contact":"ana@example.com"},{"email":"bea@example.com"},
				"cai@example.com",{"kind":"WhatsApp","number":"11 4552 0371"},{"phoneNumber":"(11) 4552.0372"},{},null,7]`,
			wantEmails: []string{"ana@example.com", "bea@example.com", "cai@example.com"},
			wantPhones: []string{"1145520371", "1145520372"},
		},
		{
			name:       "emails field first, then contact mediums, without duplicates",
			prospect:   `"emails":[" Ana@Example.COM ","dan@example.com"],"contactMediums":[{"type":"email","value":"ana@example.com"},{"type":"email","value":"eva@example.com"}]`,
			wantEmails: []string{"ana@example.com", "dan@example.com", "eva@example.com"},
		},
		{
			name: "invalid emails are dropped",
			prospect: `"emails":["not-an-email","Ana <ana@example.com>","<bea@example.com>","cai@example.com (work)",` +
				`"\"d d\"@example.com","e@x..com","f\u00a0g@example.com","h\u200b@example.com","","  ","ok@example.com"]`,
			wantEmails: []string{"ok@example.com"},
		},
		{
			name:       "phones normalised and de-duplicated",
			prospect:   `"phones":["+54 9 11 4552 0371","+54 (9) 11 4552-0371","0054 9 11 4552 0371","call me","123",""],"contactMediums":[{"type":"mobile","value":"+549 11 4552 0371"},{"type":"sms","value":"11/4552/0371"}]`,
			wantPhones: []string{"+5491145520371", "1145520371"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			events := parse(t, `{"topic":"prospects","prospect":[{"id":"p1",`+tt.prospect+`}]}`)
			if len(events) != 1 {
				t.Fatalf("got %d events, want 1", len(events))
			}
			p := events[0].Prospect
			if diff := cmp.Diff(tt.wantEmails, p.Emails, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Emails mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantPhones, p.Phones, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Phones mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseNotificationsProspectFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		envelope string // with %s where the prospect goes
		prospect string
		check    func(t *testing.T, p zen7.Prospect)
	}{
		{
			name:     "names trimmed and collapsed",
			prospect: `{"id":"p1","firstName":" \tJuan \n Carlos\u0000 ","lastName":"  de   la Cruz  "}`,
			check: func(t *testing.T, p zen7.Prospect) {
				if p.FirstName != "Juan Carlos" || p.LastName != "de la Cruz" {
					t.Errorf("names = %q, %q; want %q, %q", p.FirstName, p.LastName, "Juan Carlos", "de la Cruz")
				}
			},
		},
		{
			name:     "status as sent",
			prospect: `{"id":"p1","status":"followUp"}`,
			check: func(t *testing.T, p zen7.Prospect) {
				if p.Status != "followUp" {
					t.Errorf("Status = %q, want followUp", p.Status)
				}
			},
		},
		{
			name:     "group id from groupId, else group",
			prospect: `{"id":"p1","group":"g-old"}`,
			check: func(t *testing.T, p zen7.Prospect) {
				if p.GroupID != "g-old" {
					t.Errorf("GroupID = %q, want g-old", p.GroupID)
				}
			},
		},
		{
			name: "utmSource of the newest lead that has one",
			prospect: `{"id":"p1","leads":[
				{"created":"2024-01-01T00:00:00Z","utmSource":"old"},
				{"created":"2024-03-01T00:00:00Z","utmSource":"newest"},
				{"created":"2024-04-01T00:00:00Z","source":"deprecated-only"},
				{"created":"2024-02-01T00:00:00Z","utmSource":"middle"}]}`,
			check: func(t *testing.T, p zen7.Prospect) {
				if p.UTMSource != "newest" {
					t.Errorf("UTMSource = %q, want newest", p.UTMSource)
				}
			},
		},
		{
			name: "deprecated source when no lead has a utmSource",
			prospect: `{"id":"p1","leads":[
				{"created":"2024-01-01T00:00:00Z","source":"old"},
				{"created":"2024-03-01T00:00:00Z","source":"  web  form "},
				{"created":"2024-04-01T00:00:00Z","comments":"no source"}]}`,
			check: func(t *testing.T, p zen7.Prospect) {
				if p.UTMSource != "web form" {
					t.Errorf("UTMSource = %q, want %q", p.UTMSource, "web form")
				}
			},
		},
		{
			name:     "undated leads: the later in the list is newer",
			prospect: `{"id":"p1","leads":[{"utmSource":"first","comments":"a"},{"utmSource":"second","comments":"b"}]}`,
			check: func(t *testing.T, p zen7.Prospect) {
				if p.UTMSource != "second" || p.Comments != "b | a" {
					t.Errorf("UTMSource, Comments = %q, %q; want second, %q", p.UTMSource, p.Comments, "b | a")
				}
			},
		},
		{
			name: "comments newest first, trimmed, without duplicates",
			prospect: `{"id":"p1","leads":[
				{"created":"2024-01-01T00:00:00Z","comments":"  first  "},
				{"created":"2024-03-01T00:00:00Z","comments":"third\r\nline"},
				{"created":"2024-02-01T00:00:00Z","comments":"first"},
				{"created":"2024-02-15T00:00:00Z","comments":"   "}]}`,
			check: func(t *testing.T, p zen7.Prospect) {
				if want := "third line | first"; p.Comments != want {
					t.Errorf("Comments = %q, want %q", p.Comments, want)
				}
			},
		},
		{
			name:     "comments capped at 1000 runes",
			prospect: `{"id":"p1","leads":[{"comments":"` + strings.Repeat("ñ", 700) + `"},{"comments":"` + strings.Repeat("é", 700) + `"}]}`,
			check: func(t *testing.T, p zen7.Prospect) {
				if n := utf8.RuneCountInString(p.Comments); n != 1000 || !utf8.ValidString(p.Comments) {
					t.Errorf("Comments has %d runes (valid UTF-8: %t), want 1000", n, utf8.ValidString(p.Comments))
				}
				if !strings.HasPrefix(p.Comments, strings.Repeat("é", 700)+" | ñ") {
					t.Errorf("Comments = %.40q…, want the newest lead's first", p.Comments)
				}
			},
		},
		{
			name:     "updatedAt from the envelope",
			envelope: `{"updatedAt":"2024-05-02T13:04:02.5Z","prospect":[%s]}`,
			prospect: `{"id":"p1","created":"2024-06-01T00:00:00Z"}`,
			check: func(t *testing.T, p zen7.Prospect) {
				if want := time.Date(2024, 5, 2, 13, 4, 2, 5e8, time.UTC); !p.UpdatedAt.Equal(want) {
					t.Errorf("UpdatedAt = %v, want %v", p.UpdatedAt, want)
				}
			},
		},
		{
			name:     "updatedAt falls back to the prospect's latest timestamp",
			envelope: `{"updatedAt":"not a time","sent":"2030-01-01T00:00:00Z","prospect":[%s]}`,
			prospect: `{"id":"p1","created":"2024-01-01T00:00:00Z","assigned":"2024-03-01T00:00:00Z","firstContactedAt":"2024-02-01T00:00:00Z"}`,
			check: func(t *testing.T, p zen7.Prospect) {
				if want := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC); !p.UpdatedAt.Equal(want) {
					t.Errorf("UpdatedAt = %v, want %v", p.UpdatedAt, want)
				}
			},
		},
		{
			name:     "updatedAt zero when nothing is dated",
			prospect: `{"id":"p1","firstName":"Ana"}`,
			check: func(t *testing.T, p zen7.Prospect) {
				if !p.UpdatedAt.IsZero() {
					t.Errorf("UpdatedAt = %v, want zero", p.UpdatedAt)
				}
			},
		},
		{
			name:     "partial when only the id came",
			prospect: `{"id":"p1","groupId":"g1","emails":["invalid"],"phones":["12"],"leads":[{"comments":"hi"}]}`,
			check: func(t *testing.T, p zen7.Prospect) {
				if !p.Partial {
					t.Errorf("Partial = false for %+v", p)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := tt.envelope
			if env == "" {
				env = `{"topic":"prospects","prospect":[%s]}`
			}
			events := parse(t, fmt.Sprintf(env, tt.prospect))
			if len(events) != 1 {
				t.Fatalf("got %d events, want 1", len(events))
			}
			tt.check(t, events[0].Prospect)
		})
	}

	for _, field := range []string{`"firstName":"Ana"`, `"lastName":"Pérez"`, `"emails":["a@example.com"]`, `"phones":["+5491145520371"]`, `"status":"new"`} {
		t.Run("not partial with "+field, func(t *testing.T) {
			t.Parallel()
			events := parse(t, `{"prospect":{"id":"p1",`+field+`}}`)
			if events[0].Prospect.Partial {
				t.Errorf("Partial = true for a prospect with %s", field)
			}
		})
	}
}

func TestParseNotificationsContactsCapped(t *testing.T) {
	t.Parallel()
	emails := make([]string, 500)
	phones := make([]string, 500)
	for i := range emails {
		emails[i] = fmt.Sprintf(`"u%d@example.com"`, i)
		phones[i] = fmt.Sprintf(`"+54 11 %08d"`, i)
	}
	events := parse(t, `{"prospect":{"id":"p1","emails":[`+strings.Join(emails, ",")+`],"phones":[`+strings.Join(phones, ",")+`]}}`)
	p := events[0].Prospect
	if len(p.Emails) != 20 || p.Emails[0] != "u0@example.com" || len(p.Phones) != 20 || p.Phones[0] != "+541100000000" {
		t.Errorf("got %d emails from %q and %d phones from %q; want the first 20 of each", len(p.Emails), p.Emails[0], len(p.Phones), p.Phones[0])
	}
}

func BenchmarkParseNotifications(b *testing.B) {
	// worstCase fills about 1 MiB, the HTTP layer's limit, with what costs the parser most:
	// many distinct contacts and comments in one prospect, and then duplicates of them.
	var sb strings.Builder
	sb.WriteString(`{"topic":"prospects","prospect":[{"id":"p1","emails":[`)
	for i := 0; sb.Len() < 300<<10; i++ {
		fmt.Fprintf(&sb, `"u%d@example.com",`, i)
	}
	sb.WriteString(`"x@example.com"],"phones":[`)
	for i := 0; sb.Len() < 600<<10; i++ {
		fmt.Fprintf(&sb, `"+54 11 %08d",`, i)
	}
	sb.WriteString(`"1"],"leads":[`)
	for i := 0; sb.Len() < 800<<10; i++ {
		fmt.Fprintf(&sb, `{"comments":"c%d"},`, i%1000)
	}
	for i := 0; sb.Len() < 1<<20-100; i++ {
		fmt.Fprintf(&sb, `{"created":%d,"utmSource":"s"},`, 1714655042+i)
	}
	sb.WriteString(`{}]}]}`)
	worstCase := sb.String()

	for _, bm := range []struct{ name, body string }{
		{"documented", documentedEnvelope},
		{"worst case 1 MiB", worstCase},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(bm.body)))
			body := []byte(bm.body)
			for b.Loop() {
				if _, err := forwarding.ParseNotifications(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
