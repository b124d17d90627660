// Command sandbox is the one-command demo of the App: it runs the real App on the embedded
// store together with a simulated Zenvia Sales, 7Targets and Chat-Tonic on loopback, installs
// and configures an instance (its backfill forwarding the prospects already waiting in Sales,
// a routing rule, a Chat-Tonic bot whose completed records become Sales prospects), sends a
// stream of realistic prospects (some without email, some taken over by agents, a 7Targets
// outage now and then), prints the signed report and button URLs to open in a browser, and a
// live summary line. Ctrl-C stops it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/7targets/zenvia-sales-app/app"
	"github.com/7targets/zenvia-sales-app/chattonic/chattonicfake"
	"github.com/7targets/zenvia-sales-app/cmd/internal/appserver"
	"github.com/7targets/zenvia-sales-app/extensions"
	"github.com/7targets/zenvia-sales-app/forwarding"
	"github.com/7targets/zenvia-sales-app/sales"
	"github.com/7targets/zenvia-sales-app/sales/salesfake"
	"github.com/7targets/zenvia-sales-app/secret"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
)

const (
	appID, appSecret = "sandbox-app", "sandbox-app-secret"
	apiKey           = "sandbox-sales-api-key-0001"
	stClientID       = "sandbox-7targets-client"
	stClientSecret   = "sandbox-7targets-secret"
	stUser           = "sandbox-user"
	// The Chat-Tonic bot account of the instance.
	chatTonicCodename = "sandbox-bots"
	chatTonicToken    = "sandbox-chattonic-token"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	port := 8080
	if p, err := strconv.Atoi(os.Getenv("PORT")); err == nil {
		port = p
	}
	return runOn(ctx, port, out)
}

func runOn(ctx context.Context, port int, out io.Writer) error {
	base := "http://localhost:" + strconv.Itoa(port)

	salesFake := salesfake.New()
	defer salesFake.Close()
	st := seventargetsfake.New()
	defer st.Close()
	st.Seed()
	st.AddClient(stClientID, stClientSecret, stUser)
	integ := salesFake.AddIntegration(apiKey, sales.Integration{Name: "Demo account", Language: "en"})
	waiting := seedWaiting(salesFake)
	ct := chattonicfake.New()
	defer ct.Close()
	if err := ct.Seed(chatTonicCodename, chatTonicToken); err != nil {
		return err
	}
	// Users talking to the contact bot: a record every few seconds, through its five stages.
	if err := ct.AddBot(chattonicfake.Bot{Codename: chatTonicCodename, Funnel: chattonicfake.SeedContactFunnel, Group: chattonicfake.SeedContactGroup}); err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "zenvia-7targets-sandbox-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	key, _ := secret.ParseKey(secret.NewKey())

	// The App's own logs go to a file: the terminal is for the summary.
	logFile, err := os.Create(dir + "/app.log")
	if err != nil {
		return err
	}
	defer logFile.Close()
	logger := slog.New(app.LogHandler(slog.NewJSONHandler(logFile, nil)))

	appCtx, stopApp := context.WithCancel(context.WithoutCancel(ctx))
	defer stopApp()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- appserver.Run(appCtx, appserver.Config{
			// Loopback only: its credentials are printed and its signed URLs open every page.
			Host: "127.0.0.1", Port: port, PublicBaseURL: base, MongoDatabase: "sandbox", DataDir: dir,
			AppID: appID, AppSecret: appSecret, SigningKey: appSecret,
			ZenviaAPIURL: salesFake.BaseURL(), SevenTargetsAPIURL: st.APIURL(), SevenTargetsTokenURL: st.TokenURL(),
			ChatTonicAPIURL: ct.BaseURL(),
			EncryptionKey:   key, FrameAncestors: "'self'", LogValue: slog.StringValue("sandbox"),
			// A backfill shows at once, and its batches follow each other quickly.
			Backfill: forwarding.BackfillConfig{Interval: 2 * time.Second, Poll: 200 * time.Millisecond},
			// The bot's records are read more often than CHATTONIC_POLL_INTERVAL allows.
			ChatTonic: forwarding.ChatTonicConfig{Interval: 3 * time.Second},
		}, logger, ready)
	}()
	select {
	case <-ready:
	case err := <-done:
		stopApp()
		return fmt.Errorf("the App did not start: %w", err)
	}

	if err := setUp(base); err != nil {
		stopApp()
		<-done
		return err
	}
	fmt.Fprintf(out, "The App runs at %s on the embedded store, with simulated Zenvia Sales and 7Targets.\n", base)
	fmt.Fprintf(out, "App logs: %s\n", logFile.Name())
	fmt.Fprintf(out, "Routing rule: %s (the other prospects go to %s).\n", routingRule, seventargetsfake.SeedAssistantEmail)
	fmt.Fprintf(out, "Chat-Tonic bot %q (funnel %s): each completed record becomes a Sales prospect, then a 7Targets lead.\n", chatTonicCodename, chattonicfake.SeedContactFunnel)
	fmt.Fprintf(out, "backfillDays is %d: the %d unclaimed prospects of the last days waiting in Sales are forwarded once (progress in the report).\n\n", backfillDays, waiting)
	for _, lang := range []string{"en", "es", "pt"} {
		fmt.Fprintf(out, "Managers' report (%s), signed as Zenvia Sales would:\n  %s\n", lang, signed(base, extensions.ReportsPath+
			extensions.ReportKey+"?user=demo-manager&lang="+lang+"&range=last7&group="+integ.GroupID+"&parentGroup="+integ.GroupID))
		fmt.Fprintf(out, "Agents' conversation button (%s), for a prospect without email (type one to forward it):\n  %s\n\n", lang, signed(base,
			extensions.ButtonsPath+extensions.ButtonKey+"?prospect="+prospectID(0)+"&firstName=Ana&lastName=Souza&emails=&phones=%2B5511987654321"+
				"&user=demo-agent&group="+integ.GroupID+"&lang="+lang))
	}
	fmt.Fprintf(out, "Ctrl-C stops the sandbox.\n\n")

	go stream(appCtx, salesFake, st, integ.GroupID)
	go ct.Run(appCtx, 2*time.Second)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintf(out, "\r%s\nstopping…\n", summary(base))
			stopApp()
			return <-done
		case err := <-done:
			return fmt.Errorf("the App stopped: %w", err)
		case <-tick.C:
			fmt.Fprintf(out, "\r%s   ", summary(base))
		}
	}
}

