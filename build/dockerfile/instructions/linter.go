package instructions

import (
	"fmt"

	"github.com/berth-project/berth/build/dockerfile/parser"
)

// LintWarnFunc receives a lint warning: the rule's name, description and documentation URL,
// the message and where it applies.
type LintWarnFunc func(rulename, description, url, fmtmsg string, location []parser.Range)

// Linter reports the style warnings Parse finds (the subset of BuildKit's checks that parsing
// does: MaintainerDeprecated, StageNameCasing, FromAsCasing). A nil *Linter, or one without
// Warn, reports nothing.
type Linter struct {
	Warn LintWarnFunc
	// SkipRules are rule names not to report.
	SkipRules []string
}

type lintRule struct{ name, description, url string }

var (
	ruleMaintainerDeprecated = lintRule{"MaintainerDeprecated", "The MAINTAINER instruction is deprecated, use a label instead to define an image author", "https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/"}
	ruleStageNameCasing      = lintRule{"StageNameCasing", "Stage names should be lowercase", "https://docs.docker.com/go/dockerfile/rule/stage-name-casing/"}
	ruleFromAsCasing         = lintRule{"FromAsCasing", "The 'as' keyword should match the case of the 'from' keyword", "https://docs.docker.com/go/dockerfile/rule/from-as-casing/"}
)

func (l *Linter) run(r lintRule, location []parser.Range, format string, args ...any) {
	if l == nil || l.Warn == nil {
		return
	}
	for _, s := range l.SkipRules {
		if s == r.name {
			return
		}
	}
	l.Warn(r.name, r.description, r.url, fmt.Sprintf(format, args...), location)
}
