package instructions

import "strings"

// suggestedError is an error with the closest valid name ("did you mean ...?").
type suggestedError struct {
	err   error
	match string
}

func (e *suggestedError) Error() string { return e.err.Error() + " (did you mean " + e.match + "?)" }

func (e *suggestedError) Unwrap() error { return e.err }

// suggestError adds to err the option closest to val (edit distance below 3), matching val's
// case when the comparison is not case-sensitive. An exact match or none leaves err as is.
func suggestError(err error, val string, options []string, caseSensitive bool) error {
	orig := val
	if !caseSensitive {
		val = strings.ToLower(val)
	}
	match, best := "", 3
	for _, opt := range options {
		if !caseSensitive {
			opt = strings.ToLower(opt)
		}
		if opt == val {
			return err
		}
		// The closest option wins; of equally close ones, the first in alphabetical order.
		if d := editDistance(val, opt); d < best || (d == best && opt < match) {
			match, best = opt, d
		}
	}
	if match == "" {
		return err
	}
	if !caseSensitive {
		switch orig {
		case strings.ToLower(orig):
			match = strings.ToLower(match)
		case strings.ToUpper(orig):
			match = strings.ToUpper(match)
		}
	}
	return &suggestedError{err: err, match: match}
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
