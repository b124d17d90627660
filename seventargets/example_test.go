package seventargets_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/7targets/zenvia-sales-app/seventargets"
	"github.com/7targets/zenvia-sales-app/seventargets/seventargetsfake"
)

func ExampleClient_CreateLead() {
	fake := seventargetsfake.New()
	defer fake.Close()
	fake.Seed()
	fake.AddClient("client-id", "client-secret", "user-id")

	c, err := seventargets.New(fake.APIURL(), fake.TokenURL())
	if err != nil {
		log.Fatal(err)
	}
	creds := seventargets.Credentials{ClientID: "client-id", ClientSecret: "client-secret", UserIdentifier: "user-id"}
	lead, err := c.CreateLead(context.Background(), "instance-1", creds, seventargets.Lead{
		Name:           "John",
		Email:          "john.doe@example.com",
		AssistantEmail: seventargetsfake.SeedAssistantEmail,
		CustomFields:   []seventargets.CustomField{{Name: "zenviaProspectId", Value: "p-1"}},
	})
	switch {
	case seventargets.IsRetryable(err):
		// Keep it in the outbox and try again later.
	case errors.Is(err, seventargets.ErrRejected):
		// Record the permanent failure and its reason.
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println(lead.ID, lead.State, lead.SubState)
	// Output: 2345 Cold Followup
}
