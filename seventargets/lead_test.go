package seventargets_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/7targets/zenvia-sales-app/seventargets"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
)

func TestCreateLeadRequest(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	c := newClient(t, f)
	lead := seventargets.Lead{
		Name:                      "John",
		LastName:                  "Doe",
		Source:                    "Zenvia",
		Context:                   "AI Sales Assistant",
		AdditionalInformationLine: "Asked for a demo",
		Email:                     "john.doe@example.com",
		Phone:                     "+5511999990000",
		AssistantEmail:            seventargetsfake.SeedAssistantEmail,
		ScheduleName:              seventargetsfake.SeedScheduleName,
		CustomFields:              []seventargets.CustomField{{Name: "zenviaProspectId", Value: "p-42"}},
	}
	got, err := c.CreateLead(t.Context(), "instance-1", testCreds, lead)
	if err != nil {
		t.Fatalf("CreateLead: %v", err)
	}

	var req *seventargetsfake.Request
	for _, r := range f.Requests() {
		if r.Method == http.MethodPost && r.Path == "/leads" {
			req = &r
		}
	}
	if req == nil {
		t.Fatal("no POST /leads recorded")
	}
	auth := req.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || strings.Count(token, ".") != 2 {
		t.Errorf("Authorization = %q, want Bearer and the issued JWT", auth)
	}
	if got := req.Header.Get("7ts-user-identifier"); got != testUser {
		t.Errorf("7ts-user-identifier = %q, want %q", got, testUser)
	}
	if got := req.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	var body map[string]any
	if err := json.Unmarshal(req.Body, &body); err != nil {
		t.Fatalf("request body %q: %v", req.Body, err)
	}
	wantBody := map[string]any{
		"name":                      "John",
		"lastName":                  "Doe",
		"source":                    "Zenvia",
		"context":                   "AI Sales Assistant",
		"additionalInformationLine": "Asked for a demo",
		"email":                     "john.doe@example.com",
		"phone":                     "+5511999990000",
		"assistantEmail":            seventargetsfake.SeedAssistantEmail,
		"scheduleName":              seventargetsfake.SeedScheduleName,
		"customFields":              []any{map[string]any{"name": "zenviaProspectId", "value": "p-42"}},
	}
	if diff := cmp.Diff(wantBody, body); diff != "" {
		t.Errorf("request body (-want +got):\n%s", diff)
	}

	stored, ok := f.Lead(got.ID)
	if !ok {
		t.Fatalf("fake has no lead %d", got.ID)
	}
	if diff := cmp.Diff(stored, got); diff != "" {
		t.Errorf("CreateLead result differs from the stored lead (-stored +got):\n%s", diff)
	}
	if got.ScheduleID != seventargetsfake.SeedScheduleID || got.AssistantID != seventargetsfake.SeedAssistantID {
		t.Errorf("schedule %d, assistant %d; want %d, %d", got.ScheduleID, got.AssistantID,
			seventargetsfake.SeedScheduleID, seventargetsfake.SeedAssistantID)
	}
	if got.State != "Cold" || got.SubState != "Followup" || got.Followup != 1 || got.Type != "SALES" {
		t.Errorf("new lead state = %s/%s/%d/%s, want Cold/Followup/1/SALES", got.State, got.SubState, got.Followup, got.Type)
	}
	if got.NextScheduleTime == nil || !got.NextScheduleTime.After(time.Now()) {
		t.Errorf("NextScheduleTime = %v, want a time in the future", got.NextScheduleTime)
	}
}

