package route

import (
	"slices"
	"testing"

	"github.com/alertbridge/alertbridge/alert"
)

func TestRoute(t *testing.T) {
	dests := []Destination{
		{Name: "all"},
		{Name: "critical-only", Severities: []alert.Severity{alert.SeverityCritical}},
		{Name: "high-up", Severities: []alert.Severity{alert.SeverityHigh, alert.SeverityCritical}},
		{Name: "errors", AlertTypes: []alert.Type{alert.TypeRuleError, alert.TypeSystemError}},
		{Name: "audit", LogTypes: []string{"Atlassian.Audit"}},
	}
	tests := []struct {
		name    string
		in      Input
		basis   Basis
		want    []string
		skipped []string
	}{
		{
			name:  "static severity selects by severity filter",
			in:    Input{StaticSeverity: alert.SeverityHigh, Type: alert.TypeRule},
			basis: BasisStaticSeverity,
			want:  []string{"all", "high-up"},
			// audit filters by log type and the alert has none.
			skipped: []string{"critical-only", "errors", "audit"},
		},
		{
			name:    "generated severity wins over static severity",
			in:      Input{GeneratedSeverity: alert.SeverityCritical, StaticSeverity: alert.SeverityLow, Type: alert.TypeRule},
			basis:   BasisGeneratedSeverity,
			want:    []string{"all", "critical-only", "high-up"},
			skipped: []string{"errors", "audit"},
		},
		{
			name:    "override wins over generated severity and ignores severity filters",
			in:      Input{OverrideDestinations: []string{"critical-only"}, GeneratedSeverity: alert.SeverityLow, StaticSeverity: alert.SeverityLow, Type: alert.TypeRule},
			basis:   BasisDestinationOverride,
			want:    []string{"critical-only"},
			skipped: nil,
		},
		{
			name:  "generated destinations win over override",
			in:    Input{GeneratedDestinations: []string{"high-up", "all"}, OverrideDestinations: []string{"critical-only"}, StaticSeverity: alert.SeverityInfo, Type: alert.TypeRule},
			basis: BasisGeneratedDestinations,
			want:  []string{"high-up", "all"},
		},
		{
			name:    "named destination still filters by alert type",
			in:      Input{GeneratedDestinations: []string{"errors", "all"}, StaticSeverity: alert.SeverityHigh, Type: alert.TypeRule},
			basis:   BasisGeneratedDestinations,
			want:    []string{"all"},
			skipped: []string{"errors"},
		},
		{
			name:    "named destination still filters by log type",
			in:      Input{OverrideDestinations: []string{"audit"}, StaticSeverity: alert.SeverityHigh, Type: alert.TypeRule, LogTypes: []string{"AWS.CloudTrail"}},
			basis:   BasisDestinationOverride,
			want:    nil,
			skipped: []string{"audit"},
		},
		{
			name:    "unknown and repeated names",
			in:      Input{GeneratedDestinations: []string{"nope", "all", "all"}, StaticSeverity: alert.SeverityHigh, Type: alert.TypeRule},
			basis:   BasisGeneratedDestinations,
			want:    []string{"all"},
			skipped: []string{"nope"},
		},
		{
			name:    "alert type filter",
			in:      Input{StaticSeverity: alert.SeverityCritical, Type: alert.TypeSystemError},
			basis:   BasisStaticSeverity,
			want:    []string{"all", "critical-only", "high-up", "errors"},
			skipped: []string{"audit"},
		},
		{
			name:    "log type filter matches case-insensitively",
			in:      Input{StaticSeverity: alert.SeverityInfo, Type: alert.TypeRule, LogTypes: []string{"atlassian.audit"}},
			basis:   BasisStaticSeverity,
			want:    []string{"all", "audit"},
			skipped: []string{"critical-only", "high-up", "errors"},
		},
		{
			name:    "no destination matches",
			in:      Input{StaticSeverity: alert.SeverityInfo, Type: alert.TypeRule},
			basis:   BasisStaticSeverity,
			want:    []string{"all"},
			skipped: []string{"critical-only", "high-up", "errors", "audit"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Route(tt.in, dests)
			if d.Basis != tt.basis {
				t.Errorf("basis = %q, want %q", d.Basis, tt.basis)
			}
			if !slices.Equal(d.Destinations, tt.want) {
				t.Errorf("destinations = %q, want %q", d.Destinations, tt.want)
			}
			var skipped []string
			for _, s := range d.Skipped {
				if s.Reason == "" {
					t.Errorf("skip of %s has no reason", s.Destination)
				}
				skipped = append(skipped, s.Destination)
			}
			if !slices.Equal(skipped, tt.skipped) {
				t.Errorf("skipped = %q, want %q", skipped, tt.skipped)
			}
		})
	}
}

func TestRouteNoDestinationsConfigured(t *testing.T) {
	d := Route(Input{StaticSeverity: alert.SeverityHigh, Type: alert.TypeRule}, nil)
	if len(d.Destinations) != 0 {
		t.Fatalf("destinations = %q, want none", d.Destinations)
	}
	if got, want := d.String(), "no destination (by static severity)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestInputOf(t *testing.T) {
	plain := &alert.Alert{Severity: alert.SeverityHigh, Type: alert.TypeRule}
	if in := InputOf(plain); in.StaticSeverity != alert.SeverityHigh || in.GeneratedSeverity != "" {
		t.Errorf("alert without static severity: %+v", in)
	}
	generated := &alert.Alert{Severity: alert.SeverityCritical, StaticSeverity: alert.SeverityLow}
	if in := InputOf(generated); in.GeneratedSeverity != alert.SeverityCritical || in.StaticSeverity != alert.SeverityLow {
		t.Errorf("alert with generated severity: %+v", in)
	}
}
