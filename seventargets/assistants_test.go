package seventargets_test

import (
	"fmt"
	"testing"

	"github.com/7targets/zenvia-sales-app/seventargets"
)

func TestAllAssistants(t *testing.T) {
	t.Parallel()
	f := newFake(t) // two seed assistants
	const added = 248
	for i := range added {
		f.AddAssistant(seventargets.Assistant{Name: fmt.Sprintf("Bot %03d", i), EmailID: fmt.Sprintf("bot%03d@7targets.test", i)})
	}
	f.AddClient("client-2", "secret-2", "user-2")
	c := newClient(t, f)
	listings := func() int {
		n := 0
		for _, r := range f.Requests() {
			if r.Path == "/leads/assistant" {
				n++
			}
		}
		return n
	}

	got, err := c.AllAssistants(t.Context(), "inst-1", testCreds)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range got {
		seen[a.EmailID] = true
	}
	if len(got) != added+2 || len(seen) != added+2 {
		t.Fatalf("AllAssistants listed %d assistants (%d distinct), want %d", len(got), len(seen), added+2)
	}
	if n := listings(); n != 3 {
		t.Errorf("%d pages read for %d assistants, want 3 of 100", n, added+2)
	}

	tests := []struct {
		name      string
		key       string
		creds     seventargets.Credentials
		forget    bool
		wantReads int // more pages read than before
	}{
		{name: "same key and credentials: cached", key: "inst-1", creds: testCreds, wantReads: 0},
		{name: "another key: read", key: "inst-2", creds: testCreds, wantReads: 3},
		{name: "other credentials under the same key: read", key: "inst-1", creds: seventargets.Credentials{ClientID: "client-2", ClientSecret: "secret-2", UserIdentifier: "user-2"}, wantReads: 3},
		{name: "after Forget: read", key: "inst-2", creds: testCreds, forget: true, wantReads: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.forget {
				c.Forget(tt.key)
			}
			before := listings()
			if _, err := c.AllAssistants(t.Context(), tt.key, tt.creds); err != nil {
				t.Fatal(err)
			}
			if got := listings() - before; got != tt.wantReads {
				t.Errorf("%d pages read, want %d", got, tt.wantReads)
			}
		})
	}

	t.Run("unavailable: an error, nothing cached", func(t *testing.T) {
		down := newFake(t)
		dc := newClient(t, down)
		down.SetDown(true)
		if _, err := dc.AllAssistants(t.Context(), "k", testCreds); err == nil {
			t.Fatal("no error while 7Targets is down")
		}
		down.SetDown(false)
		list, err := dc.AllAssistants(t.Context(), "k", testCreds)
		if err != nil || len(list) != 2 {
			t.Fatalf("after recovery: %d assistants, %v; want the 2 seeded", len(list), err)
		}
	})
}
