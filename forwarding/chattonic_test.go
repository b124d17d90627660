package forwarding_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/chattonic"
	"github.com/7targets/zenvia-sales-app/chattonic/chattonicfake"
	"github.com/7targets/zenvia-sales-app/forwarding"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/store"
)

// The test instance's Chat-Tonic bot account, and the poll interval (CHATTONIC_POLL_INTERVAL's
// default).
const (
	ctCodename = "acme_bot"
	ctToken    = "ct-token-1"
	ctInterval = time.Minute
)

// ctStages are the interactions of the test funnels: a record at FIN has completed its group.
var ctStages = []string{"INICIO", "DNI", "CELULAR", "FIN"}

// LiveInstances lists the instances that are not uninstalled, as the store lists them for the
// Chat-Tonic poller.
func (s *instancesStub) LiveInstances(context.Context) ([]zen7.Instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []zen7.Instance
	for _, in := range s.m {
		if in.State != zen7.StateUninstalled {
			out = append(out, in)
		}
	}
	slices.SortFunc(out, func(a, b zen7.Instance) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// chatTonicEnv is a backfill environment (the outbox on a real store, the webhook endpoint
// Sales' fake notifies, 7Targets' fake behind the worker) with a fake Chat-Tonic holding the
// instance's bot account, the Chat-Tonic sources on the outbox's database, and a clock that the
// pollers and the fake Chat-Tonic read and that moves only when the test says. The pollers
// count into one set of metrics.
type chatTonicEnv struct {
	*backfillEnv
	ct       *chattonicfake.Server
	sources  *store.ChatTonicSources
	clock    *fakeClock
	registry *prometheus.Registry
	metrics  *forwarding.Metrics
	seq      int // numbers the records' users, for phones and emails of their own
}

// newChatTonicEnv returns an environment whose instance reads the fake's account, its settings
// as configure (which may be nil) leaves them.
func newChatTonicEnv(tb testing.TB, configure func(*zen7.Settings)) *chatTonicEnv {
	tb.Helper()
	b := newBackfillEnv(tb)
	e := &chatTonicEnv{
		backfillEnv: b, ct: chattonicfake.New(), sources: store.NewChatTonicSources(b.db),
		clock: newFakeClock(time.Now().UTC().Truncate(time.Millisecond)), registry: prometheus.NewRegistry(),
	}
	e.metrics = forwarding.NewMetrics(e.registry)
	tb.Cleanup(e.ct.Close)
	e.ct.SetClock(e.clock.Now)
	if err := e.ct.AddAccount(ctCodename, ctToken); err != nil {
		tb.Fatal(err)
	}
	e.inst.Settings.ChatTonicCodename, e.inst.Settings.ChatTonicToken = ctCodename, ctToken
	if configure != nil {
		configure(&e.inst.Settings)
	}
	e.instances.put(e.inst)
	return e
}

// addFunnel gives the account a funnel with groups of the given names.
func (e *chatTonicEnv) addFunnel(id string, stages []string, groups ...string) {
	e.tb.Helper()
	f := chattonic.Funnel{ID: id, Interactions: stages}
	for _, g := range groups {
		f.Groups = append(f.Groups, chattonic.FunnelGroup{Name: g})
	}
	if _, err := e.ct.AddFunnel(ctCodename, f); err != nil {
		e.tb.Fatal(err)
	}
}

// addRecord adds r to the account, created now on the test's clock unless r says otherwise.
func (e *chatTonicEnv) addRecord(r chattonic.Record) chattonic.Record {
	e.tb.Helper()
	got, err := e.ct.AddRecord(ctCodename, r)
	if err != nil {
		e.tb.Fatal(err)
	}
	return got
}

// leadRecord adds a record of the group at stage whose user left a phone number of their own.
func (e *chatTonicEnv) leadRecord(funnel, group, stage string) chattonic.Record {
	e.tb.Helper()
	e.seq++
	return e.addRecord(chattonic.Record{Funnel: funnel, Group: group, Last: stage, User: chattonic.User{
		Platform: "whatsapp", FirstName: "Lead", LastName: fmt.Sprint(e.seq),
		ExtraData: []chattonic.ExtraData{{Name: "Celular", Value: fmt.Sprintf("+54 9 11 %08d", e.seq)}},
	}})
}

// leadRecords adds n records as leadRecord does.
func (e *chatTonicEnv) leadRecords(n int, funnel, group, stage string) []chattonic.Record {
	e.tb.Helper()
	out := make([]chattonic.Record, n)
	for i := range out {
		out[i] = e.leadRecord(funnel, group, stage)
	}
	return out
}

// reader returns a Chat-Tonic client of the fake, as a process has one.
func (e *chatTonicEnv) reader() *chattonic.Client {
	e.tb.Helper()
	c, err := chattonic.New(e.ct.BaseURL(), chattonic.WithTimeout(10*time.Second))
	if err != nil {
		e.tb.Fatal(err)
	}
	return c
}

// poller returns the Chat-Tonic poller of a process named owner, with its own Chat-Tonic client
// and intake, on the test's clock.
func (e *chatTonicEnv) poller(owner string) *forwarding.ChatTonicPoller {
	return e.pollerWith(owner, forwarding.ChatTonicConfig{}, e.sources, e.reader())
}

// pollerWith is poller with the given configuration (Interval ctInterval unless set), sources
// and reader.
func (e *chatTonicEnv) pollerWith(owner string, cfg forwarding.ChatTonicConfig, st forwarding.ChatTonicStore, r forwarding.ChatTonicReader) *forwarding.ChatTonicPoller {
	cfg.Owner = owner
	if cfg.Interval == 0 {
		cfg.Interval = ctInterval
	}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p := forwarding.NewChatTonicPoller(cfg, st, e.instances, r, forwarding.NewIntake(e.outbox, nil, nil, nil), e.metrics, logger)
	p.SetClock(e.clock.Now)
	return p
}

// importer returns a worker that also imports Chat-Tonic records into Sales, with clients of its
// own, as another process's would be.
func (e *chatTonicEnv) importer() *forwarding.Worker {
	e.tb.Helper()
	w := e.newWorker(fastWorkerConfig())
	retail, err := sales.New(e.sales.BaseURL(), sales.WithTimeout(5*time.Second))
	if err != nil {
		e.tb.Fatal(err)
	}
	w.SetRetailLeads(retail)
	return w
}

// deliveryOf is the id of the delivery of the record with id.
func (e *chatTonicEnv) deliveryOf(recordID string) string {
	return e.inst.ID + ":chattonic:" + recordID
}

// source returns the instance's Chat-Tonic source as stored.
func (e *chatTonicEnv) source() zen7.ChatTonicSource {
	e.tb.Helper()
	src, err := e.sources.ChatTonicSource(context.Background(), e.inst.ID)
	if err != nil {
		e.tb.Fatalf("reading the source: %v", err)
	}
	return src
}

// checkQueued fails unless each of want has a delivery (waiting or finished) and none of others.
func (e *chatTonicEnv) checkQueued(want, others []chattonic.Record) {
	e.tb.Helper()
	for _, r := range want {
		if _, err := e.outbox.Delivery(context.Background(), e.deliveryOf(r.ID)); err != nil {
			e.tb.Errorf("record %s (%s/%s at %s): delivery %v, want it queued", r.ID, r.Funnel, r.Group, r.Last, err)
		}
	}
	for _, r := range others {
		if _, err := e.outbox.Delivery(context.Background(), e.deliveryOf(r.ID)); !errors.Is(err, zen7.ErrNotFound) {
			e.tb.Errorf("record %s (%s/%s at %s): delivery %v, want none", r.ID, r.Funnel, r.Group, r.Last, err)
		}
	}
}

// finishedAll waits for the deliveries of recs to finish, in order, and returns them. Each gets
// a generous bound of its own: a hundred imports take long on a loaded machine, and the wait
// is not a speed assertion, only one for a worker that stopped making progress.
func (e *chatTonicEnv) finishedAll(recs []chattonic.Record) []zen7.Delivery {
	e.tb.Helper()
	out := make([]zen7.Delivery, len(recs))
	for i, r := range recs {
		waitLong(e.tb, fmt.Sprintf("delivery %d of %d (record %s) to finish", i+1, len(recs), r.ID), func() bool {
			d, err := e.outbox.Delivery(context.Background(), e.deliveryOf(r.ID))
			out[i] = d
			return err == nil && d.State != zen7.StatePending
		})
	}
	return out
}

// retailPosts returns the bodies of the POST /lead/retail Sales received, oldest first.
func (e *chatTonicEnv) retailPosts() []map[string]any {
	e.tb.Helper()
	var out []map[string]any
	for _, r := range e.sales.Requests() {
		if r.Method == http.MethodPost && r.Path == "/lead/retail" {
			var body map[string]any
			if err := json.Unmarshal(r.Body, &body); err != nil {
				e.tb.Fatalf("POST /lead/retail body %q: %v", r.Body, err)
			}
			out = append(out, body)
		}
	}
	return out
}

// retailPostOf returns the body of the one POST /lead/retail for the record with id.
func (e *chatTonicEnv) retailPostOf(recordID string) map[string]any {
	e.tb.Helper()
	var found []map[string]any
	for _, b := range e.retailPosts() {
		if b["providerLeadId"] == recordID {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		e.tb.Fatalf("%d POST /lead/retail for record %s, want 1", len(found), recordID)
	}
	return found[0]
}

// checkImportedOnce waits for the deliveries of recs to finish, then fails unless each ended
// imported and became exactly one POST /lead/retail, and nothing else was posted.
func (e *chatTonicEnv) checkImportedOnce(recs []chattonic.Record) {
	e.tb.Helper()
	for i, d := range e.finishedAll(recs) {
		if d.State != zen7.StateDone || d.Outcome != zen7.OutcomeImported {
			e.tb.Errorf("record %s: delivery %s %s (%s), want done imported", recs[i].ID, d.State, d.Outcome, d.Reason)
		}
	}
	got := map[string]int{}
	for _, b := range e.retailPosts() {
		id, _ := b["providerLeadId"].(string)
		got[id]++
	}
	for _, r := range recs {
		if n := got[r.ID]; n != 1 {
			e.tb.Errorf("record %s: %d POST /lead/retail, want 1", r.ID, n)
		}
		delete(got, r.ID)
	}
	for id, n := range got {
		e.tb.Errorf("%d POST /lead/retail for %q, which should not be imported", n, id)
	}
}

// funnelReads counts the GET …/lead/funnels the fake Chat-Tonic received: one a poll.
func (e *chatTonicEnv) funnelReads() int {
	return e.ct.Count(http.MethodGet, "/api/v1/"+ctCodename+"/lead/funnels")
}

// failures returns the failed reads of Chat-Tonic the pollers counted, by kind.
func (e *chatTonicEnv) failures() map[string]float64 {
	e.tb.Helper()
	families, err := e.registry.Gather()
	if err != nil {
		e.tb.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "chattonic_source_failures_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// recordReads returns the query strings of the GET …/lead/records the fake received.
func (e *chatTonicEnv) recordReads() []map[string]string {
	var out []map[string]string
	for _, r := range e.ct.Requests() {
		if r.Method == http.MethodGet && r.Path == "/api/v1/"+ctCodename+"/lead/records" {
			q := map[string]string{}
			for k := range r.Query {
				q[k] = r.Query.Get(k)
			}
			out = append(out, q)
		}
	}
	return out
}

// TestChatTonicFunnelSelection reads an account of two funnels, three groups, with each value of
// chatTonicFunnels, and checks which groups were read and which records imported.
func TestChatTonicFunnelSelection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, funnels string
		want          []string // the groups read and whose record is imported, "funnel/group"
	}{
		{name: "every group of every funnel", funnels: "", want: []string{"soporte/Mesa", "ventas/Tienda", "ventas/Web"}},
		{name: "one funnel", funnels: "ventas", want: []string{"ventas/Tienda", "ventas/Web"}},
		{name: "one group", funnels: "ventas/Web", want: []string{"ventas/Web"}},
		{name: "groups ignoring case, on lines", funnels: "soporte/mesa\nventas / TIENDA", want: []string{"soporte/Mesa", "ventas/Tienda"}},
		{name: "a funnel and a group of another", funnels: "soporte, ventas/Web", want: []string{"soporte/Mesa", "ventas/Web"}},
		{name: "funnel ids are exact", funnels: "Ventas", want: nil},
		{name: "a funnel the account does not have", funnels: "nada/Web", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newChatTonicEnv(t, func(s *zen7.Settings) { s.ChatTonicFunnels = tt.funnels })
			e.addFunnel("ventas", ctStages, "Web", "Tienda")
			e.addFunnel("soporte", ctStages, "Mesa")
			var want, others []chattonic.Record
			for _, g := range []string{"ventas/Web", "ventas/Tienda", "soporte/Mesa"} {
				funnel, group, _ := strings.Cut(g, "/")
				r := e.leadRecord(funnel, group, "FIN")
				if slices.Contains(tt.want, g) {
					want = append(want, r)
				} else {
					others = append(others, r)
				}
			}
			e.start(e.importer())
			e.poller("process-1").Pass(t.Context())

			var read []string
			for _, q := range e.recordReads() {
				read = append(read, q["funnel"]+"/"+q["funnelGroup"])
				if q["limit"] != "100" || q["skip"] != "0" || q["startDate"] == "" {
					t.Errorf("GET …/lead/records?%v, want skip=0, limit=100 and a startDate", q)
				}
			}
			slices.Sort(read)
			if diff := cmp.Diff(tt.want, read); diff != "" {
				t.Errorf("groups read (-want +got):\n%s", diff)
			}
			src := e.source()
			groups := slices.Sorted(slices.Values(src.Groups))
			if diff := cmp.Diff(tt.want, groups); diff != "" {
				t.Errorf("the source's groups (-want +got):\n%s", diff)
			}
			if !src.LastGoodRead.Equal(e.clock.Now()) || src.Failing {
				t.Errorf("source after the read: last good read %v, failing %t; want now, not failing", src.LastGoodRead, src.Failing)
			}
			e.checkQueued(want, others)
			e.checkImportedOnce(want)
		})
	}
}

// TestChatTonicPagesRecords reads a group of more records than a page holds, and checks that
// it is paged 100 at a time until a short page, every record queued. (That the records of a
// read of several pages are imported once each, TestChatTonicResumesAfterStopBetweenPages
// checks.)
func TestChatTonicPagesRecords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		records      int
		stringPaging bool // skip and limit answered as strings, as the reference documents them
		wantSkips    []string
	}{
		{name: "250 records", records: 250, wantSkips: []string{"0", "100", "200"}},
		{name: "a full page, then an empty one", records: 100, wantSkips: []string{"0", "100"}},
		{name: "one over a page, paging as strings", records: 101, stringPaging: true, wantSkips: []string{"0", "100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newChatTonicEnv(t, nil)
			e.ct.SetStringPaging(tt.stringPaging)
			e.addFunnel("ventas", ctStages, "Web")
			recs := e.leadRecords(tt.records, "ventas", "Web", "FIN")
			e.poller("process-1").Pass(t.Context())

			var skips []string
			reads := e.recordReads()
			for _, q := range reads {
				skips = append(skips, q["skip"])
				if q["limit"] != "100" || q["funnel"] != "ventas" || q["funnelGroup"] != "Web" || q["startDate"] != reads[0]["startDate"] {
					t.Errorf("GET …/lead/records?%v, want limit=100 of ventas/Web from the first page's startDate", q)
				}
			}
			if diff := cmp.Diff(tt.wantSkips, skips); diff != "" {
				t.Errorf("pages read, by skip (-want +got):\n%s", diff)
			}
			e.checkQueued(recs, nil)
			if depth, _, err := e.outbox.Stats(t.Context()); err != nil || depth != len(recs) {
				t.Errorf("outbox holds %d deliveries (%v), want one a record, %d", depth, err, len(recs))
			}
		})
	}
}

