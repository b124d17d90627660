package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// commandSet is a count of the App's store commands by command name, one collection or all.
type commandSet map[string]int64

// commandSnapshot is the App's store commands so far, by command name and collection.
type commandSnapshot map[string]commandSet // collection → name → count

// commands reads the counts of the App's store commands from its pprof listener.
func (e *env) commands() (commandSnapshot, error) {
	res, err := http.Get(e.pprof + commandsPath)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", commandsPath, res.Status)
	}
	var lines []commandCount
	if err := json.NewDecoder(res.Body).Decode(&lines); err != nil {
		return nil, fmt.Errorf("%s: %w", commandsPath, err)
	}
	out := commandSnapshot{}
	for _, l := range lines {
		if out[l.Collection] == nil {
			out[l.Collection] = commandSet{}
		}
		out[l.Collection][l.Name] += l.N
	}
	return out, nil
}

// since returns what was counted after before.
func (s commandSnapshot) since(before commandSnapshot) commandSnapshot {
	out := commandSnapshot{}
	for col, names := range s {
		for name, n := range names {
			if d := n - before[col][name]; d > 0 {
				if out[col] == nil {
					out[col] = commandSet{}
				}
				out[col][name] = d
			}
		}
	}
	return out
}

// split divides the App's commands between the intake and the rest (the worker, and the few
// background commands: stats, subscription checks). The intake's own is the outbox insert,
// which nothing else sends but a manual retry (none in a run); with the instance cache on it
// reads nothing per webhook. The baseline's inserts are neither.
func (s commandSnapshot) split() (intake, rest commandSnapshot) {
	intake, rest = commandSnapshot{}, commandSnapshot{}
	for col, names := range s {
		if col == baselineCollection {
			continue
		}
		for name, n := range names {
			if col == "outbox" && name == "insert" {
				intake.add(col, name, n)
			} else {
				rest.add(col, name, n)
			}
		}
	}
	return intake, rest
}

// all is every command of the App, the baseline's left out.
func (s commandSnapshot) all() commandSnapshot {
	out := commandSnapshot{}
	for col, names := range s {
		if col == baselineCollection {
			continue
		}
		for name, n := range names {
			out.add(col, name, n)
		}
	}
	return out
}

// add counts n more of command name on collection col.
func (s commandSnapshot) add(col, name string, n int64) {
	if s[col] == nil {
		s[col] = commandSet{}
	}
	s[col][name] += n
}

// perUnit is a count of commands divided among units (webhooks, deliveries, leads).
type perUnit struct {
	Units   int64              `json:"units"`
	PerUnit float64            `json:"perUnit"`
	ByName  map[string]float64 `json:"byCommand"`
	// ByCollection is keyed "command collection" ("find outbox"): which commands on which
	// collections make up the figure.
	ByCollection map[string]float64 `json:"byCommandAndCollection,omitempty"`
}

func per(s commandSnapshot, units int64) perUnit {
	p := perUnit{Units: units, ByName: map[string]float64{}, ByCollection: map[string]float64{}}
	if units <= 0 {
		return p
	}
	var total int64
	for col, names := range s {
		for name, n := range names {
			total += n
			p.ByName[name] += float64(n) / float64(units)
			key := name
			if col != "" {
				key += " " + col
			}
			p.ByCollection[key] += float64(n) / float64(units)
		}
	}
	p.PerUnit = float64(total) / float64(units)
	return p
}

// String renders p as "3.02 (find 1.00, insert 1.01, …)".
func (p perUnit) String() string {
	return fmt.Sprintf("%.2f (%s)", p.PerUnit, listed(p.ByName))
}

// Detail renders p by command and collection: "3.02 (find leads 1.00, insert outbox 1.01, …)".
func (p perUnit) Detail() string {
	return fmt.Sprintf("%.2f (%s)", p.PerUnit, listed(p.ByCollection))
}

func listed(m map[string]float64) string {
	names := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.2f", n, m[n]))
	}
	return strings.Join(parts, ", ")
}
