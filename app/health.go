package app

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// healthz says the process is up and serving; it checks nothing else, so an orchestrator
// restarts the process only when the process itself is stuck.
func healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz says whether the App can do its work: the store must answer and take a write, within
// a bound short enough for a load balancer's probe.
func readyz(store Readiness) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := store.Ready(ctx); err != nil {
			c.JSON(http.StatusServiceUnavailable, errorBody{errorDetail{Code: "not_ready", Message: "the database is not reachable or does not take writes"}})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	}
}
