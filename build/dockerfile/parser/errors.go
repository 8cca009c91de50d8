package parser

import "errors"

// LocationError is an error with the places in the Dockerfile it is about.
type LocationError struct {
	// Locations holds one list of line ranges per place.
	Locations [][]Range
	error
}

// Unwrap returns the error without its location.
func (e *LocationError) Unwrap() error { return e.error }

// Range is a section of the Dockerfile.
type Range struct {
	Start Position
	End   Position
}

// Position is a point in the Dockerfile; lines count from 1.
type Position struct {
	Line      int
	Character int
}

// WithLocation adds location to err: to its LocationError if it has one, else by wrapping it
// in one. A nil err stays nil.
func WithLocation(err error, location []Range) error {
	return setLocation(err, location, true)
}

// SetLocation is WithLocation replacing any location err already has.
func SetLocation(err error, location []Range) error {
	return setLocation(err, location, false)
}

func setLocation(err error, location []Range, add bool) error {
	if err == nil {
		return nil
	}
	var le *LocationError
	if errors.As(err, &le) {
		if add {
			le.Locations = append(le.Locations, location)
		} else {
			le.Locations = [][]Range{location}
		}
		return err
	}
	return &LocationError{error: err, Locations: [][]Range{location}}
}

func withLocation(err error, start, end int) error {
	return WithLocation(err, toRanges(start, end))
}

// toRanges is one range per line from start to end (just start when end is before it).
func toRanges(start, end int) []Range {
	end = max(end, start)
	r := make([]Range, 0, end-start+1)
	for i := start; i <= end; i++ {
		r = append(r, Range{Start: Position{Line: i}, End: Position{Line: i}})
	}
	return r
}
