package store_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/store"
)

// servedBy returns the id of the instance a group's pages find, "" if none.
func servedBy(tb testing.TB, p *store.Pages, group string) string {
	tb.Helper()
	id, err := p.GroupInstance(context.Background(), group)
	if errors.Is(err, zen7.ErrNotFound) {
		return ""
	}
	if err != nil {
		tb.Fatalf("GroupInstance(%s): %v", group, err)
	}
	return id
}

func setTree(tb testing.TB, s *store.Instances, in zen7.Instance, depth int, groups ...string) {
	tb.Helper()
	if err := s.SetGroupTree(context.Background(), in, zen7.GroupTree{Root: groups[0], Depth: depth, Groups: groups}); err != nil {
		tb.Fatalf("SetGroupTree(%s): %v", in.ID, err)
	}
}

func TestGroupTrees(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a new read replaces the old", func(t *testing.T) {
		t.Parallel()
		s, db := newInstances(t)
		p := store.NewPages(db)
		a := newInstance("inst-a", "key-a")
		mustCreate(t, s, a)
		setTree(t, s, a, 0, "top", "old")
		setTree(t, s, a, 0, "top", "new")
		for g, want := range map[string]string{"top": a.ID, "new": a.ID, "old": ""} {
			if got := servedBy(t, p, g); got != want {
				t.Errorf("group %s served by %q, want %q", g, got, want)
			}
		}
		if got, err := s.InstanceForGroup(ctx, "new"); err != nil || got.ID != a.ID {
			t.Errorf("InstanceForGroup = %q, %v; want %q", got.ID, err, a.ID)
		}
	})

	t.Run("the deeper tree wins, whichever writes first", func(t *testing.T) {
		t.Parallel()
		for _, deeperFirst := range []bool{false, true} {
			s, db := newInstances(t)
			p := store.NewPages(db)
			top, branch := newInstance("inst-top", "key-top"), newInstance("inst-branch", "key-branch")
			mustCreate(t, s, top)
			mustCreate(t, s, branch)
			writes := []func(){
				func() { setTree(t, s, top, 0, "top", "branch", "team", "other") },
				func() { setTree(t, s, branch, 1, "branch", "team") },
			}
			if deeperFirst {
				writes[0], writes[1] = writes[1], writes[0]
			}
			for _, w := range writes {
				w()
			}
			setTree(t, s, top, 0, "top", "branch", "team", "other") // a later refresh of the upper one
			for g, want := range map[string]string{"top": top.ID, "other": top.ID, "branch": branch.ID, "team": branch.ID} {
				if got := servedBy(t, p, g); got != want {
					t.Errorf("deeper first %v: group %s served by %q, want %q", deeperFirst, g, got, want)
				}
			}
		}
	})

	t.Run("of two at the same depth the later install wins", func(t *testing.T) {
		t.Parallel()
		s, db := newInstances(t)
		p := store.NewPages(db)
		older, newer := newInstance("inst-older", "key-older"), newInstance("inst-newer", "key-newer")
		newer.InstalledAt = older.InstalledAt.Add(time.Second)
		mustCreate(t, s, older)
		mustCreate(t, s, newer)
		setTree(t, s, newer, 2, "g")
		setTree(t, s, older, 2, "g")
		if got := servedBy(t, p, "g"); got != newer.ID {
			t.Errorf("group served by %q, want the later install %q", got, newer.ID)
		}
	})

	t.Run("uninstall drops the groups, and the upper tree takes them back", func(t *testing.T) {
		t.Parallel()
		s, db := newInstances(t)
		p := store.NewPages(db)
		top, branch := newInstance("inst-top", "key-top"), newInstance("inst-branch", "key-branch")
		mustCreate(t, s, top)
		mustCreate(t, s, branch)
		setTree(t, s, top, 0, "top", "branch")
		setTree(t, s, branch, 1, "branch")
		if _, err := s.Uninstall(ctx, branch.ID, branch.APIKey, time.Now()); err != nil {
			t.Fatal(err)
		}
		if got := servedBy(t, p, "branch"); got != "" {
			t.Errorf("after uninstall the group is served by %q, want none", got)
		}
		if err := s.SetGroupTree(ctx, branch, zen7.GroupTree{Root: "branch", Depth: 1, Groups: []string{"branch"}}); !errors.Is(err, zen7.ErrNotFound) {
			t.Errorf("SetGroupTree of an uninstalled instance = %v, want ErrNotFound", err)
		}
		if got := servedBy(t, p, "branch"); got != "" {
			t.Errorf("a late tree read of the uninstalled instance left the group to %q", got)
		}
		setTree(t, s, top, 0, "top", "branch")
		if got := servedBy(t, p, "branch"); got != top.ID {
			t.Errorf("group served by %q, want the upper installation %q", got, top.ID)
		}
	})

	t.Run("a mapping left by an uninstalled instance or an older version is no claim", func(t *testing.T) {
		t.Parallel()
		s, db := newInstances(t)
		p := store.NewPages(db)
		gone, top := newInstance("inst-gone", "key-gone"), newInstance("inst-top", "key-top")
		mustCreate(t, s, gone)
		mustCreate(t, s, top)
		setTree(t, s, gone, 5, "deep")
		// An uninstall whose drop of the groups failed, as after a crash between the two.
		if _, err := s.Uninstall(ctx, gone.ID, gone.APIKey, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := store.InsertRaw(ctx, db, "groups", map[string]any{"_id": "deep", "instanceId": gone.ID, "depth": 5, "installedAt": gone.InstalledAt, "at": time.Now()}); err != nil {
			t.Fatal(err)
		}
		// What the page cache of earlier versions wrote: no depth.
		if err := store.InsertRaw(ctx, db, "groups", map[string]any{"_id": "cached", "instanceId": "someone", "at": time.Now()}); err != nil {
			t.Fatal(err)
		}
		setTree(t, s, top, 0, "top", "deep", "cached")
		for _, g := range []string{"deep", "cached"} {
			if got := servedBy(t, p, g); got != top.ID {
				t.Errorf("group %s served by %q, want %q", g, got, top.ID)
			}
		}
	})

	t.Run("concurrent reads of overlapping trees end with the deeper", func(t *testing.T) {
		t.Parallel()
		s, db := newInstances(t)
		p := store.NewPages(db)
		top, branch := newInstance("inst-top", "key-top"), newInstance("inst-branch", "key-branch")
		mustCreate(t, s, top)
		mustCreate(t, s, branch)
		write := func(in zen7.Instance, depth int, groups ...string) {
			if err := s.SetGroupTree(ctx, in, zen7.GroupTree{Root: groups[0], Depth: depth, Groups: groups}); err != nil {
				t.Errorf("SetGroupTree(%s): %v", in.ID, err)
			}
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { write(top, 0, "top", "branch", "team") })
			wg.Go(func() { write(branch, 1, "branch", "team") })
		}
		wg.Wait()
		for g, want := range map[string]string{"top": top.ID, "branch": branch.ID, "team": branch.ID} {
			if got := servedBy(t, p, g); got != want {
				t.Errorf("group %s served by %q, want %q", g, got, want)
			}
		}
	})
}

