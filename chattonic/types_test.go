package chattonic_test

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/7targets/zenvia-sales-app/chattonic"
)

func readFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

var stages = []string{"INICIO", "DNI", "CELULAR", "INGRESO", "FIN"}

// referenceRecord is the first record of the reference's example answer.
var referenceRecord = chattonic.Record{
	ID: "5d7bfc1298317f98fa111f99", App: "57add9d952a84d940c9194a6", Account: "5970d180adf62b28c8630566",
	Funnel: "sacarTarjeta", Group: "Sacar Tarjeta", Last: "INGRESO",
	User: chattonic.User{
		MessageUser: "5d7aa7b9a2b64670f6653afe", Platform: "messenger", FirstName: "Juan", LastName: "Perez",
		ExtraData: []chattonic.ExtraData{{Name: "DNI", Value: "12345678"}, {Name: "Celular", Value: "1412345678"}, {Name: "Ingreso", Value: "1000"}},
	},
	CreatedAt: time.Date(2019, 9, 13, 20, 29, 6, 684e6, time.UTC),
	UpdatedAt: time.Date(2019, 9, 13, 20, 31, 5, 57e6, time.UTC),
}

func TestDecodeRecordsReference(t *testing.T) {
	t.Parallel()
	got, err := chattonic.DecodeRecords(readFile(t, "testdata/reference_records.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := chattonic.RecordPage{Skip: 0, Limit: 10, Records: []chattonic.Record{
		referenceRecord,
		// The reference's second record has no user and no interaction.
		{ID: "5d7bfaff98317f98fa111f3c", App: "57add9d952a84d940c9194a6", Account: "5970d180adf62b28c8630566"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeRecords (-want +got):\n%s", diff)
	}
}

func TestDecodeFunnelsReference(t *testing.T) {
	t.Parallel()
	got, err := chattonic.DecodeFunnels(readFile(t, "testdata/reference_funnels.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := chattonic.FunnelPage{Skip: 0, Limit: 10, Funnels: []chattonic.Funnel{{
		ID: "sacarTarjeta", Interactions: stages,
		Groups: []chattonic.FunnelGroup{{
			ID: "5d7a6b9266f1bf664e3f6a7b", FunnelID: "sacarTarjeta", Name: "Sacar Tarjeta",
			Interactions: stages, DoubleCounting: true, NewAt: 24,
		}},
	}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeFunnels (-want +got):\n%s", diff)
	}
}

func TestDecodeTolerance(t *testing.T) {
	t.Parallel()
	t.Run("records", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name string
			body string
			want chattonic.RecordPage
		}{
			{name: "skip and limit as strings", body: `{"skip":"100","limit":"100","objects":[]}`,
				want: chattonic.RecordPage{Skip: 100, Limit: 100, Records: []chattonic.Record{}}},
			{name: "skip and limit absent, objects null", body: `{"objects":null}`,
				want: chattonic.RecordPage{Records: []chattonic.Record{}}},
			{name: "negative and garbage paging", body: `{"skip":-1,"limit":"ten","objects":[]}`,
				want: chattonic.RecordPage{Records: []chattonic.Record{}}},
			{name: "user without extraData", body: `{"objects":[{"_id":"a","user":{"firstName":"Ana"}}]}`,
				want: chattonic.RecordPage{Records: []chattonic.Record{{ID: "a", User: chattonic.User{FirstName: "Ana"}}}}},
			{name: "user null", body: `{"objects":[{"_id":"a","user":null}]}`,
				want: chattonic.RecordPage{Records: []chattonic.Record{{ID: "a"}}}},
			{name: "extraData of odd types", body: `{"objects":[{"_id":"a","user":{"extraData":[
				{"name":"DNI","cxt":12345678},{"name":"Acepta","cxt":true},{"name":"Nada","cxt":null},
				{"name":"Obj","cxt":{"x":1}},{"cxt":"sin nombre"},"not an object",{"name":"Otro","cxt":"x","extra":1}]}}]}`,
				want: chattonic.RecordPage{Records: []chattonic.Record{{ID: "a", User: chattonic.User{ExtraData: []chattonic.ExtraData{
					{Name: "DNI", Value: "12345678"}, {Name: "Acepta", Value: "true"}, {Name: "Nada"}, {Name: "Obj"},
					{Value: "sin nombre"}, {Name: "Otro", Value: "x"},
				}}}}}},
			{name: "extraData not an array", body: `{"objects":[{"_id":"a","user":{"extraData":{"name":"x"},"lastName":"B"}}]}`,
				want: chattonic.RecordPage{Records: []chattonic.Record{{ID: "a", User: chattonic.User{LastName: "B"}}}}},
			{name: "user and interaction not objects", body: `{"objects":[{"_id":"a","user":"Ana","interaction":["f"]}]}`,
				want: chattonic.RecordPage{Records: []chattonic.Record{{ID: "a"}}}},
			{name: "element not an object keeps its place", body: `{"objects":[1,{"_id":"b"}]}`,
				want: chattonic.RecordPage{Records: []chattonic.Record{{}, {ID: "b"}}}},
			{name: "dates as millis, bad and offset", body: `{"objects":[{"_id":"a","createdAt":1568406546684,"updatedAt":"yesterday"},
				{"_id":"b","createdAt":"2019-09-13T17:29:06.684-03:00"}]}`,
				want: chattonic.RecordPage{Records: []chattonic.Record{
					{ID: "a", CreatedAt: time.UnixMilli(1568406546684).UTC()},
					{ID: "b", CreatedAt: time.Date(2019, 9, 13, 20, 29, 6, 684e6, time.UTC)},
				}}},
			{name: "id as number", body: `{"objects":[{"_id":42,"interaction":{"funnel":"f","group":"g","last":"FIN"}}]}`,
				want: chattonic.RecordPage{Records: []chattonic.Record{{ID: "42", Funnel: "f", Group: "g", Last: "FIN"}}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				got, err := chattonic.DecodeRecords([]byte(tt.body))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("DecodeRecords (-want +got):\n%s", diff)
				}
			})
		}
	})
	t.Run("funnels", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name string
			body string
			want []chattonic.Funnel
		}{
			{name: "without groups", body: `{"funnels":{"b":{"interactions":["X","Y"]},"a":{}}}`,
				want: []chattonic.Funnel{{ID: "a"}, {ID: "b", Interactions: []string{"X", "Y"}}}},
			{name: "group without interactions takes the funnel's, without funnelId the key", body: `{"funnels":{"f":{"interactions":["A","B"],"groups":[{"name":"G"}]}}}`,
				want: []chattonic.Funnel{{ID: "f", Interactions: []string{"A", "B"}, Groups: []chattonic.FunnelGroup{{FunnelID: "f", Name: "G", Interactions: []string{"A", "B"}}}}}},
			{name: "group without a name is dropped", body: `{"funnels":{"f":{"groups":[{"_id":"x"},{"name":" G "},7]}}}`,
				want: []chattonic.Funnel{{ID: "f", Groups: []chattonic.FunnelGroup{{FunnelID: "f", Name: "G"}}}}},
			{name: "funnels as an array", body: `{"funnels":[{"id":"f","interactions":["A"]},{"name":"g"},{"interactions":["no id"]}]}`,
				want: []chattonic.Funnel{{ID: "f", Interactions: []string{"A"}}, {ID: "g"}}},
			{name: "funnels null", body: `{"funnels":null}`},
			{name: "funnel that is not an object", body: `{"funnels":{"f":"x","g":{}}}`, want: []chattonic.Funnel{{ID: "g"}}},
			{name: "odd group fields", body: `{"funnels":{"f":{"groups":[{"name":"G","doubleCounting":"true","newAt":"24","interactions":"A"}]}}}`,
				want: []chattonic.Funnel{{ID: "f", Groups: []chattonic.FunnelGroup{{FunnelID: "f", Name: "G", DoubleCounting: true, NewAt: 24}}}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				got, err := chattonic.DecodeFunnels([]byte(tt.body))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got.Funnels); diff != "" {
					t.Errorf("DecodeFunnels (-want +got):\n%s", diff)
				}
			})
		}
	})
	t.Run("not an object", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{``, `[]`, `"x"`, `{"objects":{}}`, `{`} {
			if _, err := chattonic.DecodeRecords([]byte(body)); err == nil {
				t.Errorf("DecodeRecords(%q): no error", body)
			}
		}
		for _, body := range []string{``, `[]`, `{`} {
			if _, err := chattonic.DecodeFunnels([]byte(body)); err == nil {
				t.Errorf("DecodeFunnels(%q): no error", body)
			}
		}
	})
}