// TestChatTonicMapsRecordsToRetailLeads imports records of every shape the mapping rules cover
// and checks, rule by rule, the body Sales received for each, and that the prospects Sales
// notified then reached 7Targets like any other.
func TestChatTonicMapsRecordsToRetailLeads(t *testing.T) {
	t.Parallel()
	// Backfill a day: the reference record was created before the source was configured.
	e := newChatTonicEnv(t, func(s *zen7.Settings) { s.ChatTonicBackfillDays = 1 })
	e.addFunnel("sacarTarjeta", []string{"INICIO", "DNI", "CELULAR", "INGRESO", "FIN"}, "Sacar Tarjeta")
	e.addFunnel("contacto", []string{"INICIO", "NOMBRE", "EMAIL", "CELULAR", "FIN"}, "Contacto Web")
	tests := []struct {
		name string
		rec  chattonic.Record
		want string // the JSON body of its POST /lead/retail
		// wantEmail is the email of the 7Targets lead the prospect becomes; "" when it has
		// none, and so becomes no 7Targets lead.
		wantEmail string
	}{
		{
			name: "the reference record: a DNI, a phone, and an answer for the comments",
			rec: chattonic.Record{
				ID: "5d7bfc1298317f98fa111f99", Funnel: "sacarTarjeta", Group: "Sacar Tarjeta", Last: "INGRESO",
				User: chattonic.User{MessageUser: "5d7aa7b9a2b64670f6653afe", Platform: "messenger", FirstName: "Juan", LastName: "Perez",
					ExtraData: []chattonic.ExtraData{{Name: "DNI", Value: "12345678"}, {Name: "Celular", Value: "1412345678"}, {Name: "Ingreso", Value: "1000"}}},
				CreatedAt: e.clock.Now().Add(-2 * time.Hour),
			},
			want: `{"provider":"chat-tonic","providerLeadId":"5d7bfc1298317f98fa111f99","utmSource":"chat-tonic",
				"utmMedium":"messenger","utmCampaign":"Sacar Tarjeta","firstName":"Juan","lastName":"Perez",
				"phones":["1412345678"],"nin":[{"type":"DNI","number":"12345678"}],
				"comments":"Funnel group: Sacar Tarjeta\nStage reached: INGRESO\nIngreso: 1000"}`,
		},
		{
			name: "emails whatever their name, phones named like one, each once",
			rec: chattonic.Record{
				ID: "00000000000000000000a002", Funnel: "contacto", Group: "Contacto Web", Last: "CELULAR",
				User: chattonic.User{Platform: "whatsapp", FirstName: "María", LastName: "Gómez", ExtraData: []chattonic.ExtraData{
					{Name: "Nombre", Value: "María Gómez"}, {Name: "EMAIL", Value: "Maria.Gomez@Example.com"},
					{Name: "Teléfono", Value: "+54 9 11 4552-0371"}, {Name: "WhatsApp", Value: "54 9 11 4552 0371"},
					{Name: "Otro dato", Value: "mg@example.org"}, {Name: "Móvil", Value: "(011) 4552.0372"},
					{Name: "E-mail", Value: "maria.gomez@example.com"},
				}},
			},
			want: `{"provider":"chat-tonic","providerLeadId":"00000000000000000000a002","utmSource":"chat-tonic",
				"utmMedium":"whatsapp","utmCampaign":"Contacto Web","firstName":"María","lastName":"Gómez",
				"phones":["+54 9 11 4552-0371","(011) 4552.0372"],"emails":["maria.gomez@example.com","mg@example.org"],
				"comments":"Funnel group: Contacto Web\nStage reached: CELULAR\nNombre: María Gómez"}`,
			wantEmail: "maria.gomez@example.com",
		},
		{
			name: "identity numbers by their names",
			rec: chattonic.Record{
				ID: "00000000000000000000a003", Funnel: "sacarTarjeta", Group: "Sacar Tarjeta", Last: "FIN",
				User: chattonic.User{Platform: "webchat", FirstName: "Ana", LastName: "Souza", ExtraData: []chattonic.ExtraData{
					{Name: "CPF", Value: "123.456.789-09"}, {Name: "Número de CUIT", Value: "20-12345678-9"},
					{Name: "cuil", Value: "27-98765432-1"}, {Name: "Cédula de identidad", Value: "1.234.567-8"},
					{Name: "RUT", Value: "12.345.678-5"}, {Name: "Ciudad", Value: "Córdoba"}, {Name: "Celular", Value: "1122334455"},
				}},
			},
			want: `{"provider":"chat-tonic","providerLeadId":"00000000000000000000a003","utmSource":"chat-tonic",
				"utmMedium":"webchat","utmCampaign":"Sacar Tarjeta","firstName":"Ana","lastName":"Souza",
				"phones":["1122334455"],"nin":[{"type":"CPF","number":"123.456.789-09"},{"type":"CUIT","number":"20-12345678-9"},
				{"type":"CUIL","number":"27-98765432-1"},{"type":"CI","number":"1.234.567-8"},{"type":"RUT","number":"12.345.678-5"}],
				"comments":"Funnel group: Sacar Tarjeta\nStage reached: FIN\nCiudad: Córdoba"}`,
		},
		{
			name: "answers that are not contact data stay in the comments, unanswered ones are left out",
			rec: chattonic.Record{
				ID: "00000000000000000000a004", Funnel: "contacto", Group: "Contacto Web", Last: "EMAIL",
				User: chattonic.User{Platform: "messenger", FirstName: "Pedro", ExtraData: []chattonic.ExtraData{
					{Name: "Celular", Value: "no tengo"}, {Name: "Mail", Value: "pedro@example.com"},
					{Name: "", Value: "sin pregunta"}, {Name: "Ingreso", Value: ""}, {Name: "DNI", Value: "no sé"},
				}},
			},
			want: `{"provider":"chat-tonic","providerLeadId":"00000000000000000000a004","utmSource":"chat-tonic",
				"utmMedium":"messenger","utmCampaign":"Contacto Web","firstName":"Pedro","emails":["pedro@example.com"],
				"comments":"Funnel group: Contacto Web\nStage reached: EMAIL\nCelular: no tengo\n?: sin pregunta\nDNI: no sé"}`,
			wantEmail: "pedro@example.com",
		},
		{
			name: "a record without platform or names, at its first stage",
			rec: chattonic.Record{
				ID: "00000000000000000000a005", Funnel: "contacto", Group: "Contacto Web",
				User: chattonic.User{ExtraData: []chattonic.ExtraData{{Name: "Telefone", Value: "+55 11 99999-0001"}}},
			},
			want: `{"provider":"chat-tonic","providerLeadId":"00000000000000000000a005","utmSource":"chat-tonic",
				"utmCampaign":"Contacto Web","phones":["+55 11 99999-0001"],
				"comments":"Funnel group: Contacto Web\nStage reached: INICIO"}`,
		},
	}
	recs := make([]chattonic.Record, len(tests))
	for i, tt := range tests {
		recs[i] = e.addRecord(tt.rec)
	}
	e.start(e.importer())
	e.poller("process-1").Pass(t.Context())
	e.checkImportedOnce(recs)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want map[string]any
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatalf("the test's want: %v", err)
			}
			if diff := cmp.Diff(want, e.retailPostOf(tt.rec.ID)); diff != "" {
				t.Errorf("POST /lead/retail body (-want +got):\n%s", diff)
			}
		})
	}

	// Sales notified the App of each prospect; those with an email became a 7Targets lead,
	// with the import's utmSource as the source.
	var wantLeads []string
	for _, tt := range tests {
		if tt.wantEmail != "" {
			wantLeads = append(wantLeads, tt.wantEmail)
		}
	}
	waitLong(t, "the imported prospects to reach 7Targets", func() bool { return len(e.posts()) >= len(wantLeads) })
	e.drained()
	var gotLeads []string
	for _, p := range e.posts() {
		email, _ := p["email"].(string)
		gotLeads = append(gotLeads, email)
		if p["source"] != chattonic.Provider {
			t.Errorf("7Targets lead %s has source %v, want %q", email, p["source"], chattonic.Provider)
		}
	}
	slices.Sort(wantLeads)
	slices.Sort(gotLeads)
	if diff := cmp.Diff(wantLeads, gotLeads); diff != "" {
		t.Errorf("7Targets leads, by email (-want +got):\n%s", diff)
	}
}

