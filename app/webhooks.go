package app

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	zen7 "github.com/7targets/zenvia-sales-app"
	"github.com/7targets/zenvia-sales-app/forwarding"
)

// webhookHandlers serves the notifications Zenvia Sales posts (contract section 4).
type webhookHandlers struct {
	intake *forwarding.Intake
	// perInstance limits authenticated webhooks by instance; unauthenticated limits the others
	// by client address, so that a guesser spends its own budget, never its target's.
	perInstance, unauthenticated *limiter
}

// sales answers 2xx only once the notification is stored: Sales retries anything else.
func (h webhookHandlers) sales(c *gin.Context) {
	body, err := readBody(c)
	if err != nil {
		fail(c, err)
		return
	}
	id := c.Param("instanceId")
	got, err := h.intake.Accept(c.Request.Context(), id, c.Query("token"), body,
		func() error { return h.perInstance.take(c, id) })
	if errors.Is(err, zen7.ErrUnauthorized) {
		if limited := h.unauthenticated.take(c, c.ClientIP()); limited != nil {
			err = limited
		}
	}
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, webhookAnswer{Queued: got.Queued, Duplicates: got.Duplicates})
}

// webhookAnswer is the webhook's 200 body; duplicates is left out when there are none.
type webhookAnswer struct {
	Queued     int `json:"queued"`
	Duplicates int `json:"duplicates,omitempty"`
}
