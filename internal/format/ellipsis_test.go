package format

import "testing"

func TestEllipsis(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"", 45, ""},
		{"short", 45, "short"},
		{"MySQL is a widely used, open-source relational database management system (RDBMS).", 45, "MySQL is a widely used, open-source relation…"},
		{"abcdef", 6, "abcdef"},
		{"abcdefg", 6, "abcde…"},
		{"abc", 1, "a"},
		{"abc", 0, ""},
		{"你好世界你好", 6, "你好…"},
		{"你好世", 6, "你好世"},
		{"é clair", 7, "é clair"},
		{"é clair net", 7, "é clai…"},
	} {
		if got := Ellipsis(tc.in, tc.max); got != tc.want {
			t.Errorf("Ellipsis(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}
