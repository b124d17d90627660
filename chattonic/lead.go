package chattonic

import (
	"strings"
	"unicode"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/internal/upstream"
)

// Provider is the provider and the utmSource of every lead imported from Chat-Tonic.
const Provider = "chat-tonic"

// Lead is what a Zenvia Sales retail lead needs from one record, in Chat-Tonic terms: the
// wiring turns it into the Sales request, with provider and utmSource set to Provider.
type Lead struct {
	// ProviderLeadID is the record's _id.
	ProviderLeadID string
	// UtmMedium is the bot's platform; UtmCampaign the funnel group.
	UtmMedium   string
	UtmCampaign string
	FirstName   string
	LastName    string
	// Phones and Emails are the contact data found in extraData, in order, without duplicates.
	Phones []string
	Emails []string
	// NIN are the identity numbers found in extraData.
	NIN []NIN
	// Comments are the funnel group, the stage reached and every other extraData pair, one
	// "name: value" line each.
	Comments string
}

// NIN is a national identification number: its type (DNI, CPF, CUIT, CUIL, RUT, CI) and the
// number as the user gave it.
type NIN struct {
	Type   string
	Number string
}

// HasContact reports whether the lead has a phone or an email: one without is skipped, reason
// "no contact data".
func (l Lead) HasContact() bool { return len(l.Phones) > 0 || len(l.Emails) > 0 }

// Bounds of what is taken from a record: a bot stores what users typed, and a lead is shown to
// agents, so one answer must not fill a page.
const (
	maxFieldLen    = 200
	maxCommentsLen = 4000
)

// ToLead maps a record to a lead, per the contract: a value shaped like an email address is an
// email whatever its name; a value named like an identity number is a NIN; a value named like
// a phone, that looks like a phone number, is a phone; every other pair goes to the comments,
// after the funnel group and the stage reached. Names and values are kept on one printable
// line. It is a pure function.
func ToLead(r Record) Lead {
	l := Lead{
		ProviderLeadID: strings.TrimSpace(r.ID),
		UtmMedium:      clean(r.User.Platform),
		UtmCampaign:    clean(r.Group),
		FirstName:      clean(r.User.FirstName),
		LastName:       clean(r.User.LastName),
	}
	var comments []string
	if l.UtmCampaign != "" {
		comments = append(comments, "Funnel group: "+l.UtmCampaign)
	}
	if stage := clean(r.Last); stage != "" {
		comments = append(comments, "Stage reached: "+stage)
	}
	seen := make(map[string]bool)
	for _, x := range r.User.ExtraData {
		name, value := clean(x.Name), clean(x.Value)
		if value == "" {
			continue // an unanswered question says nothing to an agent
		}
		if email, ok := zen7.BareEmail(value); ok {
			if !seen["e:"+email] {
				seen["e:"+email] = true
				l.Emails = append(l.Emails, email)
			}
			continue
		}
		if typ := ninType(name); typ != "" && hasDigit(value) {
			if !seen["n:"+typ+":"+value] {
				seen["n:"+typ+":"+value] = true
				l.NIN = append(l.NIN, NIN{Type: typ, Number: value})
			}
			continue
		}
		if isPhoneName(name) && isPhoneNumber(value) {
			if key := "p:" + digits(value); !seen[key] {
				seen[key] = true
				l.Phones = append(l.Phones, value)
			}
			continue
		}
		if name == "" {
			name = "?"
		}
		comments = append(comments, name+": "+value)
	}
	l.Comments = strings.Join(comments, "\n")
	if len(l.Comments) > maxCommentsLen {
		// Cut on a line, so that no line is left half: CleanMessage would join them.
		cut := strings.LastIndexByte(l.Comments[:maxCommentsLen], '\n')
		if cut < 0 {
			cut = 0
		}
		l.Comments = l.Comments[:cut]
	}
	return l
}

// clean keeps one printable line of s, as server text is kept everywhere.
func clean(s string) string { return upstream.CleanMessage(s, maxFieldLen) }

// ninTypes are the identity numbers the contract names, and the words that name them.
var ninTypes = map[string]string{
	"dni": "DNI", "cpf": "CPF", "cuit": "CUIT", "cuil": "CUIL", "rut": "RUT", "ci": "CI",
	// Spelled out: "Cédula de identidad" (Uruguay, Bolivia…) is the CI.
	"cedula": "CI",
}

// ninType returns the identity number type name names, "" when it names none. It matches
// whole words ("Número de DNI", "nro_cpf"), so "cine" or "ciudad" are not a CI.
func ninType(name string) string {
	for _, w := range words(name) {
		if t, ok := ninTypes[w]; ok {
			return t
		}
	}
	return ""
}

// phoneWords name a phone, as whole words; phoneStems also inside a longer word
// ("numeroCelular", "telephone", "cellphone").
var (
	phoneWords = []string{"tel", "cel", "fono", "wpp", "wsp", "zap", "whats", "mobile", "movil", "cell"}
	phoneStems = []string{"celular", "telefon", "phone", "whatsapp", "movil", "mobile"}
)

// isPhoneName reports whether name names a phone, ignoring case and accents.
func isPhoneName(name string) bool {
	ws := words(name)
	for _, w := range ws {
		for _, p := range phoneWords {
			if w == p {
				return true
			}
		}
	}
	joined := strings.Join(ws, "")
	for _, stem := range phoneStems {
		if strings.Contains(joined, stem) {
			return true
		}
	}
	return false
}

// isPhoneNumber reports whether s looks like a phone number: 6 to 20 digits, with only the
// separators people type ("+54 9 11 4552-0371", "(011) 4552.0371").
func isPhoneNumber(s string) bool {
	n := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			n++
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '.' || r == '/':
		default:
			return false
		}
	}
	return n >= 6 && n <= 20
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

// words splits s into lowercase words without accents: runs of letters or digits, split also
// where a lowercase letter meets an uppercase one ("numeroCelular" is "numero", "celular").
func words(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
	}
	prevLower := false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if unicode.IsUpper(r) && prevLower {
				flush()
			}
			prevLower = unicode.IsLower(r)
			cur = append(cur, fold(r))
		default:
			flush()
			prevLower = false
		}
	}
	flush()
	return out
}

// fold lowercases r and drops the accents Spanish and Portuguese use, without a Unicode
// normalisation table: these are the letters names of bot answers are written with.
func fold(r rune) rune {
	r = unicode.ToLower(r)
	switch r {
	case 'á', 'à', 'â', 'ä', 'ã', 'å':
		return 'a'
	case 'é', 'è', 'ê', 'ë':
		return 'e'
	case 'í', 'ì', 'î', 'ï':
		return 'i'
	case 'ó', 'ò', 'ô', 'ö', 'õ':
		return 'o'
	case 'ú', 'ù', 'û', 'ü':
		return 'u'
	case 'ñ':
		return 'n'
	case 'ç':
		return 'c'
	}
	return r
}