func TestCreateLead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		lead        func(seventargets.Lead) seventargets.Lead
		wantErr     bool
		wantMessage string // part of the server's message
		check       func(testing.TB, seventargets.LeadResult)
	}{
		{
			name: "assistant's default sequence",
			lead: func(l seventargets.Lead) seventargets.Lead { return l },
			check: func(tb testing.TB, r seventargets.LeadResult) {
				if r.ScheduleID != 127 {
					tb.Errorf("ScheduleID = %d, want the assistant's default 127", r.ScheduleID)
				}
			},
		},
		{
			name: "sequence by ID wins over name",
			lead: func(l seventargets.Lead) seventargets.Lead {
				l.ScheduleID, l.ScheduleName = 201, seventargetsfake.SeedScheduleName
				return l
			},
			check: func(tb testing.TB, r seventargets.LeadResult) {
				if r.ScheduleID != 201 || r.ScheduleName != "Product Demo" {
					tb.Errorf("schedule = %d %q, want 201 Product Demo", r.ScheduleID, r.ScheduleName)
				}
			},
		},
		{
			name:    "missing assistant email",
			lead:    func(l seventargets.Lead) seventargets.Lead { l.AssistantEmail = ""; return l },
			wantErr: true, wantMessage: "assistantEmail",
		},
		{
			name:    "missing name and email",
			lead:    func(l seventargets.Lead) seventargets.Lead { l.Name, l.Email = "", ""; return l },
			wantErr: true, wantMessage: "name, email",
		},
		{
			name:    "unknown assistant",
			lead:    func(l seventargets.Lead) seventargets.Lead { l.AssistantEmail = "nobody@7targets.test"; return l },
			wantErr: true, wantMessage: "Assistant not found",
		},
		{
			name:    "unknown sequence name",
			lead:    func(l seventargets.Lead) seventargets.Lead { l.ScheduleName = "webinar follow-up"; return l },
			wantErr: true, wantMessage: "Sequence not found",
		},
		{
			name:    "invalid email",
			lead:    func(l seventargets.Lead) seventargets.Lead { l.Email = "not-an-email"; return l },
			wantErr: true, wantMessage: "email",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			c := newClient(t, f)
			res, err := c.CreateLead(t.Context(), "k", testCreds, tt.lead(testLead(1)))
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("CreateLead: %v", err)
				}
				tt.check(t, res)
				return
			}
			apiErr := checkAPIError(t, err, seventargets.ErrRejected, false)
			if apiErr.Status != http.StatusBadRequest || !strings.Contains(apiErr.Message, tt.wantMessage) {
				t.Errorf("got %d %q, want 400 with %q", apiErr.Status, apiErr.Message, tt.wantMessage)
			}
			if n := len(f.Leads()); n != 0 {
				t.Errorf("fake has %d leads after a rejected create, want 0", n)
			}
		})
	}
}

func TestCreateLeadTwiceAssigns(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	c := newClient(t, f)
	first := mustCreate(t, c, "k", testLead(1))
	again := testLead(1)
	again.AssistantEmail = "LYRA@7targets.test"
	second := mustCreate(t, c, "k", again)
	if second.ID != first.ID {
		t.Errorf("second create returned lead %d, want the existing %d", second.ID, first.ID)
	}
	if second.AssistantID != 135 {
		t.Errorf("AssistantID = %d, want the newly assigned 135", second.AssistantID)
	}
	if n := len(f.Leads()); n != 1 {
		t.Errorf("fake has %d leads, want 1", n)
	}
	if n := f.Count(http.MethodPost, "/leads"); n != 2 {
		t.Errorf("POST /leads = %d, want 2", n)
	}
}