// TestChatTonicCompletedOnly has a record complete its funnel group between polls, and checks
// that with chatTonicCompletedOnly it is imported only once it completed, as it then is, while
// without the setting every record is imported at once; and that a record completing after it
// left the 24 hours of records read again is not imported.
func TestChatTonicCompletedOnly(t *testing.T) {
	t.Parallel()
	for _, completedOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("completedOnly=%t", completedOnly), func(t *testing.T) {
			t.Parallel()
			e := newChatTonicEnv(t, func(s *zen7.Settings) { s.ChatTonicCompletedOnly = completedOnly })
			e.addFunnel("ventas", ctStages, "Web")
			done := e.leadRecord("ventas", "Web", "FIN")
			later := e.leadRecord("ventas", "Web", "DNI")
			p := e.poller("process-1")
			e.start(e.importer())

			p.Pass(t.Context())
			if completedOnly {
				e.checkQueued([]chattonic.Record{done}, []chattonic.Record{later})
			} else {
				e.checkQueued([]chattonic.Record{done, later}, nil)
			}

			// The user answers one more question: not yet at the end.
			e.clock.Advance(ctInterval)
			if _, ok := e.ct.Advance(ctCodename, later.ID, chattonic.ExtraData{Name: "Celular", Value: "+54 9 11 5555-0001"}); !ok {
				t.Fatal("Advance to CELULAR refused")
			}
			p.Pass(t.Context())
			if completedOnly {
				e.checkQueued(nil, []chattonic.Record{later})
			}
			// And then the last: the record completed.
			e.clock.Advance(ctInterval)
			if _, ok := e.ct.Advance(ctCodename, later.ID); !ok {
				t.Fatal("Advance to FIN refused")
			}
			p.Pass(t.Context())
			e.checkQueued([]chattonic.Record{done, later}, nil)
			e.checkImportedOnce([]chattonic.Record{done, later})
			wantStage := "Stage reached: DNI"
			if completedOnly {
				wantStage = "Stage reached: FIN"
			}
			if c, _ := e.retailPostOf(later.ID)["comments"].(string); !strings.Contains(c, wantStage) {
				t.Errorf("the later record was imported with comments %q, want %q", c, wantStage)
			}
			if !completedOnly {
				return
			}

			// A record that completes only after it left the records read again is not read.
			stale := e.leadRecord("ventas", "Web", "CELULAR")
			e.clock.Advance(24*time.Hour + ctInterval)
			p.Pass(t.Context())
			if _, ok := e.ct.Advance(ctCodename, stale.ID); !ok {
				t.Fatal("Advance to FIN refused")
			}
			e.clock.Advance(ctInterval)
			p.Pass(t.Context())
			e.checkQueued(nil, []chattonic.Record{stale})
			reads := e.recordReads()
			if last := reads[len(reads)-1]["startDate"]; last != e.clock.Now().Add(-24*time.Hour).Format("2006-01-02T15:04:05.000Z07:00") {
				t.Errorf("the last read started at %s, want 24 hours before now (%v)", last, e.clock.Now())
			}
		})
	}
}

