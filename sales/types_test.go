package sales_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/7targets/zenvia-sales-app/sales"
)

// referenceNotification is the prospects-topic example of the Sales API reference.
const referenceNotification = `{
  "subscriptionId": "string",
  "topic": "prospects",
  "type": "updated",
  "received": "2019-08-24T14:15:22Z",
  "sent": "2019-08-24T14:15:22Z",
  "attempts": 0,
  "prospect": [
    {
      "id": "string",
      "created": "2019-08-24T14:15:22Z",
      "group": "string",
      "groupId": "string",
      "account": "string",
      "accountId": "string",
      "initialGroup": "string",
      "initialGroupId": "string",
      "firstName": "string",
      "lastName": "string",
      "category": "string",
      "userMade": true,
      "status": "string",
      "additionalData": { },
      "phones": ["+54 9 11 4552 0371"],
      "contactMediums": [{ }],
      "leads": [
        {
          "created": "string",
          "createdBy": "string",
          "source": "string",
          "utmSource": "string",
          "providerKey": "string",
          "comments": "string",
          "type": "string"
        }
      ],
      "agent": [
        {"id": "string", "firstName": "string", "lastName": "string", "phone": "string", "email": "string"}
      ],
      "assigned": "2019-08-24T14:15:22Z",
      "firstContactedAt": "2019-08-24T14:15:22Z"
    }
  ],
  "updatedAt": "2019-08-24T14:15:22Z",
  "operationId": "string",
  "whatsAppDueAt": "2019-08-24T14:15:22Z",
  "facebookDueAt": "2019-08-24T14:15:22Z",
  "updates": [{ }]
}`

var refTime = time.Date(2019, 8, 24, 14, 15, 22, 0, time.UTC)

// ignoreRaw compares contact mediums by what was read from them.
var ignoreRaw = cmpopts.IgnoreFields(sales.ContactMedium{}, "Raw")

// equateJSON compares raw JSON by content: encoding compacts it.
var equateJSON = cmp.Comparer(func(a, b json.RawMessage) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
})

func TestNotificationReferenceExample(t *testing.T) {
	t.Parallel()
	var got sales.Notification
	if err := json.Unmarshal([]byte(referenceNotification), &got); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	want := sales.Notification{
		SubscriptionID: "string", Topic: "prospects", Type: "updated",
		Received: refTime, Sent: refTime, UpdatedAt: refTime, OperationID: "string",
		Prospect: []sales.Prospect{{
			ID: "string", Created: refTime, Group: "string", GroupID: "string", Account: "string", AccountID: "string",
			InitialGroup: "string", InitialGroupID: "string", FirstName: "string", LastName: "string",
			Category: "string", UserMade: true, Status: "string", AdditionalData: json.RawMessage(`{ }`),
			Phones:         []string{"+54 9 11 4552 0371"},
			ContactMediums: []sales.ContactMedium{{}},
			// "created": "string" is no time: it reads as zero instead of failing the notification.
			Leads: []sales.Lead{{CreatedBy: "string", Source: "string", UtmSource: "string", ProviderKey: "string", Comments: "string", Type: "string"}},
			Agents: sales.Agents{{
				ID: "string", FirstName: "string", LastName: "string", Phone: "string", Email: "string",
			}},
			Assigned: refTime, FirstContactedAt: refTime,
		}},
		Updates: []json.RawMessage{json.RawMessage(`{ }`)},
	}
	if diff := cmp.Diff(want, got, ignoreRaw); diff != "" {
		t.Errorf("Notification mismatch (-want +got):\n%s", diff)
	}

	// What the fake sends, the App must read back unchanged.
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var again sales.Notification
	if err := json.Unmarshal(b, &again); err != nil {
		t.Fatalf("Unmarshal of %s: %v", b, err)
	}
	if diff := cmp.Diff(got, again, ignoreRaw, equateJSON); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
}

