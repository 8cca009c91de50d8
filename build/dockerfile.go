package build

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/berth-project/berth/build/dockerfile/instructions"
	"github.com/berth-project/berth/build/dockerfile/parser"
	"github.com/berth-project/berth/internal/errdefs"
)

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	// Stages are the build stages, each starting with its FROM.
	Stages []instructions.Stage
	// MetaArgs are the ARG instructions before the first FROM.
	MetaArgs []instructions.ArgCommand
	// Escape is the escape character (the "# escape=" directive; '\\' by default).
	Escape rune
	// Warnings are the parser's warnings (empty continuation lines), as Docker prints them.
	Warnings []string
}

// Parse reads a Dockerfile (name is how messages call it) with BuildKit's parser, the one
// Docker's classic builder uses: line continuations, comments, parser directives, JSON and shell
// forms, heredocs. Errors are Docker's ("dockerfile parse error on line 2: unknown instruction:
// FOO") and errors.Is(err, errdefs.ErrInvalid).
func Parse(r io.Reader, name string) (*Dockerfile, error) {
	br := bufio.NewReader(r)
	if _, err := br.Peek(1); err == io.EOF {
		return nil, errdefs.Invalid(fmt.Sprintf("the Dockerfile (%s) cannot be empty", name))
	}
	res, err := parser.Parse(br)
	if err != nil {
		return nil, errdefs.Invalid(err.Error())
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, errdefs.Invalid(parseErrorMessage(err))
	}
	df := &Dockerfile{Stages: stages, MetaArgs: metaArgs, Escape: res.EscapeToken}
	for _, w := range res.Warnings {
		df.Warnings = append(df.Warnings, "[WARNING]: "+w.Short)
	}
	if len(res.Warnings) > 0 {
		df.Warnings = append(df.Warnings, "[WARNING]: Empty continuation lines will become errors in a future release.")
	}
	return df, nil
}

// parseErrorMessage gives err the line it happened on when BuildKit's message does not say it
// ("no build stage in current context" for an instruction before the first FROM).
func parseErrorMessage(err error) string {
	msg := err.Error()
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line := le.Locations[0][0].Start.Line
		prefix := fmt.Sprintf("dockerfile parse error on line %d: ", line)
		if len(msg) < len(prefix) || msg[:len(prefix)] != prefix {
			return prefix + msg
		}
	}
	return msg
}
