package chattonic_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/chattonic"
)

func record(extra ...chattonic.ExtraData) chattonic.Record {
	return chattonic.Record{ID: "r1", Funnel: "f", Group: "G", Last: "FIN",
		User: chattonic.User{Platform: "whatsapp", FirstName: "Ana", LastName: "Gómez", ExtraData: extra}}
}

func x(name, value string) chattonic.ExtraData { return chattonic.ExtraData{Name: name, Value: value} }

func TestToLead(t *testing.T) {
	t.Parallel()
	const head = "Funnel group: G\nStage reached: FIN"
	tests := []struct {
		name   string
		record chattonic.Record
		want   chattonic.Lead
	}{
		{
			name:   "the reference's record",
			record: referenceRecord,
			want: chattonic.Lead{
				ProviderLeadID: "5d7bfc1298317f98fa111f99", UtmMedium: "messenger", UtmCampaign: "Sacar Tarjeta",
				FirstName: "Juan", LastName: "Perez", Phones: []string{"1412345678"},
				NIN:      []chattonic.NIN{{Type: "DNI", Number: "12345678"}},
				Comments: "Funnel group: Sacar Tarjeta\nStage reached: INGRESO\nIngreso: 1000",
			},
		},
		{
			name: "phone names, accents and case ignored",
			record: record(x("Teléfono", "+54 9 11 4552-0371"), x("TELEFONE", "(11) 98765-4321"), x("móvil", "600123456"),
				x("WhatsApp", "5491145520372"), x("numeroCelular", "1155550000"), x("Phone number", "555-0100-99"), x("Cel.", "1144443333"),
				x("Tel", "011 4444.5555")),
			want: chattonic.Lead{Phones: []string{"+54 9 11 4552-0371", "(11) 98765-4321", "600123456", "5491145520372",
				"1155550000", "555-0100-99", "1144443333", "011 4444.5555"}, Comments: head},
		},
		{
			name:   "a phone-named answer that is no number goes to the comments",
			record: record(x("Celular", "no tengo"), x("Teléfono", "12345")),
			want:   chattonic.Lead{Comments: head + "\nCelular: no tengo\nTeléfono: 12345"},
		},
		{
			name:   "duplicate phones by digits",
			record: record(x("Celular", "11 4552 0371"), x("WhatsApp", "1145520371")),
			want:   chattonic.Lead{Phones: []string{"11 4552 0371"}, Comments: head},
		},
		{
			name:   "emails by shape whatever the name, lowercased, once",
			record: record(x("Correo", "Ana@Example.com"), x("Contacto", "ana@example.com"), x("Email", "ana at example"), x("Celular", "b@example.org")),
			want:   chattonic.Lead{Emails: []string{"ana@example.com", "b@example.org"}, Comments: head + "\nEmail: ana at example"},
		},
		{
			name:   "an address with a display name is not bare",
			record: record(x("Email", "Ana <ana@example.com>")),
			want:   chattonic.Lead{Comments: head + "\nEmail: Ana <ana@example.com>"},
		},
		{
			name: "identity numbers",
			record: record(x("DNI", "12.345.678"), x("cpf", "123.456.789-09"), x("Número de CUIT", "20-12345678-3"), x("CUIL", "27123456784"),
				x("RUT", "12.345.678-K"), x("CI", "1234567-8"), x("Cédula de identidad", "4.123.456-7"), x("nro_dni", "30111222")),
			want: chattonic.Lead{NIN: []chattonic.NIN{{"DNI", "12.345.678"}, {"CPF", "123.456.789-09"}, {"CUIT", "20-12345678-3"},
				{"CUIL", "27123456784"}, {"RUT", "12.345.678-K"}, {"CI", "1234567-8"}, {"CI", "4.123.456-7"}, {"DNI", "30111222"}}, Comments: head},
		},
		{
			name:   "words that merely contain an identity type are not one",
			record: record(x("Ciudad", "Rosario"), x("Cine", "sí"), x("Ruta", "9"), x("DNI", "no sé")),
			want:   chattonic.Lead{Comments: head + "\nCiudad: Rosario\nCine: sí\nRuta: 9\nDNI: no sé"},
		},
		{
			name:   "empty answers dropped, a nameless one kept",
			record: record(x("Ingreso", ""), x("", "algo"), x("  ", " ")),
			want:   chattonic.Lead{Comments: head + "\n?: algo"},
		},
		{
			name:   "one printable line per field",
			record: record(x("Motivo\nde consulta", "quiero\r\nuna tarjeta\u202e"), x("Celular", "11\n4552 0371")),
			want:   chattonic.Lead{Phones: []string{"11 4552 0371"}, Comments: head + "\nMotivo de consulta: quiero una tarjeta"},
		},
		{
			name:   "a record without user or interaction",
			record: chattonic.Record{ID: " r2 "},
			want:   chattonic.Lead{ProviderLeadID: "r2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := tt.want
			if tt.record.ID == "r1" {
				want.ProviderLeadID, want.UtmMedium, want.UtmCampaign, want.FirstName, want.LastName = "r1", "whatsapp", "G", "Ana", "Gómez"
			}
			got := chattonic.ToLead(tt.record)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ToLead (-want +got):\n%s", diff)
			}
			if got.HasContact() != (len(want.Phones)+len(want.Emails) > 0) {
				t.Errorf("HasContact() = %v for %d phones and %d emails", got.HasContact(), len(want.Phones), len(want.Emails))
			}
		})
	}
}