func TestUpdateLead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		update     func(created seventargets.LeadResult) seventargets.Lead
		want       func(created seventargets.LeadResult) seventargets.LeadResult
		wantStatus int // for errors
	}{
		{
			name: "by id",
			update: func(cr seventargets.LeadResult) seventargets.Lead {
				return seventargets.Lead{ID: cr.ID, Phone: "+5511988887777"}
			},
			want: func(cr seventargets.LeadResult) seventargets.LeadResult {
				cr.Phone = "+5511988887777"
				return cr
			},
		},
		{
			name: "by email, with sequence and custom field",
			update: func(cr seventargets.LeadResult) seventargets.Lead {
				return seventargets.Lead{
					Email: cr.Email, LastName: "Smith", ScheduleName: seventargetsfake.SeedScheduleName,
					CustomFields: []seventargets.CustomField{{Name: "stage", Value: "demo"}},
				}
			},
			want: func(cr seventargets.LeadResult) seventargets.LeadResult {
				cr.LastName = "Smith"
				cr.ScheduleID, cr.ScheduleName = seventargetsfake.SeedScheduleID, seventargetsfake.SeedScheduleName
				cr.CustomFields = append(cr.CustomFields, seventargets.CustomField{Name: "stage", Value: "demo"})
				return cr
			},
		},
		{
			name: "email cannot change",
			update: func(cr seventargets.LeadResult) seventargets.Lead {
				return seventargets.Lead{ID: cr.ID, Email: "new@example.com", Name: "Johnny"}
			},
			want: func(cr seventargets.LeadResult) seventargets.LeadResult {
				cr.Name = "Johnny"
				return cr
			},
		},
		{
			name: "unknown id",
			update: func(cr seventargets.LeadResult) seventargets.Lead {
				return seventargets.Lead{ID: cr.ID + 1000, Name: "x"}
			},
			wantStatus: http.StatusNotFound,
		},
		{
			name: "unknown email",
			update: func(seventargets.LeadResult) seventargets.Lead {
				return seventargets.Lead{Email: "stranger@example.com"}
			},
			wantStatus: http.StatusNotFound,
		},
		{
			name:       "neither id nor email",
			update:     func(seventargets.LeadResult) seventargets.Lead { return seventargets.Lead{Name: "x"} },
			wantStatus: http.StatusBadRequest,
		},
		{
			name: "unknown sequence",
			update: func(cr seventargets.LeadResult) seventargets.Lead {
				return seventargets.Lead{ID: cr.ID, ScheduleID: 999}
			},
			wantStatus: http.StatusBadRequest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			c := newClient(t, f)
			created := mustCreate(t, c, "k", testLead(1))
			got, err := c.UpdateLead(t.Context(), "k", testCreds, tt.update(created))
			if tt.wantStatus != 0 {
				apiErr := checkAPIError(t, err, seventargets.ErrRejected, false)
				if apiErr.Status != tt.wantStatus || apiErr.Op != "UpdateLead" {
					t.Errorf("got %s %d, want UpdateLead %d", apiErr.Op, apiErr.Status, tt.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatalf("UpdateLead: %v", err)
			}
			if diff := cmp.Diff(tt.want(created), got); diff != "" {
				t.Errorf("UpdateLead result (-want +got):\n%s", diff)
			}
			stored, _ := f.Lead(created.ID)
			if diff := cmp.Diff(stored, got); diff != "" {
				t.Errorf("result differs from the stored lead (-stored +got):\n%s", diff)
			}
		})
	}
}

func TestStopFollowup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		lead       func(created seventargets.LeadResult) seventargets.Lead
		wantStatus int
	}{
		{name: "by id", lead: func(cr seventargets.LeadResult) seventargets.Lead { return seventargets.Lead{ID: cr.ID} }},
		{name: "by email", lead: func(cr seventargets.LeadResult) seventargets.Lead { return seventargets.Lead{Email: cr.Email} }},
		{
			name: "unknown lead",
			lead: func(seventargets.LeadResult) seventargets.Lead {
				return seventargets.Lead{Email: "stranger@example.com"}
			},
			wantStatus: http.StatusNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			c := newClient(t, f)
			created := mustCreate(t, c, "k", testLead(1))
			got, err := c.StopFollowup(t.Context(), "k", testCreds, tt.lead(created))
			if tt.wantStatus != 0 {
				apiErr := checkAPIError(t, err, seventargets.ErrRejected, false)
				if apiErr.Status != tt.wantStatus {
					t.Errorf("Status = %d, want %d", apiErr.Status, tt.wantStatus)
				}
				if stored, _ := f.Lead(created.ID); stored.NextScheduleTime == nil {
					t.Error("a failed stop changed the lead")
				}
				return
			}
			if err != nil {
				t.Fatalf("StopFollowup: %v", err)
			}
			if got.ID != created.ID || got.NextScheduleTime != nil || got.SubState != "Stopped" {
				t.Errorf("after stop: id %d, next %v, subState %q; want %d, nil, Stopped",
					got.ID, got.NextScheduleTime, got.SubState, created.ID)
			}
			if n := f.Count(http.MethodPut, "/leads/stop/followup"); n != 1 {
				t.Errorf("PUT /leads/stop/followup = %d, want 1", n)
			}
		})
	}
}

