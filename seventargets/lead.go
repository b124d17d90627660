package seventargets

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Lead is the body of the lead calls. Empty fields are omitted, which on an
// update means "leave as is": 7Targets ignores missing and null fields there.
type Lead struct {
	// ID identifies the lead on update and stop follow-up; without it,
	// 7Targets finds the lead by Email.
	ID int64 `json:"id,omitempty"`
	// Name is mandatory on create.
	Name     string `json:"name,omitempty"`
	LastName string `json:"lastName,omitempty"`
	// Source defaults to "Website" upstream.
	Source string `json:"source,omitempty"`
	// Context guides the messages the assistant writes.
	Context                   string `json:"context,omitempty"`
	AdditionalInformationLine string `json:"additionalInformationLine,omitempty"`
	// Email is mandatory on create and cannot be changed by an update.
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	// AssistantEmail is mandatory on create: the assistant the lead is
	// assigned to.
	AssistantEmail string `json:"assistantEmail,omitempty"`
	// ScheduleID wins over ScheduleName (case sensitive); without both,
	// the assistant's default sequence is used.
	ScheduleID   int64         `json:"scheduleId,omitempty"`
	ScheduleName string        `json:"scheduleName,omitempty"`
	CustomFields []CustomField `json:"customFields,omitempty"`
}

// CustomField is a named value attached to a lead, usable in the assistant's
// messages.
type CustomField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// LeadResult is a lead as 7Targets returns it.
type LeadResult struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	LastName     string `json:"lastName"`
	Type         string `json:"type"`
	Email        string `json:"email"`
	Phone        string `json:"phone"`
	ScheduleID   int64  `json:"scheduleId"`
	ScheduleName string `json:"scheduleName"`
	AssistantID  int64  `json:"assistantId"`
	// NextScheduleTime is when the next message goes out; nil once the
	// follow-up is stopped, or when 7Targets sent a time it cannot parse.
	NextScheduleTime *time.Time    `json:"nextScheduleTime"`
	State            string        `json:"state"`
	SubState         string        `json:"subState"`
	Followup         int           `json:"followup"`
	CustomFields     []CustomField `json:"customFields,omitempty"`
}

// UnmarshalJSON decodes a lead, reading nextScheduleTime leniently: the
// documents do not fix its format, and a lead that was created must not be
// reported as failed over a timestamp.
func (l *LeadResult) UnmarshalJSON(data []byte) error {
	type plain LeadResult
	aux := struct {
		*plain
		NextScheduleTime json.RawMessage `json:"nextScheduleTime"`
	}{plain: (*plain)(l)}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	l.NextScheduleTime = parseScheduleTime(aux.NextScheduleTime)
	if len(l.CustomFields) == 0 {
		// [] and absent mean the same; one zero value keeps comparisons simple.
		l.CustomFields = nil
	}
	return nil
}

// scheduleTimeLayouts are tried in order; zone-less times are taken as UTC,
// as a Java LocalDateTime on a UTC server would be.
var scheduleTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04",
}

// parseScheduleTime accepts null, a string in one of scheduleTimeLayouts, or
// a Unix time in seconds or milliseconds. Anything else yields nil.
func parseScheduleTime(raw json.RawMessage) *time.Time {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	var t time.Time
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil
		}
		s = strings.TrimSpace(s)
		ok := false
		for _, layout := range scheduleTimeLayouts {
			var err error
			if t, err = time.ParseInLocation(layout, s, time.UTC); err == nil {
				ok = true
				break
			}
		}
		if !ok {
			return nil
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || f < 0 || f > 1e15 {
			return nil
		}
		// Seconds stay below 1e11 until the year 5138; milliseconds since
		// 1973 are above it.
		if f < 1e11 {
			t = time.Unix(int64(f), 0).UTC()
		} else {
			t = time.UnixMilli(int64(f)).UTC()
		}
	default:
		return nil
	}
	if y := t.Year(); y < 1970 || y > 9999 {
		return nil
	}
	return &t
}

// Assistant is a 7Targets AI assistant leads can be assigned to.
type Assistant struct {
	ID             int64  `json:"id"`
	Name           string `json:"name"`
	OrganisationID int64  `json:"organisationId"`
	// EmailID is the address to put in Lead.AssistantEmail.
	EmailID           string `json:"emailid"`
	Description       string `json:"description"`
	Role              string `json:"role"`
	DefaultScheduleID int64  `json:"defaultScheduleId"`
	PerDayEmailLimit  int    `json:"perDayEmailLimit"`
}

// AssistantQuery selects a page of assistants. Page counts from 0; Size
// defaults to 10.
type AssistantQuery struct {
	Search string
	Page   int
	Size   int
}

// CreateLead creates the lead, or assigns the existing lead with the same
// email to the assistant ("creates or assigns" upstream), and starts its
// follow-up sequence. key names the token cache entry, normally the App
// instance ID.
func (c *Client) CreateLead(ctx context.Context, key string, creds Credentials, lead Lead) (LeadResult, error) {
	var res LeadResult
	err := c.call(ctx, "CreateLead", key, creds, http.MethodPost, "/leads", lead, &res)
	return res, err
}

// UpdateLead updates the lead found by lead.ID, or by lead.Email when ID is
// 0. Empty optional fields are left unchanged; the email never changes.
func (c *Client) UpdateLead(ctx context.Context, key string, creds Credentials, lead Lead) (LeadResult, error) {
	var res LeadResult
	err := c.call(ctx, "UpdateLead", key, creds, http.MethodPut, "/leads", lead, &res)
	return res, err
}

// StopFollowup stops the scheduled follow-up of the lead found by lead.ID, or
// by lead.Email when ID is 0, such as when an agent takes the prospect over.
func (c *Client) StopFollowup(ctx context.Context, key string, creds Credentials, lead Lead) (LeadResult, error) {
	var res LeadResult
	err := c.call(ctx, "StopFollowup", key, creds, http.MethodPut, "/leads/stop/followup", lead, &res)
	return res, err
}

// Assistants returns one page of the organisation's assistants whose name
// matches query.Search, most recently modified first.
func (c *Client) Assistants(ctx context.Context, key string, creds Credentials, query AssistantQuery) ([]Assistant, error) {
	if query.Page < 0 {
		query.Page = 0
	}
	if query.Size <= 0 {
		query.Size = 10
	}
	q := url.Values{
		"searchString": {query.Search},
		"page":         {strconv.Itoa(query.Page)},
		"size":         {strconv.Itoa(query.Size)},
		"sort":         {"lastModifiedDate,desc"},
	}
	var page assistantPage
	if err := c.call(ctx, "Assistants", key, creds, http.MethodGet, "/leads/assistant?"+q.Encode(), nil, &page); err != nil {
		return nil, err
	}
	if page == nil {
		page = []Assistant{}
	}
	return page, nil
}

// assistantPage decodes the documented JSON array, and also a Spring page
// object ({"content": [...]}), which paged endpoints often return instead.
type assistantPage []Assistant

func (p *assistantPage) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '{' {
		var obj struct {
			Content []Assistant `json:"content"`
		}
		if err := json.Unmarshal(data, &obj); err != nil {
			return err
		}
		*p = obj.Content
		return nil
	}
	return json.Unmarshal(data, (*[]Assistant)(p))
}