// TestChatTonicSkipsRecordsWithoutContact imports records that leave neither a phone nor an
// email, and checks that each is recorded as skipped, reason "no contact data", without a call
// to Sales, while one with a phone is imported.
func TestChatTonicSkipsRecordsWithoutContact(t *testing.T) {
	t.Parallel()
	e := newChatTonicEnv(t, nil)
	e.addFunnel("ventas", ctStages, "Web")
	tests := []struct {
		name  string
		extra []chattonic.ExtraData
	}{
		{name: "an identity number and an income", extra: []chattonic.ExtraData{{Name: "DNI", Value: "12345678"}, {Name: "Ingreso", Value: "1000"}}},
		{name: "a phone question answered in words", extra: []chattonic.ExtraData{{Name: "Celular", Value: "no tengo"}}},
		{name: "an address that is not one", extra: []chattonic.ExtraData{{Name: "Email", Value: "juan(at)example.com"}}},
		{name: "no answers at all"},
	}
	recs := make([]chattonic.Record, len(tests))
	for i, tt := range tests {
		recs[i] = e.addRecord(chattonic.Record{Funnel: "ventas", Group: "Web", Last: "FIN",
			User: chattonic.User{Platform: "webchat", FirstName: "Sin", LastName: "Contacto", ExtraData: tt.extra}})
	}
	withPhone := e.leadRecord("ventas", "Web", "FIN")
	e.start(e.importer())
	e.poller("process-1").Pass(t.Context())

	got := e.finishedAll(recs)
	for i, tt := range tests {
		d := got[i]
		if d.State != zen7.StateSkipped || d.Reason != zen7.Because(zen7.ReasonNoContact) || d.Reason.String() != "no contact data" || d.Attempts != 0 {
			t.Errorf("%s: delivery %s %s %q after %d attempts, want skipped: no contact data", tt.name, d.State, d.Outcome, d.Reason, d.Attempts)
		}
	}
	e.checkImportedOnce([]chattonic.Record{withPhone})
}

