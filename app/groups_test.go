package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/7targets/zenvia-sales-app/sales"
)

// The embedded pages find their instance from the signed group (contract section 5): each
// instance's group tree is read with its own API key, and a page's group resolves to the
// nearest installation above it, for any number of installed instances.

// checkGroupReadsOwnKey fails if Sales was asked about a group with the API key of an
// instance installed anywhere else: every GET /group/{id} must carry the key installed at id.
// installedAt maps each API key to the group it was installed at.
func checkGroupReadsOwnKey(t *testing.T, e *testEnv, installedAt map[string]string) {
	t.Helper()
	reads := 0
	for _, r := range e.sales.Requests() {
		group, ok := strings.CutPrefix(r.Path, "/group/")
		if r.Method != http.MethodGet || !ok {
			continue
		}
		reads++
		key := r.Query.Get("api-key")
		if own, known := installedAt[key]; !known || own != group {
			t.Errorf("Sales was asked about group %s with the key installed at group %q", group, own)
		}
	}
	if reads == 0 {
		t.Error("no group tree was read from Sales")
	}
}

// TestSubgroupPagesWithManyInstances checks that with 22 instances installed the pages of a
// group below each instance's own group load, those of the 21st and 22nd included, and that
// Sales is only ever asked about an instance's group with that instance's key; a group no
// instance serves costs no Sales call at all.
func TestSubgroupPagesWithManyInstances(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	const n = 22
	installedAt := map[string]string{}
	children := make([]string, n)
	for i := range n {
		key := fmt.Sprintf("key-many-groups-%02d", i+1)
		integ := e.sales.AddIntegration(key, sales.Integration{})
		children[i] = e.sales.AddGroup(sales.Group{Name: "Team", Parent: integ.GroupID}).ID
		installedAt[key] = integ.GroupID
		e.install(key)
	}
	parentOf := func(i int) string { return installedAt[fmt.Sprintf("key-many-groups-%02d", i+1)] }

	for i := range n {
		if p := getPage(t, e.signedURL(subgroupReportPath(children[i], parentOf(i)), true)); p.status != http.StatusOK {
			t.Errorf("report of a group below instance %d: %d, want 200", i+1, p.status)
		}
	}
	for _, i := range []int{20, 21} {
		if p := getPage(t, e.signedURL(buttonPath(children[i], "many0000000000000000000"+fmt.Sprint(i%10), ""), true)); p.status != http.StatusOK {
			t.Errorf("button of a group below instance %d: %d, want 200", i+1, p.status)
		}
	}
	checkGroupReadsOwnKey(t, e, installedAt)

	before := len(e.sales.Requests())
	unknown := "eeeeeeeeeeeeeeeeeeeeeeee"
	if p := getPage(t, e.signedURL(subgroupReportPath(unknown, "ffffffffffffffffffffffff"), true)); p.status != http.StatusUnauthorized {
		t.Errorf("report of a group no instance serves: %d, want 401", p.status)
	}
	if got := len(e.sales.Requests()) - before; got != 0 {
		t.Errorf("a group no instance serves cost %d Sales calls, want none", got)
	}
}

// TestReinstalledInstancePagesWorkAtOnce checks that once an instance is uninstalled its
// pages are refused, and that installing it again makes them load at once: nothing remembers
// the refusal.
func TestReinstalledInstancePagesWorkAtOnce(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	integ := e.sales.AddIntegration("key-reinstall-0001", sales.Integration{})
	child := e.sales.AddGroup(sales.Group{Name: "Team", Parent: integ.GroupID})
	e.install("key-reinstall-0001")
	pages := map[string]string{
		"own group report": e.signedURL(reportPath(integ.GroupID, "en"), true),
		"sub-group report": e.signedURL(subgroupReportPath(child.ID, integ.GroupID), true),
		"own group button": e.signedURL(buttonPath(integ.GroupID, "reinstall000000000000001", ""), false),
		"sub-group button": e.signedURL(buttonPath(child.ID, "reinstall000000000000001", ""), true),
	}
	check := func(when string, want int) {
		t.Helper()
		for name, u := range pages {
			if p := getPage(t, u); p.status != want {
				t.Errorf("%s, %s: %d, want %d", when, name, p.status, want)
			}
		}
	}
	check("installed", http.StatusOK)

	if res := e.do(request{method: "DELETE", path: "/lifecycle/uninstall", apiKey: "key-reinstall-0001"}); res.status != http.StatusOK {
		t.Fatalf("uninstall: %d %s", res.status, res.body)
	}
	check("uninstalled", http.StatusUnauthorized)

	// Sales installs the App again in the same group, with a new key.
	e.sales.AddIntegration("key-reinstall-0002", sales.Integration{GroupID: integ.GroupID})
	e.install("key-reinstall-0002")
	check("reinstalled", http.StatusOK)
	checkGroupReadsOwnKey(t, e, map[string]string{"key-reinstall-0001": integ.GroupID, "key-reinstall-0002": integ.GroupID})
}

