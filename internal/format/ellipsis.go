package format

import (
	"unicode/utf8"

	"golang.org/x/text/width"
)

// Ellipsis shortens s to at most maxWidth display columns, ending it with "…" when it had to cut,
// as docker/cli's formatter.Ellipsis does (East Asian wide characters take two columns).
func Ellipsis(s string, maxWidth int) string {
	if maxWidth <= 0 {
		return ""
	}
	rs := []rune(s)
	if maxWidth == 1 {
		if len(rs) == 0 {
			return ""
		}
		return string(rs[0])
	}
	if len(s) == utf8.RuneCountInString(s) { // ASCII only: one column per byte
		if len(s) <= maxWidth {
			return s
		}
		return string(rs[:maxWidth-1]) + "…"
	}
	total := 0
	for _, r := range rs {
		total += charWidth(r)
	}
	if total <= maxWidth {
		return s
	}
	used := 0
	for i, r := range rs {
		if used+charWidth(r) > maxWidth-1 {
			return string(rs[:i]) + "…"
		}
		used += charWidth(r)
	}
	return s
}

func charWidth(r rune) int {
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}