// signed appends the signature Zenvia Sales would add to a page URL.
func signed(base, pathAndQuery string) string {
	return base + pathAndQuery + "&signature=" + extensions.Sign([]byte(appSecret), base+pathAndQuery)
}

// setUp does what Zenvia Sales and an account admin do: install the App, enable it, and enter
// the 7Targets settings (which subscribes the instance to prospect notifications).
func setUp(base string) error {
	calls := []struct{ method, path, body string }{
		{"POST", "/lifecycle/install", `{"integration":{"apiKey":"` + apiKey + `","enabled":true}}`},
		{"PUT", "/lifecycle/settings?api-key=" + apiKey, `{"clientId":"` + stClientID + `","clientSecret":"` + stClientSecret +
			`","userIdentifier":"` + stUser + `","assistantEmail":"` + seventargetsfake.SeedAssistantEmail + `","source":"Zenvia Sales demo","backfillDays":` + strconv.Itoa(backfillDays) +
			`,"routingRules":"` + routingRule + `"` +
			`,"chatTonicCodename":"` + chatTonicCodename + `","chatTonicToken":"` + chatTonicToken + `","chatTonicFunnels":"` + chattonicfake.SeedContactFunnel +
			`","chatTonicCompletedOnly":true}`},
	}
	for _, c := range calls {
		req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		req.SetBasicAuth(appID, appSecret)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode >= 300 {
			return fmt.Errorf("%s %s: %d %s", c.method, c.path, res.StatusCode, b)
		}
	}
	return nil
}

// routingRule sends the prospects of one UTM source to the simulated 7Targets' second assistant:
// the report's "By assistant" shows it at work.
const routingRule = "utmSource = facebook -> lyra@7targets.test | Product Demo"

func prospectID(i int) string { return fmt.Sprintf("5f0c%020d", i) }

// backfillDays is the sandbox instance's setting: the prospects seedWaiting puts in Sales are
// inside it.
const backfillDays = 7