func TestAssistants(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	for i := range 11 {
		f.AddAssistant(seventargets.Assistant{Name: fmt.Sprintf("Bot %02d", i), EmailID: fmt.Sprintf("bot%02d@7targets.test", i)})
	}
	c := newClient(t, f)

	ashley := seventargets.Assistant{
		ID: seventargetsfake.SeedAssistantID, Name: "Ashley", OrganisationID: 45,
		EmailID:     seventargetsfake.SeedAssistantEmail,
		Description: "7Targets AI Assistant is helping the Sales team productivity",
		Role:        "BDE", DefaultScheduleID: 127, PerDayEmailLimit: 200,
	}
	tests := []struct {
		name      string
		query     seventargets.AssistantQuery
		wantLen   int
		wantFirst *seventargets.Assistant
	}{
		{name: "first page, default size", query: seventargets.AssistantQuery{}, wantLen: 10, wantFirst: &ashley},
		{name: "second page", query: seventargets.AssistantQuery{Page: 1}, wantLen: 3},
		{name: "past the end", query: seventargets.AssistantQuery{Page: 5}, wantLen: 0},
		{name: "custom size", query: seventargets.AssistantQuery{Size: 4}, wantLen: 4},
		{name: "search", query: seventargets.AssistantQuery{Search: "ashley"}, wantLen: 1, wantFirst: &ashley},
		{name: "search without match", query: seventargets.AssistantQuery{Search: "nobody"}, wantLen: 0},
		{name: "negative page is the first", query: seventargets.AssistantQuery{Page: -1}, wantLen: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Assistants(t.Context(), "k", testCreds, tt.query)
			if err != nil {
				t.Fatalf("Assistants: %v", err)
			}
			if got == nil {
				t.Error("Assistants returned nil, want an empty slice")
			}
			if len(got) != tt.wantLen {
				t.Errorf("len = %d, want %d", len(got), tt.wantLen)
			}
			if tt.wantFirst != nil && len(got) > 0 {
				if diff := cmp.Diff(*tt.wantFirst, got[0]); diff != "" {
					t.Errorf("first assistant (-want +got):\n%s", diff)
				}
			}
		})
	}

	t.Run("query parameters", func(t *testing.T) {
		var q map[string][]string
		for _, r := range f.Requests() {
			if r.Path == "/leads/assistant" {
				q = r.Query
			}
		}
		// The last request above was "negative page is the first".
		want := map[string][]string{
			"searchString": {""}, "page": {"0"}, "size": {"10"}, "sort": {"lastModifiedDate,desc"},
		}
		if diff := cmp.Diff(want, q); diff != "" {
			t.Errorf("query (-want +got):\n%s", diff)
		}
	})

	t.Run("unavailable", func(t *testing.T) {
		down := newFake(t)
		down.SetDown(true)
		_, err := newClient(t, down).Assistants(t.Context(), "k", testCreds, seventargets.AssistantQuery{})
		checkAPIError(t, err, seventargets.ErrUnavailable, true)
	})
}

func TestAssistantsSpringPage(t *testing.T) {
	t.Parallel()
	c := fixedAPI(t, http.StatusOK, `{"content":[{"id":1,"name":"A","emailid":"a@x.test","description":null}],"totalElements":1}`, nil)
	got, err := c.Assistants(t.Context(), "k", testCreds, seventargets.AssistantQuery{})
	if err != nil {
		t.Fatalf("Assistants: %v", err)
	}
	want := []seventargets.Assistant{{ID: 1, Name: "A", EmailID: "a@x.test"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Assistants (-want +got):\n%s", diff)
	}
}