func TestCompleted(t *testing.T) {
	t.Parallel()
	g := chattonic.FunnelGroup{Name: "G", Interactions: stages}
	tests := []struct {
		name  string
		group chattonic.FunnelGroup
		last  string
		want  bool
	}{
		{name: "at the last interaction", group: g, last: "FIN", want: true},
		{name: "case and space ignored", group: g, last: " fin ", want: true},
		{name: "midway", group: g, last: "INGRESO"},
		{name: "no stage", group: g, last: ""},
		{name: "group without interactions", group: chattonic.FunnelGroup{Name: "G"}, last: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := (chattonic.Record{Last: tt.last}).Completed(tt.group); got != tt.want {
				t.Errorf("Completed(%q) = %v, want %v", tt.last, got, tt.want)
			}
		})
	}
}

// FuzzDecodeRecords checks that no answer panics the decoder, and that what decodes encodes in
// the documented shape and decodes back to itself: the fake answers what the client reads.
func FuzzDecodeRecords(f *testing.F) {
	f.Add(readFile(f, "testdata/reference_records.json"))
	for _, s := range []string{
		`{"skip":"0","limit":"100","objects":[]}`,
		`{"objects":[{"_id":" a ","user":{"extraData":[{"name":1,"cxt":2.5e3},{}]},"createdAt":"0000-01-01T00:00:00Z"}]}`,
		`{"objects":[null,1,"x",{"user":{}},{"interaction":null,"updatedAt":1e20}]}`,
		`{"limit":1e400,"skip":"Infinity","objects":[{"createdAt":"9999-12-31T23:59:59.9999Z"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p1, err := chattonic.DecodeRecords(b)
		if err != nil {
			return
		}
		enc, err := json.Marshal(p1)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", p1, err)
		}
		p2, err := chattonic.DecodeRecords(enc)
		if err != nil {
			t.Fatalf("DecodeRecords(%s): %v", enc, err)
		}
		if diff := cmp.Diff(p1, p2); diff != "" {
			t.Errorf("decode, encode, decode differs (-first +second):\n%s", diff)
		}
		for _, r := range p1.Records {
			_ = chattonic.ToLead(r) // must not panic on anything decoded
		}
	})
}

// FuzzDecodeFunnels is FuzzDecodeRecords for the funnels answer.
func FuzzDecodeFunnels(f *testing.F) {
	f.Add(readFile(f, "testdata/reference_funnels.json"))
	for _, s := range []string{
		`{"skip":"0","limit":"1","funnels":{}}`,
		`{"funnels":{" a":{"groups":[{"name":"x"}]},"a":{"interactions":["B"]}}}`,
		`{"funnels":[{"_id":"x","groups":[{"name":"G","newAt":-3,"doubleCounting":1}]},{"funnelId":"x"}]}`,
		`{"funnels":{"f":{"interactions":[1,null,"A"," "],"groups":[{"name":"G","interactions":[]}]}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p1, err := chattonic.DecodeFunnels(b)
		if err != nil {
			return
		}
		enc, err := json.Marshal(p1)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", p1, err)
		}
		p2, err := chattonic.DecodeFunnels(enc)
		if err != nil {
			t.Fatalf("DecodeFunnels(%s): %v", enc, err)
		}
		if diff := cmp.Diff(p1, p2); diff != "" {
			t.Errorf("decode, encode, decode differs (-first +second):\n%s", diff)
		}
		for _, fn := range p1.Funnels {
			for _, g := range fn.Groups {
				if g.Name == "" || g.FunnelID == "" {
					t.Errorf("group %+v of funnel %q lacks a name or funnel ID", g, fn.ID)
				}
			}
		}
	})
}
