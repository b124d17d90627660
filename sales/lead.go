package sales

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

// RetailLead is the body of POST /lead/retail: a lead for agents to work, which Sales matches
// to a prospect (by phone or email) or turns into a new one.
type RetailLead struct {
	Priority       int    `json:"priority,omitempty"`
	Provider       string `json:"provider,omitempty"`
	ProviderLeadID string `json:"providerLeadId,omitempty"`
	// UtmSource is required by Sales.
	UtmSource   string   `json:"utmSource"`
	UtmMedium   string   `json:"utmMedium,omitempty"`
	UtmCampaign string   `json:"utmCampaign,omitempty"`
	FirstName   string   `json:"firstName,omitempty"`
	LastName    string   `json:"lastName,omitempty"`
	Phones      []string `json:"phones,omitempty"`
	Emails      []string `json:"emails,omitempty"`
	NIN         []NIN    `json:"nin,omitempty"`
	Comments    string   `json:"comments,omitempty"`
}

// NIN is a National Identification Number: its type (DNI, CPF…) and number.
type NIN struct {
	Type   string `json:"type"`
	Number string `json:"number"`
}

// CreateRetailLead sends lead to Sales, which answers with the matching prospect: a new one, or
// the existing one it was matched to (without its previous leads). Sales then notifies the
// prospect's subscription of it like any other prospect. A 429 is waited out as in every call.
func (c *Client) CreateRetailLead(ctx context.Context, apiKey string, lead RetailLead) (Prospect, error) {
	const op = "lead"
	var p Prospect
	if strings.TrimSpace(lead.UtmSource) == "" {
		return p, &APIError{Op: op, Method: http.MethodPost, Path: "/lead/retail", Message: "utmSource is required"}
	}
	err := c.do(ctx, call{
		op: op, method: http.MethodPost, segs: []string{"lead", "retail"}, apiKey: apiKey, body: lead,
		decode: func(b []byte) error { return json.Unmarshal(b, &p) },
	})
	return p, err
}
