package suggest

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"Threshold", "DedupPeriodMinutes", "Tests", "Tags"}
	for _, tc := range []struct{ in, want string }{
		{"Treshold", "Threshold"},
		{"Test", "Tests"},
		{"Tag", "Tags"},
		{"Nothing", ""},
		{"", ""},
	} {
		if got := Closest(tc.in, known); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if d := Distance("kitten", "sitting"); d != 3 {
		t.Errorf("Distance = %d, want 3", d)
	}
}
