package app

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/7targets/zenvia-sales-app/forwarding"
)

// webhookHandlers serves the notifications Zenvia Sales posts (contract section 4).
type webhookHandlers struct {
	intake *forwarding.Intake
}

// sales answers 2xx only once the notification is stored: Sales retries anything else.
func (h webhookHandlers) sales(c *gin.Context) {
	body, err := readBody(c)
	if err != nil {
		fail(c, err)
		return
	}
	n, err := h.intake.Accept(c.Request.Context(), c.Param("instanceId"), c.Query("token"), body)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"queued": n})
}