func TestToLeadBoundsComments(t *testing.T) {
	t.Parallel()
	var extra []chattonic.ExtraData
	for range 100 {
		extra = append(extra, x("Pregunta", strings.Repeat("ñ", 90)))
	}
	got := chattonic.ToLead(record(extra...)).Comments
	if len(got) > 4000 || !strings.HasPrefix(got, "Funnel group: G\n") {
		t.Fatalf("comments of %d bytes, starting %q", len(got), got[:min(len(got), 40)])
	}
	for _, line := range strings.Split(got, "\n")[2:] {
		if line != "Pregunta: "+strings.Repeat("ñ", 90) {
			t.Fatalf("a line was cut: %q", line)
		}
	}
}

// FuzzToLead checks the mapping's promises on any record: every email is bare, every phone has
// 6 to 20 digits, every NIN a known type and a digit, each comment line is "name: value", and
// no field spans lines.
func FuzzToLead(f *testing.F) {
	f.Add("Celular", "+54 9 11 4552-0371", "DNI", "12345678", "Ana", "ana@example.com")
	f.Add("Teléfono", "abc", "CI", "x", "", "Ana <a@b.c>")
	f.Add("x\ny", "\u00a0", "cuil", "1", "WhatsApp", "1234567")
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2, n3, v3 string) {
		r := record(x(n1, v1), x(n2, v2), x(n3, v3))
		r.User.FirstName, r.Group = n1, v2
		l := chattonic.ToLead(r)
		for _, e := range l.Emails {
			if got, ok := zen7.BareEmail(e); !ok || got != e {
				t.Errorf("email %q is not bare", e)
			}
		}
		for _, p := range l.Phones {
			d := strings.Count(p, "0") + strings.Count(p, "1") + strings.Count(p, "2") + strings.Count(p, "3") + strings.Count(p, "4") +
				strings.Count(p, "5") + strings.Count(p, "6") + strings.Count(p, "7") + strings.Count(p, "8") + strings.Count(p, "9")
			if d < 6 || d > 20 {
				t.Errorf("phone %q has %d digits", p, d)
			}
		}
		for _, nin := range l.NIN {
			if !strings.Contains("DNI CPF CUIT CUIL RUT CI", nin.Type) || !strings.ContainsAny(nin.Number, "0123456789") {
				t.Errorf("NIN %+v", nin)
			}
		}
		for _, s := range []string{l.FirstName, l.LastName, l.UtmCampaign, l.UtmMedium, l.ProviderLeadID} {
			if strings.ContainsAny(s, "\r\n") {
				t.Errorf("field %q spans lines", s)
			}
		}
		if l.Comments != "" {
			for _, line := range strings.Split(l.Comments, "\n") {
				if !strings.Contains(line, ": ") {
					t.Errorf("comment line %q is not name: value", line)
				}
			}
		}
		if l.HasContact() != (len(l.Phones)+len(l.Emails) > 0) {
			t.Errorf("HasContact() = %v", l.HasContact())
		}
	})
}
