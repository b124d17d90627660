package store

import (
	"context"
	"maps"
	"sync"

	"go.mongodb.org/mongo-driver/v2/event"
)

// CommandCounter counts the commands a client sends, by command name and collection, through
// the driver's command monitor (Config.Monitor). The count is the same on MongoDB and on the
// embedded store, and on MongoDB each command is a network round trip, so it carries over from
// a measurement on one to the other. It is safe for concurrent use.
type CommandCounter struct {
	database string // counts only this database's commands; "" for all

	mu     sync.Mutex
	counts map[CommandKey]int64
}

// CommandKey names what is counted: a command ("find", "insert", "update", "delete",
// "findAndModify", "aggregate", …) on a collection ("" for commands on none, such as ping).
type CommandKey struct {
	Name       string `json:"name"`
	Collection string `json:"collection,omitempty"`
}

// NewCommandCounter returns a counter of the commands on database, or on every database if
// database is "".
func NewCommandCounter(database string) *CommandCounter {
	return &CommandCounter{database: database, counts: map[CommandKey]int64{}}
}

// Monitor returns the monitor to give Config.Monitor.
func (c *CommandCounter) Monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: c.started}
}

func (c *CommandCounter) started(_ context.Context, e *event.CommandStartedEvent) {
	if c.database != "" && e.DatabaseName != c.database {
		return
	}
	k := CommandKey{Name: e.CommandName}
	// The command's first element names it and holds its collection.
	if v, err := e.Command.LookupErr(e.CommandName); err == nil {
		k.Collection, _ = v.StringValueOK()
	}
	c.mu.Lock()
	c.counts[k]++
	c.mu.Unlock()
}

// Counts returns a copy of the counts so far.
func (c *CommandCounter) Counts() map[CommandKey]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}