func TestNotificationTolerance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
		want sales.Notification
	}{
		{
			name: "attempts as string, prospect as object",
			json: `{"topic":"prospects","attempts":"3","prospect":{"id":"p1"}}`,
			want: sales.Notification{Topic: "prospects", Attempts: 3, Prospect: []sales.Prospect{{ID: "p1"}}},
		},
		{
			name: "attempts garbage, nulls",
			json: `{"attempts":"many","prospect":null,"updates":null,"received":null}`,
			want: sales.Notification{},
		},
		{
			name: "unix millisecond times, fractional attempts",
			json: `{"sent":1566656122000,"received":"1566656122","attempts":2.0}`,
			want: sales.Notification{Sent: refTime, Received: refTime, Attempts: 2},
		},
		{
			name: "updates as one object",
			json: `{"updates":{"status":"followUp"}}`,
			want: sales.Notification{Updates: []json.RawMessage{json.RawMessage(`{"status":"followUp"}`)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got sales.Notification
			if err := json.Unmarshal([]byte(tt.json), &got); err != nil {
				t.Fatalf("Unmarshal(%s): %v", tt.json, err)
			}
			if diff := cmp.Diff(tt.want, got, ignoreRaw); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAgentsShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
		want sales.Agents
	}{
		{name: "object", json: `{"agent":{"id":"a1","firstName":"Ana","externalId":{"crm":7}}}`,
			want: sales.Agents{{ID: "a1", FirstName: "Ana", ExternalID: json.RawMessage(`{"crm":7}`)}}},
		{name: "array", json: `{"agent":[{"id":"a1"},{"id":"a2","email":"b@x.example"}]}`,
			want: sales.Agents{{ID: "a1"}, {ID: "a2", Email: "b@x.example"}}},
		{name: "id string", json: `{"agent":"507f191e810c19729de860ea"}`,
			want: sales.Agents{{ID: "507f191e810c19729de860ea"}}},
		{name: "null", json: `{"agent":null}`},
		{name: "absent", json: `{}`},
		{name: "empty object means nobody", json: `{"agent":{}}`},
		{name: "empty array", json: `{"agent":[]}`},
		{name: "array with an empty entry", json: `{"agent":[{},{"id":"a1"}]}`, want: sales.Agents{{ID: "a1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p sales.Prospect
			if err := json.Unmarshal([]byte(tt.json), &p); err != nil {
				t.Fatalf("Unmarshal(%s): %v", tt.json, err)
			}
			if diff := cmp.Diff(tt.want, p.Agents); diff != "" {
				t.Errorf("Agents mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAgentsInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`{"agent":42}`, `{"agent":[1,2]}`, `{"agent":true}`} {
		var p sales.Prospect
		if err := json.Unmarshal([]byte(in), &p); err == nil {
			t.Errorf("Unmarshal(%s) = nil error, want one", in)
		}
	}
}

func TestContactMediums(t *testing.T) {
	t.Parallel()
	const in = `{
		"id": "p1",
		"emails": ["ana@example.com"],
		"phones": ["+57 300 111 2222"],
		"contactMediums": [
			{"type": "email", "value": "ANA@example.com"},
			{"type": "whatsapp", "value": "+57 300 333 4444"},
			{"email": "ana.work@example.com"},
			{"medium": "phone", "contact": "+57 300 111 2222"},
			{"value": "untyped@example.com"},
			"raw-string",
			42,
			{"type": 7}
		]
	}`
	var p sales.Prospect
	if err := json.Unmarshal([]byte(in), &p); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	wantCM := []sales.ContactMedium{
		{Type: "email", Value: "ANA@example.com"},
		{Type: "whatsapp", Value: "+57 300 333 4444"},
		{Type: "email", Value: "ana.work@example.com"},
		{Type: "phone", Value: "+57 300 111 2222"},
		{Value: "untyped@example.com"},
		{Value: "raw-string"},
		{},
		{},
	}
	if diff := cmp.Diff(wantCM, p.ContactMediums, ignoreRaw); diff != "" {
		t.Errorf("ContactMediums mismatch (-want +got):\n%s", diff)
	}
	if got, want := string(p.ContactMediums[6].Raw), "42"; got != want {
		t.Errorf("Raw = %s, want %s", got, want)
	}
	wantEmails := []string{"ana@example.com", "ana.work@example.com", "untyped@example.com"}
	if diff := cmp.Diff(wantEmails, p.EmailAddresses()); diff != "" {
		t.Errorf("EmailAddresses mismatch (-want +got):\n%s", diff)
	}
	wantPhones := []string{"+57 300 111 2222", "+57 300 333 4444"}
	if diff := cmp.Diff(wantPhones, p.PhoneNumbers()); diff != "" {
		t.Errorf("PhoneNumbers mismatch (-want +got):\n%s", diff)
	}
}

func TestTimeFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
		want time.Time
	}{
		{name: "RFC 3339", json: `"2019-08-24T14:15:22Z"`, want: refTime},
		{name: "milliseconds", json: `"2019-08-24T14:15:22.250Z"`, want: refTime.Add(250 * time.Millisecond)},
		{name: "offset", json: `"2019-08-24T11:15:22-03:00"`, want: refTime},
		{name: "no zone", json: `"2019-08-24T14:15:22"`, want: refTime},
		{name: "space", json: `"2019-08-24 14:15:22"`, want: refTime},
		{name: "date", json: `"2019-08-24"`, want: time.Date(2019, 8, 24, 0, 0, 0, 0, time.UTC)},
		{name: "HTTP date", json: `"Sat, 24 Aug 2019 14:15:22 GMT"`, want: refTime},
		{name: "unix seconds", json: `1566656122`, want: refTime},
		{name: "unix milliseconds", json: `1566656122000`, want: refTime},
		{name: "empty", json: `""`},
		{name: "null", json: `null`},
		{name: "garbage", json: `"yesterday"`},
		{name: "object", json: `{"$date":"2019-08-24T14:15:22Z"}`},
		{name: "negative", json: `-5`},
		{name: "beyond year 9999", json: `"99999-01-01T00:00:00Z"`},
		{name: "offset past year 9999", json: `"9999-12-31T23:00:00-05:00"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p sales.Prospect
			if err := json.Unmarshal([]byte(`{"created":`+tt.json+`}`), &p); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !p.Created.Equal(tt.want) {
				t.Errorf("created %s = %v, want %v", tt.json, p.Created, tt.want)
			}
		})
	}
}

func TestProspectMongoID(t *testing.T) {
	t.Parallel()
	var p sales.Prospect
	if err := json.Unmarshal([]byte(`{"_id":"507f191e810c19729de860ea"}`), &p); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if p.ID != "507f191e810c19729de860ea" {
		t.Errorf("ID = %q, want the _id", p.ID)
	}
}

func TestProspectMarshalOmitsEmpty(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(sales.Prospect{ID: "p1"})
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if got, want := string(b), `{"id":"p1"}`; got != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
}