// TestChatTonicImportWhenSalesFails has Sales fail the import of a record, and checks that
// 5xx are retried until Sales takes the lead, while a refusal fails the delivery with Sales'
// answer as its reason, and is not imported again by the next poll.
func TestChatTonicImportWhenSalesFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		failures     int
		status       int
		wantState    zen7.DeliveryState
		wantOutcome  zen7.Outcome
		wantReason   zen7.Reason
		wantAttempts int
	}{
		{name: "unavailable twice", failures: 2, status: http.StatusServiceUnavailable,
			wantState: zen7.StateDone, wantOutcome: zen7.OutcomeImported, wantAttempts: 3},
		{name: "refused", failures: 1, status: http.StatusBadRequest,
			wantState: zen7.StateFailed, wantOutcome: zen7.OutcomeNone, wantAttempts: 1,
			wantReason: zen7.Reason{Code: zen7.ReasonImportRefused, Status: http.StatusBadRequest, Detail: "injected failure (salesfake.FailNext)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newChatTonicEnv(t, nil)
			e.addFunnel("ventas", ctStages, "Web")
			rec := e.leadRecord("ventas", "Web", "FIN")
			p := e.poller("process-1")
			e.sales.FailNext(tt.failures, tt.status)
			e.start(e.importer())
			p.Pass(t.Context())

			d := e.finishedAll([]chattonic.Record{rec})[0]
			if d.State != tt.wantState || d.Outcome != tt.wantOutcome || d.Reason != tt.wantReason || d.Attempts != tt.wantAttempts {
				t.Errorf("delivery %s %s %+v after %d attempts, want %s %s %+v after %d",
					d.State, d.Outcome, d.Reason, d.Attempts, tt.wantState, tt.wantOutcome, tt.wantReason, tt.wantAttempts)
			}
			if n := len(e.retailPosts()); n != tt.wantAttempts {
				t.Errorf("%d POST /lead/retail, want one an attempt, %d", n, tt.wantAttempts)
			}

			// The next poll reads the record again and leaves it as it ended.
			e.clock.Advance(ctInterval)
			p.Pass(t.Context())
			if got, err := e.outbox.Delivery(t.Context(), d.ID); err != nil || got.State != tt.wantState {
				t.Errorf("after the next poll the delivery is %s (%v), want still %s", got.State, err, tt.wantState)
			}
		})
	}
}

// crashingSources is the Chat-Tonic store of a process that dies once it has queued what it
// read: none of its saves of the source land.
type crashingSources struct{ forwarding.ChatTonicStore }

func (crashingSources) SaveChatTonicSource(context.Context, zen7.ChatTonicSource) error {
	return errors.New("the process died")
}

// TestChatTonicImportsOnceAfterCrash has a process die after queuing a read's records and
// before saving its watermark, and another take the source over once the dead one's lease
// passed: it reads the records again and queues none twice, and each is imported once.
func TestChatTonicImportsOnceAfterCrash(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newChatTonicEnv(t, nil)
	e.addFunnel("ventas", ctStages, "Web")
	recs := e.leadRecords(30, "ventas", "Web", "FIN")
	t0 := e.clock.Now()

	// Process 1 reads and queues, then dies: it never imports nor saves.
	e.pollerWith("process-1", forwarding.ChatTonicConfig{}, crashingSources{e.sources}, e.reader()).Pass(ctx)
	e.checkQueued(recs, nil)
	src := e.source()
	if src.Owner != "process-1" || !src.LeaseUntil.After(t0) || !src.LastGoodRead.IsZero() {
		t.Fatalf("after the crash the source is %+v, want process-1's lease held and no read recorded", src)
	}

	second := e.poller("process-2")
	reads := e.funnelReads()
	second.Pass(ctx)
	if n := e.funnelReads() - reads; n != 0 {
		t.Errorf("process 2 read Chat-Tonic %d times while the dead process's lease held, want 0", n)
	}
	e.clock.Advance(2 * time.Minute) // the default lease
	second.Pass(ctx)
	src = e.source()
	if src.Owner != "process-2" || src.Lease != 2 || !src.LastGoodRead.Equal(e.clock.Now()) {
		t.Errorf("after the take-over the source is %+v, want lease 2 of process-2 with a good read now", src)
	}
	if depth, _, err := e.outbox.Stats(ctx); err != nil || depth != len(recs) {
		t.Errorf("outbox holds %d deliveries (%v) after the second read, want the %d of the first", depth, err, len(recs))
	}
	e.start(e.importer())
	e.checkImportedOnce(recs)
}

// afterPages is the Chat-Tonic client of a process to which then(n) happens once it has queued
// the nth page of records of a read, before it asks for the next: it is stopped, or it stalls,
// or Chat-Tonic is slow to answer.
type afterPages struct {
	forwarding.ChatTonicReader
	then func(page int)
}

func (a afterPages) RecordPages(ctx context.Context, codename, token string, q chattonic.RecordQuery, fn func(chattonic.RecordPage) error) error {
	n := 0
	return a.ChatTonicReader.RecordPages(ctx, codename, token, q, func(p chattonic.RecordPage) error {
		n++
		defer a.then(n)
		return fn(p)
	})
}

// TestChatTonicResumesAfterStopBetweenPages stops a process between two pages of a read: what
// it queued stays queued, it hands the source back, and another process reads it at once from
// the saved watermark, queuing the rest; each record is imported once.
func TestChatTonicResumesAfterStopBetweenPages(t *testing.T) {
	t.Parallel()
	e := newChatTonicEnv(t, nil)
	e.addFunnel("ventas", ctStages, "Web")
	recs := e.leadRecords(120, "ventas", "Web", "FIN")
	t0 := e.clock.Now()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	e.pollerWith("process-1", forwarding.ChatTonicConfig{}, e.sources, afterPages{e.reader(), func(int) { cancel() }}).Pass(ctx)
	e.checkQueued(recs[:100], recs[100:])
	src := e.source()
	if src.Owner != "process-1" || !src.LeaseUntil.Equal(t0) || !src.NextPollAt.IsZero() || !src.LastGoodRead.IsZero() {
		t.Errorf("after the stop the source is %+v, want process-1's lease lifted, still due, no read recorded", src)
	}
	if n := src.ReadByDay[t0.Format(time.DateOnly)]; n != 100 {
		t.Errorf("records counted read today: %d, want the 100 queued", n)
	}

	before := len(e.recordReads())
	e.poller("process-2").Pass(t.Context())
	resumed := e.recordReads()[before:]
	if len(resumed) != 2 || resumed[0]["skip"] != "0" || resumed[0]["startDate"] != e.recordReads()[0]["startDate"] {
		t.Errorf("process 2 read %v, want both pages again from the first read's startDate", resumed)
	}
	src = e.source()
	if src.Owner != "process-2" || !src.LastGoodRead.Equal(t0) || !src.NextPollAt.Equal(t0.Add(ctInterval)) {
		t.Errorf("after the second read the source is %+v, want process-2's good read, next one in an interval", src)
	}
	e.checkQueued(recs, nil)
	e.start(e.importer())
	e.checkImportedOnce(recs)
}

// forgetfulSources is a Chat-Tonic store whose KnownDeliveries knows none: only the outbox's
// delivery ids and the worker's look at the history keep a record read again from being
// imported again.
type forgetfulSources struct{ forwarding.ChatTonicStore }

func (forgetfulSources) KnownDeliveries(context.Context, []string) (map[string]bool, error) {
	return map[string]bool{}, nil
}

