package salesfake

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/sales"
)

// How the fake delivers the notification of a lead unless SetLeadDelivery says otherwise: as
// Sales retries, up to 20 times.
const (
	defaultLeadAttempts = 20
	defaultLeadBackoff  = time.Second
)

// SetLeadDelivery sets how the prospects notification a lead causes is delivered: at most
// maxAttempts posts, backoff apart (see Deliver). Non-positive values keep the defaults, 20
// posts a second apart.
func (s *Server) SetLeadDelivery(maxAttempts int, backoff time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leadAttempts, s.leadBackoff = maxAttempts, backoff
}

// Prospect returns the prospect id as stored, leads included.
func (s *Server) Prospect(id string) (sales.Prospect, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.prospects[id]
	return cloneProspect(p), ok
}

// handleRetailLead processes POST /lead/retail as Sales does: it matches the lead to a
// prospect of the key's group by email or phone, or creates one, answers with the prospect
// (201 when created, 200 when matched; without the previous leads of a matched one) and then,
// in the background, posts the prospects notification to the group's active subscription.
func (s *Server) handleRetailLead(w http.ResponseWriter, r *http.Request, in sales.Integration) {
	var lead sales.RetailLead
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&lead); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON body: "+err.Error())
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "malformed JSON body: trailing data")
		return
	}
	if strings.TrimSpace(lead.UtmSource) == "" {
		writeError(w, http.StatusBadRequest, "utmSource is required")
		return
	}
	emails := make([]string, 0, len(lead.Emails))
	for i, e := range lead.Emails {
		bare, ok := zen7.BareEmail(e)
		if !ok {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("emails[%d] is not an email address", i))
			return
		}
		emails = append(emails, bare)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	entry := sales.Lead{
		Created: now, CreatedBy: in.ID, Source: lead.UtmSource, UtmSource: lead.UtmSource,
		ProviderKey: lead.Provider, Comments: lead.Comments, Type: "retail",
	}

	s.mu.Lock()
	p, found := s.matchLocked(in, emails, lead.Phones)
	kind, status := sales.NotificationUpdated, http.StatusOK
	if !found {
		kind, status = sales.NotificationCreated, http.StatusCreated
		p = sales.Prospect{
			ID: NewID(), Created: now, GroupID: in.GroupID, Group: in.Group, AccountID: in.AccountID, Account: in.Account,
			FirstName: lead.FirstName, LastName: lead.LastName, Status: "unclaimed",
		}
	}
	p.Emails = mergeValues(p.Emails, emails, strings.ToLower)
	p.Phones = mergeValues(p.Phones, lead.Phones, phoneDigits)
	for _, n := range lead.NIN {
		if !slices.Contains(p.NIN, n) {
			p.NIN = append(p.NIN, n)
		}
	}
	p.FirstName = cmp.Or(p.FirstName, lead.FirstName)
	p.LastName = cmp.Or(p.LastName, lead.LastName)
	p.Leads = append(slices.Clone(p.Leads), entry)
	s.prospects[p.ID] = p
	stored := cloneProspect(p)
	attempts, backoff := cmpOrInt(s.leadAttempts, defaultLeadAttempts), s.leadBackoff
	s.mu.Unlock()
	if backoff <= 0 {
		backoff = defaultLeadBackoff
	}

	answer := cloneProspect(stored)
	answer.Leads = []sales.Lead{entry} // "previous lead data will not be returned"
	writeJSON(w, status, prospectResource(answer))

	s.notifyLead(in.GroupID, sales.Notification{Type: kind, Prospect: []sales.Prospect{stored}}, attempts, backoff)
}

// notifyLead delivers n to the group's active subscription, if any, in the background: Sales
// answers the lead first and notifies after. Close ends the delivery and waits for it.
func (s *Server) notifyLead(groupID string, n sales.Notification, attempts int, backoff time.Duration) {
	if _, err := s.target(groupID); err != nil {
		return // nobody subscribed: Sales notifies no one
	}
	s.bg.Go(func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-s.closed:
				cancel()
			case <-ctx.Done():
			}
		}()
		_, _ = s.Deliver(ctx, groupID, n, attempts, backoff) // recorded in Deliveries
	})
}

// matchLocked finds the prospect of the key's scope that shares an email (ignoring case) or a
// phone (by its digits) with the lead, oldest first.
func (s *Server) matchLocked(in sales.Integration, emails, phones []string) (sales.Prospect, bool) {
	var best sales.Prospect
	found := false
	for _, p := range s.prospects {
		if !s.inScopeLocked(in, p.GroupID) || !(sharesAny(p.EmailAddresses(), emails, strings.ToLower) || sharesAny(p.PhoneNumbers(), phones, phoneDigits)) {
			continue
		}
		if !found || p.Created.Before(best.Created) || (p.Created.Equal(best.Created) && p.ID < best.ID) {
			best, found = p, true
		}
	}
	return best, found
}

func sharesAny(have, want []string, key func(string) string) bool {
	for _, h := range have {
		for _, w := range want {
			if k := key(w); k != "" && key(h) == k {
				return true
			}
		}
	}
	return false
}

// mergeValues appends to have the values of add it lacks by key, dropping empty ones.
func mergeValues(have, add []string, key func(string) string) []string {
	out := slices.Clone(have)
	for _, v := range add {
		v = strings.TrimSpace(v)
		if key(v) == "" || slices.ContainsFunc(out, func(h string) bool { return key(h) == key(v) }) {
			continue
		}
		out = append(out, v)
	}
	return out
}

func phoneDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func cloneProspect(p sales.Prospect) sales.Prospect {
	p.Phones, p.Emails, p.NIN = slices.Clone(p.Phones), slices.Clone(p.Emails), slices.Clone(p.NIN)
	p.Leads, p.ContactMediums, p.Agents = slices.Clone(p.Leads), slices.Clone(p.ContactMediums), slices.Clone(p.Agents)
	p.AdditionalData = slices.Clone(p.AdditionalData)
	return p
}

func cmpOrInt(a, b int) int {
	if a > 0 {
		return a
	}
	return b
}