// TestInstanceGroupsAgree checks that the embedded store's direct read of an instance's group
// mappings, which SetGroupTree uses to find the stale ones, returns what the driver's query does.
func TestInstanceGroupsAgree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db := newInstances(t)
	a, b := newInstance("inst-a", "key-a"), newInstance("inst-b", "key-b")
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	setTree(t, s, a, 0, "top", `quoted "group" ü`, "shared")
	setTree(t, s, b, 1, "shared", "b-only")

	for _, tt := range []struct {
		instance string
		want     []string
	}{
		{a.ID, []string{"top", `quoted "group" ü`}},
		{b.ID, []string{"b-only", "shared"}},
		{"inst-none", nil},
	} {
		got, err := store.InstanceGroupsQuery(ctx, db, tt.instance)
		if err != nil {
			t.Fatalf("%s: the driver's query: %v", tt.instance, err)
		}
		if slices.Sort(got); !slices.Equal(got, slices.Sorted(slices.Values(tt.want))) {
			t.Errorf("%s: the driver's query = %q, want %q", tt.instance, got, tt.want)
		}
		if store.ReportFile(db) == "" {
			continue // MongoDB: one query
		}
		direct, err := store.InstanceGroupsDirect(ctx, db, tt.instance)
		if err != nil {
			t.Fatalf("%s: the direct read: %v", tt.instance, err)
		}
		if slices.Sort(direct); !slices.Equal(direct, got) {
			t.Errorf("%s: the direct read = %q, the driver's query %q", tt.instance, direct, got)
		}
	}
}

func TestAccountsToRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newInstances(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, c := range []struct {
		id   string
		acct zen7.Account
	}{
		{"pending", zen7.Account{LastTriedAt: now.Add(-time.Hour)}},
		{"fresh", zen7.Account{GroupID: "g1", ResolvedAt: now.Add(-time.Minute)}},
		{"old", zen7.Account{GroupID: "g2", ResolvedAt: now.Add(-time.Hour)}},
		{"older", zen7.Account{GroupID: "g3", ResolvedAt: now.Add(-2 * time.Hour)}},
		{"old, failed since", zen7.Account{GroupID: "g4", ResolvedAt: now.Add(-time.Hour), LastTriedAt: now.Add(-time.Minute)}},
		{"old, failed long ago", zen7.Account{GroupID: "g5", ResolvedAt: now.Add(-3 * time.Hour), LastTriedAt: now.Add(-time.Hour)}},
	} {
		mustCreate(t, s, newInstance(c.id, "key-"+c.id))
		if err := s.SetAccount(ctx, c.id, c.acct); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, s, newInstance("uninstalled", "key-uninstalled"))
	if err := s.SetAccount(ctx, "uninstalled", zen7.Account{GroupID: "g6", ResolvedAt: now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Uninstall(ctx, "uninstalled", "key-uninstalled", now); err != nil {
		t.Fatal(err)
	}

	got, err := s.AccountsToRefresh(ctx, now.Add(-10*time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, in := range got {
		ids = append(ids, in.ID)
	}
	want := []string{"old, failed long ago", "older", "old"}
	if len(ids) != len(want) || ids[0] != want[0] || ids[1] != want[1] || ids[2] != want[2] {
		t.Errorf("AccountsToRefresh = %q, want %q (least recently resolved first)", ids, want)
	}
	if got, _ := s.AccountsToRefresh(ctx, now.Add(-10*time.Minute), 1); len(got) != 1 {
		t.Errorf("AccountsToRefresh(limit 1) = %d instances", len(got))
	}
}