// TestChatTonicReadAgainAfterImport has a restarted process queue again records a process
// before it imported (KnownDeliveries failing to spare them), and checks that the worker drops
// the copies: each record is imported once.
func TestChatTonicReadAgainAfterImport(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newChatTonicEnv(t, nil)
	e.addFunnel("ventas", ctStages, "Web")
	recs := e.leadRecords(20, "ventas", "Web", "FIN")

	stop := e.start(e.importer())
	e.poller("process-1").Pass(ctx)
	e.checkImportedOnce(recs)
	stop()

	e.clock.Advance(ctInterval)
	e.pollerWith("process-2", forwarding.ChatTonicConfig{}, forgetfulSources{e.sources}, e.reader()).Pass(ctx)
	for _, r := range recs {
		if d, err := e.outbox.Delivery(ctx, e.deliveryOf(r.ID)); err != nil || d.State != zen7.StatePending {
			t.Fatalf("record %s read again: delivery %s, %v; want queued again, for the worker to drop", r.ID, d.State, err)
		}
	}
	e.start(e.importer())
	e.checkImportedOnce(recs)
}

// TestChatTonicLostLeaseIsNoChatTonicFailure stalls a process between two pages past its lease,
// while another takes the source over and reads it whole. The stalled one then finds its lease
// lost: it stops, and neither the source, the logs nor the metrics say Chat-Tonic failed; each
// record is imported once.
func TestChatTonicLostLeaseIsNoChatTonicFailure(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newChatTonicEnv(t, nil)
	e.addFunnel("ventas", ctStages, "Web")
	recs := e.leadRecords(120, "ventas", "Web", "FIN")
	second := e.poller("process-2")
	stall := func(page int) {
		if page == 1 {
			e.clock.Advance(3 * time.Minute) // past the default lease of 2
			second.Pass(ctx)
		}
	}
	e.pollerWith("process-1", forwarding.ChatTonicConfig{}, e.sources, afterPages{e.reader(), stall}).Pass(ctx)

	src := e.source()
	now := e.clock.Now()
	if src.Owner != "process-2" || src.Lease != 2 || !src.LastGoodRead.Equal(now) || !src.NextPollAt.Equal(now.Add(ctInterval)) {
		t.Errorf("the source is %+v, want process-2's good read of now, the next in an interval", src)
	}
	if src.LastError != "" || src.Failing || src.Failures != 0 {
		t.Errorf("the source shows failing %t, %d failures, last error %q; want no failure: Chat-Tonic answered every read", src.Failing, src.Failures, src.LastError)
	}
	if logs := e.logs.String(); strings.Contains(logs, "Chat-Tonic refused") || strings.Contains(logs, "reading Chat-Tonic failed") {
		t.Errorf("the lost lease was logged as Chat-Tonic's failure:\n%s", logs)
	}
	if got := e.failures(); len(got) != 0 {
		t.Errorf("failed reads of Chat-Tonic counted: %v, want none", got)
	}
	e.start(e.importer())
	e.checkImportedOnce(recs)
}

// TestChatTonicRenewsLeaseDuringLongRead has Chat-Tonic answer each page of a read of four more
// than a minute after the one before, past the lease of two minutes in all, while another
// process tries to take the source after every page: the reader renews its lease as it goes,
// so the other never reads, and the read ends as one.
func TestChatTonicRenewsLeaseDuringLongRead(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newChatTonicEnv(t, nil)
	e.addFunnel("ventas", ctStages, "Web")
	recs := e.leadRecords(350, "ventas", "Web", "FIN")
	t0 := e.clock.Now()
	second := e.poller("process-2")
	slow := func(int) {
		e.clock.Advance(70 * time.Second)
		second.Pass(ctx)
	}
	e.pollerWith("process-1", forwarding.ChatTonicConfig{}, e.sources, afterPages{e.reader(), slow}).Pass(ctx)

	if n := e.funnelReads(); n != 1 {
		t.Errorf("%d reads of the funnels, want 1: process 2 took the source during the read", n)
	}
	src := e.source()
	if src.Owner != "process-1" || src.Lease != 1 || !src.LastGoodRead.Equal(e.clock.Now()) || !src.Watermark.Equal(t0) {
		t.Errorf("after the read the source is %+v, want process-1's only lease, a good read now, the watermark at its start %v", src, t0)
	}
	e.checkQueued(recs, nil)
}

// storeDownOnce is a Chat-Tonic store whose first KnownDeliveries fails, as when the database is
// out of reach for a moment.
type storeDownOnce struct {
	forwarding.ChatTonicStore
	failed atomic.Bool
}

func (s *storeDownOnce) KnownDeliveries(ctx context.Context, ids []string) (map[string]bool, error) {
	if s.failed.CompareAndSwap(false, true) {
		return nil, errors.New("store.KnownDeliveries: server selection error: context deadline exceeded, current topology: { Type: Single, Servers: [{ Addr: 10.0.0.5:27017 }] }")
	}
	return s.ChatTonicStore.KnownDeliveries(ctx, ids)
}

// TestChatTonicStoreFailureIsNoChatTonicFailure has the App's own store fail while a read queues
// its records: the read is handed back for the next pass, which imports every record, and the
// source (shown to the customer), the logs and the metrics do not take the store's error for
// Chat-Tonic's.
func TestChatTonicStoreFailureIsNoChatTonicFailure(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newChatTonicEnv(t, nil)
	e.addFunnel("ventas", ctStages, "Web")
	recs := e.leadRecords(30, "ventas", "Web", "FIN")
	p := e.pollerWith("process-1", forwarding.ChatTonicConfig{}, &storeDownOnce{ChatTonicStore: e.sources}, e.reader())

	p.Pass(ctx)
	now := e.clock.Now()
	src := e.source()
	if src.LastError != "" || src.Failing || src.Failures != 0 || !src.LastGoodRead.IsZero() {
		t.Errorf("after the store failed the source shows failing %t, %d failures, last error %q, last good read %v; want no Chat-Tonic failure and no good read",
			src.Failing, src.Failures, src.LastError, src.LastGoodRead)
	}
	if src.LeaseUntil.After(now) || src.NextPollAt.After(now) {
		t.Errorf("after the store failed the source is leased until %v, next read at %v; want it handed back, due now (%v)", src.LeaseUntil, src.NextPollAt, now)
	}
	if logs := e.logs.String(); strings.Contains(logs, "Chat-Tonic refused") || strings.Contains(logs, "reading Chat-Tonic failed") {
		t.Errorf("the store's failure was logged as Chat-Tonic's:\n%s", logs)
	}
	if got := e.failures(); len(got) != 0 {
		t.Errorf("failed reads of Chat-Tonic counted: %v, want none", got)
	}

	p.Pass(ctx)
	e.checkQueued(recs, nil)
	if src := e.source(); !src.LastGoodRead.Equal(now) {
		t.Errorf("the pass after the store's failure: last good read %v, want now", src.LastGoodRead)
	}
	e.start(e.importer())
	e.checkImportedOnce(recs)
}

