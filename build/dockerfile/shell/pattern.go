package shell

// pattern is a shell wildcard pattern of ${VAR#...}, ${VAR%...} and ${VAR/.../...}: '*' matches
// any run of characters, '?' one character, and a backslash makes the next character literal.
// Bracket expressions are not supported (as in BuildKit).
type pattern []patternItem

type patternItem struct {
	kind byte // 'l' literal, '?' any one character, '*' any run
	ch   rune
}

func compilePattern(s string) pattern {
	rs := []rune(s)
	p := make(pattern, 0, len(rs))
	for i := 0; i < len(rs); i++ {
		switch ch := rs[i]; {
		case ch == '*':
			if len(p) == 0 || p[len(p)-1].kind != '*' {
				p = append(p, patternItem{kind: '*'})
			}
		case ch == '?':
			p = append(p, patternItem{kind: '?'})
		case ch == '\\' && i+1 < len(rs):
			i++
			p = append(p, patternItem{kind: 'l', ch: rs[i]})
		default:
			p = append(p, patternItem{kind: 'l', ch: ch})
		}
	}
	return p
}

// match reports whether p matches all of s.
func (p pattern) match(s []rune) bool {
	// Iterative matching with backtracking to the last star.
	pi, si := 0, 0
	star, starS := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi].kind == '?' || (p[pi].kind == 'l' && p[pi].ch == s[si])):
			pi++
			si++
		case pi < len(p) && p[pi].kind == '*':
			star, starS = pi, si
			pi++
		case star >= 0:
			starS++
			pi, si = star+1, starS
		default:
			return false
		}
	}
	for pi < len(p) && p[pi].kind == '*' {
		pi++
	}
	return pi == len(p)
}

// trimPrefix removes the shortest (greedy: longest) prefix of value that p matches.
func (p pattern) trimPrefix(value string, greedy bool) string {
	v := []rune(value)
	for n := range len(v) + 1 {
		if greedy {
			n = len(v) - n
		}
		if p.match(v[:n]) {
			return string(v[n:])
		}
	}
	return value
}

// trimSuffix removes the shortest (greedy: longest) suffix of value that p matches.
func (p pattern) trimSuffix(value string, greedy bool) string {
	v := []rune(value)
	for n := range len(v) + 1 {
		start := len(v) - n
		if greedy {
			start = n
		}
		if p.match(v[start:]) {
			return string(v[:start])
		}
	}
	return value
}

// replace replaces the first (all: every) longest match of p in value with repl.
func (p pattern) replace(value, repl string, all bool) string {
	v := []rune(value)
	var out []rune
	r := []rune(repl)
	lastEnd := -1
	for i := 0; i <= len(v); {
		end := -1
		for e := len(v); e >= i; e-- {
			if p.match(v[i:e]) {
				end = e
				break
			}
		}
		// An empty match right after a match is not a new one.
		if end < 0 || (end == i && i == lastEnd) {
			if i < len(v) {
				out = append(out, v[i])
			}
			i++
			continue
		}
		out = append(out, r...)
		lastEnd = end
		if !all {
			return string(append(out, v[end:]...))
		}
		if end == i {
			if i < len(v) {
				out = append(out, v[i])
			}
			i++
		} else {
			i = end
		}
	}
	return string(out)
}
