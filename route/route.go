// Package route decides which destinations an alert goes to. It is a pure
// function of the alert's routing inputs and the configured destinations.
//
// Precedence, highest first:
//
//  1. a generated destination list (sent with the alert, or from a rule's
//     destinations() function);
//  2. the detection's static destination override (OutputIds);
//  3. the generated severity (a rule's severity() function, or the severity
//     an HTTP sender set);
//  4. the detection's static severity.
//
// Levels 1 and 2 name destinations, so a destination's severity filter does
// not apply to them: the rule author chose them for this alert. The alert
// type and log type filters still do, because they say what a destination is
// for. Levels 3 and 4 select every destination whose filters all match.
package route

import (
	"fmt"
	"slices"
	"strings"

	"github.com/alertbridge/alertbridge/alert"
)

// Destination is the part of a destination's configuration routing reads.
// Empty filter lists match everything.
type Destination struct {
	Name       string
	Severities []alert.Severity
	AlertTypes []alert.Type
	LogTypes   []string
}

// Input is what routing reads of an alert.
type Input struct {
	GeneratedDestinations []string
	OverrideDestinations  []string
	GeneratedSeverity     alert.Severity
	StaticSeverity        alert.Severity
	Type                  alert.Type
	LogTypes              []string
}

// InputOf reads the routing inputs of a. An alert without a static severity
// routes on its severity as the static one.
func InputOf(a *alert.Alert) Input {
	in := Input{
		GeneratedDestinations: a.Destinations,
		OverrideDestinations:  a.DestinationOverride,
		Type:                  a.Type,
		LogTypes:              a.LogTypes,
	}
	if a.StaticSeverity != "" {
		in.GeneratedSeverity, in.StaticSeverity = a.Severity, a.StaticSeverity
	} else {
		in.StaticSeverity = a.Severity
	}
	return in
}

// Basis names the precedence level a decision was made at.
type Basis string

const (
	BasisGeneratedDestinations Basis = "generated destinations"
	BasisDestinationOverride   Basis = "destination override"
	BasisGeneratedSeverity     Basis = "generated severity"
	BasisStaticSeverity        Basis = "static severity"
)

// Skip is a destination that was considered and not chosen, and why.
type Skip struct {
	Destination string
	Reason      string
}

// Decision is the outcome of routing one alert.
type Decision struct {
	Basis        Basis
	Destinations []string // in configuration order for severity routing, else as named
	Skipped      []Skip
}

// String renders the decision for an alert's timeline.
func (d Decision) String() string {
	var b strings.Builder
	if len(d.Destinations) == 0 {
		fmt.Fprintf(&b, "no destination (by %s)", d.Basis)
	} else {
		fmt.Fprintf(&b, "%s (by %s)", strings.Join(d.Destinations, ", "), d.Basis)
	}
	for _, s := range d.Skipped {
		fmt.Fprintf(&b, "; %s skipped: %s", s.Destination, s.Reason)
	}
	return b.String()
}

// Route decides where an alert goes.
func Route(in Input, dests []Destination) Decision {
	switch {
	case len(in.GeneratedDestinations) > 0:
		return byName(BasisGeneratedDestinations, in, in.GeneratedDestinations, dests)
	case len(in.OverrideDestinations) > 0:
		return byName(BasisDestinationOverride, in, in.OverrideDestinations, dests)
	case in.GeneratedSeverity != "":
		return bySeverity(BasisGeneratedSeverity, in.GeneratedSeverity, in, dests)
	default:
		return bySeverity(BasisStaticSeverity, in.StaticSeverity, in, dests)
	}
}

func byName(basis Basis, in Input, names []string, dests []Destination) Decision {
	d := Decision{Basis: basis}
	for _, name := range names {
		if slices.Contains(d.Destinations, name) {
			continue
		}
		i := slices.IndexFunc(dests, func(x Destination) bool { return x.Name == name })
		if i < 0 {
			d.Skipped = append(d.Skipped, Skip{name, "no destination by that name"})
			continue
		}
		if reason := typeAndLogFilter(dests[i], in); reason != "" {
			d.Skipped = append(d.Skipped, Skip{name, reason})
			continue
		}
		d.Destinations = append(d.Destinations, name)
	}
	return d
}

func bySeverity(basis Basis, sev alert.Severity, in Input, dests []Destination) Decision {
	d := Decision{Basis: basis}
	for _, dest := range dests {
		reason := ""
		if len(dest.Severities) > 0 && !slices.Contains(dest.Severities, sev) {
			reason = fmt.Sprintf("severity %s not in its severities", sev)
		} else {
			reason = typeAndLogFilter(dest, in)
		}
		if reason != "" {
			d.Skipped = append(d.Skipped, Skip{dest.Name, reason})
			continue
		}
		d.Destinations = append(d.Destinations, dest.Name)
	}
	return d
}

func typeAndLogFilter(dest Destination, in Input) string {
	if len(dest.AlertTypes) > 0 && !slices.Contains(dest.AlertTypes, in.Type) {
		return fmt.Sprintf("alert type %s not in its alert types", in.Type)
	}
	if len(dest.LogTypes) > 0 && !slices.ContainsFunc(in.LogTypes, func(lt string) bool {
		return slices.ContainsFunc(dest.LogTypes, func(want string) bool { return strings.EqualFold(want, lt) })
	}) {
		if len(in.LogTypes) == 0 {
			return "alert has no log type and the destination filters by log type"
		}
		return fmt.Sprintf("log types %s not in its log types", strings.Join(in.LogTypes, ", "))
	}
	return ""
}