// TestChatTonicThreePollersImportEachOnce runs three processes, each with its poller and
// worker, on one store, through polls of records arriving: one process reads each poll, and
// each record becomes exactly one POST /lead/retail.
func TestChatTonicThreePollersImportEachOnce(t *testing.T) {
	t.Parallel()
	e := newChatTonicEnv(t, nil)
	e.addFunnel("ventas", ctStages, "Web", "Tienda")
	for i := range 3 {
		e.start(e.importer())
		e.start(e.pollerWith(fmt.Sprintf("process-%d", i+1), forwarding.ChatTonicConfig{Tick: 10 * time.Millisecond}, e.sources, e.reader()))
	}
	const polls = 3
	var recs []chattonic.Record
	for poll := range polls {
		recs = append(recs, e.leadRecords(5, "ventas", "Web", "FIN")...)
		recs = append(recs, e.leadRecords(5, "ventas", "Tienda", "FIN")...)
		if poll > 0 {
			e.clock.Advance(ctInterval)
		}
		waitLong(t, fmt.Sprintf("poll %d", poll+1), func() bool {
			src, err := e.sources.ChatTonicSource(context.Background(), e.inst.ID)
			return err == nil && src.LastGoodRead.Equal(e.clock.Now()) && !src.LeaseUntil.After(e.clock.Now())
		})
	}
	e.checkImportedOnce(recs)
	if n := e.funnelReads(); n != polls {
		t.Errorf("%d reads of the funnels, want %d: one process a poll", n, polls)
	}
	if n := len(e.recordReads()); n != 2*polls {
		t.Errorf("%d reads of records, want %d: each group once a poll", n, 2*polls)
	}
	if src := e.source(); src.Lease != polls {
		t.Errorf("the source was leased %d times, want %d", src.Lease, polls)
	}
}

// TestChatTonicRevokedToken has Chat-Tonic refuse the instance's token, and checks that the
// source is failing (Failing, LastError, a log line) while it is refused, read again each
// interval and not sooner, and that it recovers, importing what waited, once the token is
// fixed, either way it can be.
func TestChatTonicRevokedToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fix  func(e *chatTonicEnv)
	}{
		{name: "Chat-Tonic accepts the token again", fix: func(e *chatTonicEnv) {
			if err := e.ct.SetToken(ctCodename, ctToken); err != nil {
				e.tb.Fatal(err)
			}
		}},
		{name: "a new token saved in the settings", fix: func(e *chatTonicEnv) {
			if err := e.ct.SetToken(ctCodename, "ct-token-2"); err != nil {
				e.tb.Fatal(err)
			}
			inst := e.inst
			inst.Settings.ChatTonicToken = "ct-token-2"
			e.instances.put(inst)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newChatTonicEnv(t, nil)
			e.addFunnel("ventas", ctStages, "Web")
			rec := e.leadRecord("ventas", "Web", "FIN")
			if err := e.ct.SetToken(ctCodename, ""); err != nil {
				t.Fatal(err)
			}
			p := e.poller("process-1")
			e.start(e.importer())

			for i := range 2 {
				now := e.clock.Now()
				p.Pass(t.Context())
				src := e.source()
				if !src.Failing || !strings.Contains(src.LastError, "401") || !src.LastErrorAt.Equal(now) || !src.LastGoodRead.IsZero() {
					t.Errorf("read %d refused: failing %t, last error %q at %v, last good read %v; want failing with the 401 now, no good read",
						i+1, src.Failing, src.LastError, src.LastErrorAt, src.LastGoodRead)
				}
				if strings.Contains(src.LastError, ctToken) {
					t.Errorf("the last error %q shows the token", src.LastError)
				}
				if !src.NextPollAt.Equal(now.Add(ctInterval)) {
					t.Errorf("read %d refused: next read at %v, want an interval later, %v", i+1, src.NextPollAt, now.Add(ctInterval))
				}
				e.clock.Advance(ctInterval - time.Millisecond)
				reads := e.funnelReads()
				p.Pass(t.Context())
				if n := e.funnelReads() - reads; n != 0 {
					t.Errorf("read %d refused: %d reads before the interval passed, want none", i+1, n)
				}
				e.clock.Advance(time.Millisecond)
			}
			e.checkQueued(nil, []chattonic.Record{rec})
			if n := strings.Count(e.logs.String(), "the Chat-Tonic source is failing"); n != 1 {
				t.Errorf("the failing source was logged %d times, want once:\n%s", n, e.logs)
			}
			if diff := cmp.Diff(map[string]float64{"unauthorized": 2}, e.failures()); diff != "" {
				t.Errorf("failed reads counted, by kind (-want +got):\n%s", diff)
			}

			tt.fix(e)
			p.Pass(t.Context())
			src := e.source()
			if src.Failing || src.Failures != 0 || !src.LastGoodRead.Equal(e.clock.Now()) || !src.NextPollAt.Equal(e.clock.Now().Add(ctInterval)) {
				t.Errorf("after the fix the source is %+v, want not failing, a good read now, the next in an interval", src)
			}
			e.checkImportedOnce([]chattonic.Record{rec})
		})
	}
}

// flakyReader is a process's Chat-Tonic client that counts the reads it starts, and that,
// while unreachable is set, reaches for a Chat-Tonic no one listens for.
type flakyReader struct {
	good, dead  forwarding.ChatTonicReader
	unreachable atomic.Bool
	reads       atomic.Int64
}

func (f *flakyReader) current() forwarding.ChatTonicReader {
	if f.unreachable.Load() {
		return f.dead
	}
	return f.good
}

func (f *flakyReader) AllFunnels(ctx context.Context, codename, token string) ([]chattonic.Funnel, error) {
	f.reads.Add(1)
	return f.current().AllFunnels(ctx, codename, token)
}

func (f *flakyReader) RecordPages(ctx context.Context, codename, token string, q chattonic.RecordQuery, fn func(chattonic.RecordPage) error) error {
	return f.current().RecordPages(ctx, codename, token, q, fn)
}

// newFlakyReader returns a flakyReader of the environment's fake.
func (e *chatTonicEnv) newFlakyReader() *flakyReader {
	e.tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more: connections are refused
	dead, err := chattonic.New("http://"+addr, chattonic.WithTimeout(10*time.Second))
	if err != nil {
		e.tb.Fatal(err)
	}
	return &flakyReader{good: e.reader(), dead: dead}
}

// TestChatTonicHonoursRateLimit has Chat-Tonic answer 429, and checks that the next read is
// not before the Retry-After it gave (a backoff when it gave none), and that it then imports.
func TestChatTonicHonoursRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter time.Duration // 0: no Retry-After
		wantWait   time.Duration
	}{
		{name: "Retry-After within the interval", retryAfter: 30 * time.Second, wantWait: 30 * time.Second},
		{name: "Retry-After beyond the interval", retryAfter: 3 * time.Minute, wantWait: 3 * time.Minute},
		{name: "no Retry-After", wantWait: ctInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newChatTonicEnv(t, nil)
			e.addFunnel("ventas", ctStages, "Web")
			rec := e.leadRecord("ventas", "Web", "FIN")
			r := e.newFlakyReader()
			p := e.pollerWith("process-1", forwarding.ChatTonicConfig{}, e.sources, r)
			e.start(e.importer())
			e.ct.RateLimit(1, tt.retryAfter)

			t0 := e.clock.Now()
			p.Pass(t.Context())
			src := e.source()
			if src.Failing || src.Failures != 1 || !strings.Contains(src.LastError, "429") || !src.NextPollAt.Equal(t0.Add(tt.wantWait)) {
				t.Errorf("after the 429 the source is failing %t, %d failures, last error %q, next read at %v; want not failing, 1 failure, the 429, next at %v",
					src.Failing, src.Failures, src.LastError, src.NextPollAt, t0.Add(tt.wantWait))
			}
			e.checkQueued(nil, []chattonic.Record{rec})
			if diff := cmp.Diff(map[string]float64{"rate_limited": 1}, e.failures()); diff != "" {
				t.Errorf("failed reads counted, by kind (-want +got):\n%s", diff)
			}
			e.clock.Advance(tt.wantWait - time.Millisecond)
			p.Pass(t.Context())
			if n := r.reads.Load(); n != 1 {
				t.Errorf("%d reads before the wait passed, want only the rate-limited one", n)
			}
			e.clock.Advance(time.Millisecond)
			p.Pass(t.Context())
			if n := r.reads.Load(); n != 2 {
				t.Errorf("%d reads once the wait passed, want 2", n)
			}
			if src := e.source(); src.Failures != 0 || !src.LastGoodRead.Equal(e.clock.Now()) {
				t.Errorf("after the read the source has %d failures, last good read %v; want 0 and now", src.Failures, src.LastGoodRead)
			}
			e.checkImportedOnce([]chattonic.Record{rec})
		})
	}
}

