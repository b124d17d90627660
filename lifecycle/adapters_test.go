package lifecycle_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/lifecycle"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/sales/salesfake"
	"github.com/7targets/zenvia-sales-app/seventargets"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
)

func newSevenTargetsChecker(tb testing.TB) (lifecycle.CredentialChecker, *seventargetsfake.Server) {
	tb.Helper()
	fake := seventargetsfake.New()
	tb.Cleanup(fake.Close)
	c, err := seventargets.New(fake.APIURL(), fake.TokenURL(), seventargets.WithTimeout(2*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	return lifecycle.SevenTargetsChecker(c), fake
}

func TestSevenTargetsChecker(t *testing.T) {
	t.Parallel()
	const secret = "the-real-secret-123"
	tests := []struct {
		name         string
		id, secret   string
		fault        func(*seventargetsfake.Server)
		wantErr      error // nil: accepted
		wantNotErr   error
		wantNoSecret string
	}{
		{name: "accepted", id: "client-1", secret: secret},
		{name: "wrong secret", id: "client-1", secret: "wrong-secret-456", wantErr: zen7.ErrInvalid, wantNotErr: zen7.ErrUpstream, wantNoSecret: "wrong-secret-456"},
		{name: "unknown client", id: "client-2", secret: secret, wantErr: zen7.ErrInvalid, wantNotErr: zen7.ErrUpstream, wantNoSecret: secret},
		{name: "empty secret", id: "client-1", secret: "", wantErr: zen7.ErrInvalid, wantNotErr: zen7.ErrUpstream},
		{
			name: "7Targets down", id: "client-1", secret: secret,
			fault:   func(f *seventargetsfake.Server) { f.SetDown(true) },
			wantErr: zen7.ErrUpstream, wantNotErr: zen7.ErrInvalid, wantNoSecret: secret,
		},
		{
			name: "7Targets too slow", id: "client-1", secret: secret,
			fault:   func(f *seventargetsfake.Server) { f.SetLatency(10 * time.Second) },
			wantErr: zen7.ErrUpstream, wantNotErr: zen7.ErrInvalid, wantNoSecret: secret,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checker, fake := newSevenTargetsChecker(t)
			fake.AddClient("client-1", secret)
			if tt.fault != nil {
				tt.fault(fake)
			}
			err := checker.CheckCredentials(context.Background(), tt.id, tt.secret)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("CheckCredentials() error = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CheckCredentials() error = %v, want %v", err, tt.wantErr)
			}
			if errors.Is(err, tt.wantNotErr) {
				t.Errorf("CheckCredentials() error = %v also matches %v", err, tt.wantNotErr)
			}
			if tt.wantNoSecret != "" && strings.Contains(err.Error(), tt.wantNoSecret) {
				t.Errorf("CheckCredentials() error %q contains the secret", err)
			}
		})
	}
}

func TestSalesAccounts(t *testing.T) {
	t.Parallel()
	fake := salesfake.New()
	t.Cleanup(fake.Close)
	c, err := sales.New(fake.BaseURL(), sales.WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	lookup := lifecycle.SalesAccounts(c)
	in := fake.AddIntegration("key-1", sales.Integration{Language: "es", Group: "Ventas"})

	got, err := lookup.LookupAccount(context.Background(), "key-1")
	if err != nil {
		t.Fatalf("LookupAccount() error = %v", err)
	}
	want := zen7.Account{IntegrationID: in.ID, GroupID: in.GroupID, AccountID: in.AccountID, Language: "es"}
	if got != want {
		t.Errorf("LookupAccount() = %+v, want %+v", got, want)
	}
	if !got.Resolved() {
		t.Error("Resolved() = false for a looked-up account")
	}

	if _, err := lookup.LookupAccount(context.Background(), "unknown-key"); err == nil {
		t.Error("LookupAccount(unknown key) error = nil, want an error")
	}
	// The tree below the integration's group, every level of it, and how deep it sits.
	top := fake.AddGroup(sales.Group{Name: "Company"})
	fake.AddGroup(sales.Group{ID: in.GroupID, Name: "Ventas", Parent: top.ID})
	team := fake.AddGroup(sales.Group{Name: "Team", Parent: in.GroupID})
	squad := fake.AddGroup(sales.Group{Name: "Squad", Parent: team.ID})
	fake.AddGroup(sales.Group{Name: "Elsewhere", Parent: top.ID})
	tree, err := lookup.LookupGroups(context.Background(), "key-1", in.GroupID)
	if err != nil {
		t.Fatalf("LookupGroups() error = %v", err)
	}
	wantTree := zen7.GroupTree{Root: in.GroupID, Parent: top.ID, Depth: 1, Groups: []string{in.GroupID, team.ID, squad.ID}}
	if diff := cmp.Diff(wantTree, tree); diff != "" {
		t.Errorf("LookupGroups() mismatch (-want +got):\n%s", diff)
	}
	if _, err := lookup.LookupGroups(context.Background(), "unknown-key", in.GroupID); err == nil {
		t.Error("LookupGroups(unknown key) error = nil, want an error")
	}

	fake.SetDisabled("key-1", true)
	if _, err := lookup.LookupAccount(context.Background(), "key-1"); err == nil {
		t.Error("LookupAccount(disabled instance) error = nil, want an error")
	}
}

// TestServiceWithRealAdapters runs install and a credentials change through the adapters and
// the loopback fakes, as cmd/server wires them.
func TestServiceWithRealAdapters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	salesFake := salesfake.New()
	t.Cleanup(salesFake.Close)
	sc, err := sales.New(salesFake.BaseURL(), sales.WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	checker, stFake := newSevenTargetsChecker(t)
	stFake.AddClient("client-1", "good-secret")
	store := newMemStore()
	svc := lifecycle.NewService(lifecycle.Config{AppID: testAppID, AppSecret: testAppSecret},
		store, lifecycle.SalesAccounts(sc), checker, slog.New(slog.DiscardHandler))

	in := salesFake.AddIntegration("key-1", sales.Integration{Language: "pt"})
	if created, err := svc.Install(ctx, lifecycle.InstallRequest{APIKey: "key-1", Enabled: boolPtr(true)}); err != nil || !created {
		t.Fatalf("Install() = %v, %v", created, err)
	}
	if got := store.byKey(t, "key-1").Account.GroupID; got != in.GroupID {
		t.Errorf("Account.GroupID = %q, want %q", got, in.GroupID)
	}

	_, err = svc.UpdateSettings(ctx, "key-1", mustParse(t, `{"clientId":"client-1","clientSecret":"bad-secret"}`))
	if got := fieldErrors(t, err); got["clientSecret"] == "" {
		t.Errorf("field errors = %v, want one on clientSecret", got)
	}
	s, err := svc.UpdateSettings(ctx, "key-1", mustParse(t, `{"clientId":"client-1","clientSecret":"good-secret"}`))
	if err != nil {
		t.Fatalf("UpdateSettings(good credentials) error = %v", err)
	}
	if s.ClientSecret != "good-secret" {
		t.Errorf("ClientSecret = %q, want the new one", s.ClientSecret)
	}

	stFake.SetDown(true)
	_, err = svc.UpdateSettings(ctx, "key-1", mustParse(t, `{"clientSecret":"other-secret"}`))
	if !errors.Is(err, zen7.ErrUpstream) {
		t.Errorf("UpdateSettings() with 7Targets down error = %v, want ErrUpstream", err)
	}
	if got := store.byKey(t, "key-1").Settings.ClientSecret; got != "good-secret" {
		t.Errorf("ClientSecret = %q after a failed check, want it unchanged", got)
	}
}