// seedWaiting puts in Sales the prospects that were waiting before the App was installed:
// unclaimed ones created over the past days, which the backfill forwards, and a few an agent
// already took, which it leaves alone. It returns how many are unclaimed.
func seedWaiting(f *salesfake.Server) int {
	unclaimed := 0
	for i := range 12 {
		first, last := firstNames[i%len(firstNames)], lastNames[i%len(lastNames)]
		p := sales.Prospect{
			ID: fmt.Sprintf("5f0b%020d", i), FirstName: first, LastName: last, Status: "unclaimed",
			Created: time.Now().UTC().Add(-time.Duration(6*24-i*11) * time.Hour),
			Emails:  []string{strings.ToLower(fmt.Sprintf("%s.%s.waiting%d@example.com", url.PathEscape(first), url.PathEscape(last), i))},
			Leads:   []sales.Lead{{UtmSource: sources[i%len(sources)], Comments: "Asked about " + products[i%len(products)] + " last week"}},
		}
		if i%5 == 4 {
			p.Status = "followUp"
		} else {
			unclaimed++
		}
		f.PutProspect(apiKey, p)
	}
	return unclaimed
}

var (
	firstNames = []string{"Ana", "Bruno", "Carla", "Diego", "Elena", "Felipe", "Gabriela", "Hugo", "Isabel", "João", "Lucía", "Mateo"}
	lastNames  = []string{"Souza", "García", "Oliveira", "Fernández", "Costa", "López", "Pereira", "Martínez"}
	sources    = []string{"google", "facebook", "newsletter", "website", "instagram"}
	products   = []string{"the Civic", "the Corolla", "a test drive", "financing options", "the SUV range"}
)

// stream sends a new prospect about every second: one in six without email (skipped), one in
// four taken over by an agent a few seconds later (its follow-up stops), and every 40 seconds a
// 7Targets outage of 6 seconds (deliveries retry and catch up).
func stream(ctx context.Context, f *salesfake.Server, st *seventargetsfake.Server, group string) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		first, last := firstNames[rand.IntN(len(firstNames))], lastNames[rand.IntN(len(lastNames))]
		p := sales.Prospect{
			ID: prospectID(i), FirstName: first, LastName: last, Status: "unclaimed",
			Phones: []string{fmt.Sprintf("+55 11 9%04d-%04d", rand.IntN(10000), rand.IntN(10000))},
			Leads:  []sales.Lead{{UtmSource: sources[rand.IntN(len(sources))], Comments: "Interested in " + products[rand.IntN(len(products))]}},
		}
		if i%6 != 0 {
			p.Emails = []string{strings.ToLower(fmt.Sprintf("%s.%s.%d@example.com", url.PathEscape(first), url.PathEscape(last), i))}
		}
		_, _ = f.Notify(ctx, group, sales.Notification{Type: "created", UpdatedAt: time.Now().UTC(), Prospect: []sales.Prospect{p}})
		if i%4 == 0 {
			go func(p sales.Prospect) {
				time.Sleep(time.Duration(3+rand.IntN(5)) * time.Second)
				p.Status = "followUp"
				_, _ = f.Notify(ctx, group, sales.Notification{Type: "updated", UpdatedAt: time.Now().UTC(), Prospect: []sales.Prospect{p}})
			}(p)
		}
		if i%40 == 0 {
			st.SetDown(true)
			time.AfterFunc(6*time.Second, func() { st.SetDown(false) })
		}
	}
}

// summary reads the App's own metrics: what the report shows, live.
func summary(base string) string {
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return "metrics unavailable: " + err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var forwarded, skipped, failed, stopped, pending, imported float64
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		v, _ := strconv.ParseFloat(value, 64)
		switch {
		case name == `forwarding_deliveries_total{outcome="created",state="done"}`:
			forwarded += v
		case name == `forwarding_deliveries_total{outcome="stopped",state="done"}`:
			stopped += v
		case strings.HasPrefix(name, `forwarding_deliveries_total{`) && strings.Contains(name, `state="skipped"`):
			skipped += v
		case strings.HasPrefix(name, `forwarding_deliveries_total{`) && (strings.Contains(name, `state="failed"`) || strings.Contains(name, `state="dead"`)):
			failed += v
		case name == `chattonic_imports_total{state="done"}`:
			imported = v
		case name == "forwarding_outbox_depth":
			pending = v
		}
	}
	return fmt.Sprintf("%s  forwarded %d · follow-ups stopped %d · skipped %d · failed %d · pending %d · Chat-Tonic records imported %d",
		time.Now().Format("15:04:05"), int(forwarded), int(stopped), int(skipped), int(failed), int(pending), int(imported))
}