// TestChatTonicBacksOffWhenUnavailable has Chat-Tonic fail reads with 5xx or not be reached,
// and checks that reads are put off ever longer, up to MaxBackoff, never read before, and
// that the first good read imports what waited and ends the backoff.
func TestChatTonicBacksOffWhenUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		fail, heal func(e *chatTonicEnv, r *flakyReader)
		wantError  string
	}{
		{
			name:      "500 answers",
			fail:      func(e *chatTonicEnv, _ *flakyReader) { e.ct.FailNext(1000, http.StatusInternalServerError) },
			heal:      func(e *chatTonicEnv, _ *flakyReader) { e.ct.FailNext(0, 0) },
			wantError: "500",
		},
		{
			name:      "an outage answering 503",
			fail:      func(e *chatTonicEnv, _ *flakyReader) { e.ct.SetDown(true) },
			heal:      func(e *chatTonicEnv, _ *flakyReader) { e.ct.SetDown(false) },
			wantError: "503",
		},
		{
			name:      "no one listening",
			fail:      func(_ *chatTonicEnv, r *flakyReader) { r.unreachable.Store(true) },
			heal:      func(_ *chatTonicEnv, r *flakyReader) { r.unreachable.Store(false) },
			wantError: "refused",
		},
	}
	// Doubling from the interval, capped at MaxBackoff.
	waits := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newChatTonicEnv(t, nil)
			e.addFunnel("ventas", ctStages, "Web")
			rec := e.leadRecord("ventas", "Web", "FIN")
			r := e.newFlakyReader()
			p := e.pollerWith("process-1", forwarding.ChatTonicConfig{MaxBackoff: 5 * time.Minute}, e.sources, r)
			e.start(e.importer())
			tt.fail(e, r)

			for i, want := range waits {
				now := e.clock.Now()
				p.Pass(t.Context())
				src := e.source()
				if src.Failing || src.Failures != i+1 || !strings.Contains(src.LastError, tt.wantError) || !src.NextPollAt.Equal(now.Add(want)) {
					t.Errorf("failure %d: failing %t, %d failures, last error %q, next read in %v; want not failing, %d failures, %q, next in %v",
						i+1, src.Failing, src.Failures, src.LastError, src.NextPollAt.Sub(now), i+1, tt.wantError, want)
				}
				e.clock.Advance(want - time.Millisecond)
				p.Pass(t.Context())
				if n := r.reads.Load(); n != int64(i+1) {
					t.Errorf("failure %d: %d reads before its backoff passed, want %d", i+1, n, i+1)
				}
				e.clock.Advance(time.Millisecond)
			}
			e.checkQueued(nil, []chattonic.Record{rec})
			if !strings.Contains(e.logs.String(), "reading Chat-Tonic failed; will retry") {
				t.Errorf("no warning of the failed reads in the logs:\n%s", e.logs)
			}
			if diff := cmp.Diff(map[string]float64{"unavailable": float64(len(waits))}, e.failures()); diff != "" {
				t.Errorf("failed reads counted, by kind (-want +got):\n%s", diff)
			}

			tt.heal(e, r)
			p.Pass(t.Context())
			src := e.source()
			if src.Failures != 0 || !src.LastGoodRead.Equal(e.clock.Now()) || !src.NextPollAt.Equal(e.clock.Now().Add(ctInterval)) {
				t.Errorf("after Chat-Tonic is back the source is %+v, want no failures, a good read now, the next in an interval", src)
			}
			e.checkImportedOnce([]chattonic.Record{rec})
		})
	}
}

// askedSources counts the record deliveries a poller looks up before queuing.
type askedSources struct {
	forwarding.ChatTonicStore
	asked *atomic.Int64
}

func (a askedSources) KnownDeliveries(ctx context.Context, ids []string) (map[string]bool, error) {
	a.asked.Add(int64(len(ids)))
	return a.ChatTonicStore.KnownDeliveries(ctx, ids)
}

// TestChatTonicLooksOnlyAtChangedRecords checks that the records read again for a day cost
// nothing once a complete read looked at them unchanged, and that settings widening what is
// imported (another funnel group, more backfill days) look at every record they now cover.
func TestChatTonicLooksOnlyAtChangedRecords(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newChatTonicEnv(t, func(s *zen7.Settings) { s.ChatTonicFunnels = "ventas/Web" })
	e.addFunnel("ventas", ctStages, "Web", "Tienda")
	old := e.addRecord(chattonic.Record{Funnel: "ventas", Group: "Web", Last: "FIN", CreatedAt: e.clock.Now().Add(-72 * time.Hour),
		User: chattonic.User{FirstName: "Old", ExtraData: []chattonic.ExtraData{{Name: "Celular", Value: "+54 9 11 4000-0001"}}}})
	web := e.leadRecords(3, "ventas", "Web", "FIN")
	shop := e.leadRecord("ventas", "Tienda", "FIN")
	var asked atomic.Int64
	p := e.pollerWith("process-1", forwarding.ChatTonicConfig{}, askedSources{e.sources, &asked}, e.reader())
	e.start(e.importer())

	p.Pass(ctx)
	e.checkQueued(web, []chattonic.Record{shop, old})
	if n := asked.Load(); n != 3 {
		t.Errorf("the first read looked up %d records, want the 3 of the group", n)
	}

	// Later polls, the records unchanged: read again (they are recent), looked at again only
	// while they are within the clocks' margin of the read that looked at them.
	e.clock.Advance(10 * time.Minute)
	p.Pass(ctx)
	if n := asked.Load(); n != 6 {
		t.Errorf("the second read looked up %d records in all, want the 3 again (made at the first read's start)", n)
	}
	e.clock.Advance(ctInterval)
	fresh := e.leadRecord("ventas", "Web", "FIN")
	p.Pass(ctx)
	if n := asked.Load(); n != 7 {
		t.Errorf("the third read brought the records looked up to %d, want only the new one more (7)", n)
	}
	e.checkQueued([]chattonic.Record{fresh}, []chattonic.Record{shop, old})

	// Every group of the funnel: the other group's record, made before, is imported.
	e.inst.Settings.ChatTonicFunnels = "ventas"
	e.instances.put(e.inst)
	e.clock.Advance(ctInterval)
	p.Pass(ctx)
	e.checkQueued([]chattonic.Record{shop}, []chattonic.Record{old})

	// Five backfill days: the record of three days before the source was configured too.
	e.inst.Settings.ChatTonicBackfillDays = 5
	e.instances.put(e.inst)
	e.clock.Advance(ctInterval)
	p.Pass(ctx)
	e.checkQueued([]chattonic.Record{old}, nil)
	e.checkImportedOnce(append([]chattonic.Record{old, shop, fresh}, web...))
	if src := e.source(); !strings.Contains(src.ReadKey, "days=5") {
		t.Errorf("the source's read key is %q, want the last read's", src.ReadKey)
	}
}
