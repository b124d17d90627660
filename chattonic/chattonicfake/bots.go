package chattonicfake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/7targets/zenvia-sales-app/chattonic"
)

// Bot makes records in one funnel group of an account, as users talking to a bot do: each Tick
// starts PerTick new records at the group's first interaction and moves every unfinished
// record a bot made one interaction on, answering the stage it reaches.
type Bot struct {
	Codename string
	Funnel   string
	Group    string
	// PerTick is how many records each Tick starts; 0 means 1.
	PerTick int
	// Platform is the users' channel; "" rotates messenger, whatsapp and webchat.
	Platform string
}

// AddBot adds a bot to an existing funnel group.
func (s *Server) AddBot(b Bot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[b.Codename]
	if a == nil {
		return fmt.Errorf("chattonicfake.AddBot: %w codename %q", ErrUnknown, b.Codename)
	}
	if _, ok := a.group(b.Funnel, b.Group); !ok {
		return fmt.Errorf("chattonicfake.AddBot: %w funnel group %q/%q", ErrUnknown, b.Funnel, b.Group)
	}
	a.bots = append(a.bots, b)
	return nil
}

// Tick moves every unfinished bot-made record one interaction on, then has every bot start its
// new records, and returns how many records it started. Records added with AddRecord move only
// with Advance, so tests keep control of them.
func (s *Server) Tick() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	started := 0
	for codename, a := range s.accounts {
		for _, st := range a.records {
			if st.bot {
				s.advanceLocked(st, s.answerLocked(st))
			}
		}
		for _, b := range a.bots {
			for range max(b.PerTick, 1) {
				s.generated++
				n := s.generated
				platform := b.Platform
				if platform == "" {
					platform = []string{"messenger", "whatsapp", "webchat"}[n%3]
				}
				first, last := firstNames[n%len(firstNames)], lastNames[(n/len(firstNames))%len(lastNames)]
				_, err := s.addRecordLocked(codename, chattonic.Record{
					Funnel: b.Funnel, Group: b.Group,
					User: chattonic.User{MessageUser: NewID(), Platform: platform, FirstName: first, LastName: last},
				}, true)
				if err == nil {
					started++
				}
			}
		}
	}
	return started
}

// Run calls Tick every interval until ctx ends or the server is closed, for the sandbox and the
// load tool.
func (s *Server) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.closed:
			return
		case <-t.C:
			s.Tick()
		}
	}
}

var (
	firstNames = []string{"Juan", "María", "João", "Ana", "Lucía", "Pedro", "Sofía", "Mateus"}
	lastNames  = []string{"Perez", "Gómez", "Silva", "Fernández", "Souza", "Rodríguez", "Oliveira"}
)

// answerLocked is what a user answers at the stage st is about to reach, named after it: an
// identity number at DNI, a phone at CELULAR, an email at EMAIL, the name at NOMBRE, nothing at
// the start and end.
func (s *Server) answerLocked(st *stored) []chattonic.ExtraData {
	i := -1
	for j, v := range st.stages {
		if strings.EqualFold(v, st.rec.Last) {
			i = j
		}
	}
	if i < 0 || i+1 >= len(st.stages) {
		return nil
	}
	stage := st.stages[i+1]
	s.generated++
	n := s.generated
	rs := []rune(strings.ToLower(stage))
	name := strings.ToUpper(string(rs[:1])) + string(rs[1:])
	var value string
	switch key := strings.ToLower(stage); {
	case key == "inicio" || key == "fin" || key == "start" || key == "end":
		return nil
	case strings.Contains(key, "dni"):
		value = fmt.Sprintf("%08d", 20000000+n)
	case strings.Contains(key, "celular") || strings.Contains(key, "telefono") || strings.Contains(key, "phone"):
		value = fmt.Sprintf("+54 9 11 %04d-%04d", 4000+n%6000, n%10000)
	case strings.Contains(key, "email"):
		value = fmt.Sprintf("%s.%d@example.com", strings.ToLower(asciiName(st.rec.User.FirstName)), n)
	case strings.Contains(key, "nombre") || strings.Contains(key, "name"):
		value = strings.TrimSpace(st.rec.User.FirstName + " " + st.rec.User.LastName)
	case strings.Contains(key, "ingreso"):
		value = fmt.Sprintf("%d", 1000*(1+n%90))
	default:
		value = "sí"
	}
	return []chattonic.ExtraData{{Name: name, Value: value}}
}

// asciiName keeps the ASCII letters of a name, for an email's local part.
func asciiName(s string) string {
	out := strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return -1
	}, s)
	if out == "" {
		return "user"
	}
	return out
}

// Seed makes codename an account with token, the funnel and record of the reference (Juan
// Perez at INGRESO of Sacar Tarjeta) and a contact funnel (NOMBRE, EMAIL, CELULAR), so that
// bots added to SeedContactGroup make leads with an email.
func (s *Server) Seed(codename, token string) error {
	if err := s.AddAccount(codename, token); err != nil {
		return err
	}
	stages := []string{"INICIO", "DNI", "CELULAR", "INGRESO", "FIN"}
	if _, err := s.AddFunnel(codename, chattonic.Funnel{ID: SeedFunnel, Interactions: stages, Groups: []chattonic.FunnelGroup{
		{ID: "5d7a6b9266f1bf664e3f6a7b", Name: SeedGroup, DoubleCounting: true, NewAt: 24},
	}}); err != nil {
		return err
	}
	if _, err := s.AddFunnel(codename, chattonic.Funnel{ID: SeedContactFunnel,
		Interactions: []string{"INICIO", "NOMBRE", "EMAIL", "CELULAR", "FIN"},
		Groups:       []chattonic.FunnelGroup{{Name: SeedContactGroup}},
	}); err != nil {
		return err
	}
	s.mu.Lock()
	created := s.now().UTC().Add(-2 * time.Minute).Truncate(time.Millisecond)
	s.mu.Unlock()
	if _, err := s.AddRecord(codename, chattonic.Record{
		ID: SeedRecordID, Funnel: SeedFunnel, Group: SeedGroup, Last: "INGRESO",
		User: chattonic.User{
			MessageUser: "5d7aa7b9a2b64670f6653afe", Platform: "messenger", FirstName: "Juan", LastName: "Perez",
			ExtraData: []chattonic.ExtraData{{Name: "DNI", Value: "12345678"}, {Name: "Celular", Value: "1412345678"}, {Name: "Ingreso", Value: "1000"}},
		},
		CreatedAt: created, UpdatedAt: created.Add(119 * time.Second),
	}); err != nil && !errors.Is(err, ErrExists) {
		return err
	}
	return nil
}