// TestNestedInstallationsDeeperWins checks that where one installation's tree holds
// another's (the App installed for a company and for one of its branches), the groups they
// share show the deeper installation's pages, the others the upper one's; that this holds
// whichever was installed first; and that when the deeper one is uninstalled the upper one
// serves its groups at once.
func TestNestedInstallationsDeeperWins(t *testing.T) {
	t.Parallel()
	for _, deeperFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("deeper installed first %v", deeperFirst), func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			company := e.sales.AddGroup(sales.Group{Name: "Company"})
			branch := e.sales.AddGroup(sales.Group{Name: "Branch", Parent: company.ID})
			team := e.sales.AddGroup(sales.Group{Name: "Team", Parent: branch.ID})
			other := e.sales.AddGroup(sales.Group{Name: "Other branch", Parent: company.ID})
			e.sales.AddIntegration("key-nested-company", sales.Integration{GroupID: company.ID})
			e.sales.AddIntegration("key-nested-branch", sales.Integration{GroupID: branch.ID})
			installs := []string{"key-nested-company", "key-nested-branch"}
			if deeperFirst {
				installs[0], installs[1] = installs[1], installs[0]
			}
			for _, key := range installs {
				e.install(key)
			}
			// Each instance's default assistant shows in its dialog: it tells whose page it is.
			for key, assistant := range map[string]string{"key-nested-company": "company-assistant@example.com", "key-nested-branch": "branch-assistant@example.com"} {
				if res := e.do(request{method: "PUT", path: "/lifecycle/settings", apiKey: key, body: `{"assistantEmail":"` + assistant + `"}`}); res.status != http.StatusOK {
					t.Fatalf("settings of %s: %d %s", key, res.status, res.body)
				}
			}
			servedBy := func(group string) string {
				t.Helper()
				p := getPage(t, e.signedURL(buttonPath(group, "nested000000000000000001", ""), true))
				switch {
				case p.status != http.StatusOK:
					return fmt.Sprint(p.status)
				case strings.Contains(p.body, "branch-assistant@example.com"):
					return "branch"
				case strings.Contains(p.body, "company-assistant@example.com"):
					return "company"
				}
				return "neither"
			}
			for group, want := range map[string]string{company.ID: "company", other.ID: "company", branch.ID: "branch", team.ID: "branch"} {
				if got := servedBy(group); got != want {
					t.Errorf("group %s is served by %s, want %s", group, got, want)
				}
			}
			checkGroupReadsOwnKey(t, e, map[string]string{"key-nested-company": company.ID, "key-nested-branch": branch.ID})

			if res := e.do(request{method: "DELETE", path: "/lifecycle/uninstall", apiKey: "key-nested-branch"}); res.status != http.StatusOK {
				t.Fatalf("uninstall: %d %s", res.status, res.body)
			}
			for _, group := range []string{branch.ID, team.ID} {
				if got := servedBy(group); got != "company" {
					t.Errorf("after the branch's uninstall, group %s is served by %s, want company", group, got)
				}
			}
		})
	}
}

// TestSubgroupMadeAfterInstall checks that a group made in Sales after its instance's tree was
// read opens its report at once (its URL names the group above), the instance re-reading its
// own tree with its own key, and at most once a minute however many new groups are opened.
func TestSubgroupMadeAfterInstall(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	integ := e.sales.AddIntegration("key-new-subgroup-01", sales.Integration{})
	e.install("key-new-subgroup-01")
	reads := func() int { return e.sales.Count(http.MethodGet, "/group/"+integ.GroupID) }
	atInstall := reads()

	first := e.sales.AddGroup(sales.Group{Name: "New team", Parent: integ.GroupID})
	below := e.sales.AddGroup(sales.Group{Name: "New squad", Parent: first.ID})
	if p := getPage(t, e.signedURL(subgroupReportPath(first.ID, integ.GroupID), true)); p.status != http.StatusOK {
		t.Fatalf("report of a group made after install: %d, want 200", p.status)
	}
	if got := reads() - atInstall; got != 1 {
		t.Errorf("the tree was read %d times for the new group, want 1", got)
	}
	// Found by the re-read: its button (no parentGroup in its URL) and what is below it load.
	if p := getPage(t, e.signedURL(buttonPath(below.ID, "subgroup0000000000000001", ""), true)); p.status != http.StatusOK {
		t.Errorf("button of a group below the new one: %d, want 200", p.status)
	}
	second := e.sales.AddGroup(sales.Group{Name: "Newer team", Parent: integ.GroupID})
	if p := getPage(t, e.signedURL(subgroupReportPath(second.ID, integ.GroupID), true)); p.status != http.StatusOK {
		t.Errorf("report of a second new group: %d, want 200", p.status)
	}
	if got := reads() - atInstall; got != 1 {
		t.Errorf("the tree was read %d times within a minute, want 1", got)
	}
	checkGroupReadsOwnKey(t, e, map[string]string{"key-new-subgroup-01": integ.GroupID})
}
