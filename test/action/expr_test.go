package action_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
)

// evalExpr evaluates the subset of GitHub Actions expressions action.yml
// uses: context lookups (inputs.x, steps.id.outputs.x, github.x, runner.x,
// env.X), 'string' literals, true/false, ==, != (case-insensitive for
// strings, as GitHub compares), !, &&, || and parentheses. Anything else is
// an error.
func evalExpr(src string, ctx *exprContext) (any, error) {
	p := &exprParser{src: src, ctx: ctx}
	p.next()
	v, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok != "" {
		return nil, fmt.Errorf("unexpected %q after the expression", p.tok)
	}
	return v, nil
}

type exprParser struct {
	src string
	pos int
	tok string
	ctx *exprContext
}

// next reads the next token into p.tok ("" at the end).
func (p *exprParser) next() {
	for p.pos < len(p.src) && p.src[p.pos] == ' ' {
		p.pos++
	}
	if p.pos >= len(p.src) {
		p.tok = ""
		return
	}
	rest := p.src[p.pos:]
	for _, op := range []string{"==", "!=", "&&", "||", "!", "(", ")"} {
		if strings.HasPrefix(rest, op) {
			p.tok = op
			p.pos += len(op)
			return
		}
	}
	if rest[0] == '\'' {
		end := 1
		for end < len(rest) {
			if rest[end] == '\'' {
				if end+1 < len(rest) && rest[end+1] == '\'' {
					end += 2
					continue
				}
				break
			}
			end++
		}
		p.tok = rest[:end+1]
		p.pos += end + 1
		return
	}
	end := 0
	for end < len(rest) && (unicode.IsLetter(rune(rest[end])) || unicode.IsDigit(rune(rest[end])) || strings.ContainsRune("._-", rune(rest[end]))) {
		end++
	}
	if end == 0 {
		end = 1
	}
	p.tok = rest[:end]
	p.pos += end
}

func (p *exprParser) or() (any, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.tok == "||" {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		if !truthy(l) {
			l = r
		}
	}
	return l, nil
}

func (p *exprParser) and() (any, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.tok == "&&" {
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		if truthy(l) {
			l = r
		}
	}
	return l, nil
}

func (p *exprParser) unary() (any, error) {
	if p.tok == "!" {
		p.next()
		v, err := p.unary()
		if err != nil {
			return nil, err
		}
		return !truthy(v), nil
	}
	return p.cmp()
}

func (p *exprParser) cmp() (any, error) {
	l, err := p.primary()
	if err != nil {
		return nil, err
	}
	if op := p.tok; op == "==" || op == "!=" {
		p.next()
		r, err := p.primary()
		if err != nil {
			return nil, err
		}
		eq := strings.EqualFold(toString(l), toString(r))
		return eq == (op == "=="), nil
	}
	return l, nil
}

func (p *exprParser) primary() (any, error) {
	tok := p.tok
	switch {
	case tok == "":
		return nil, fmt.Errorf("expression ends early")
	case tok == "(":
		p.next()
		v, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.tok != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.next()
		return v, nil
	case strings.HasPrefix(tok, "'"):
		p.next()
		return strings.ReplaceAll(tok[1:len(tok)-1], "''", "'"), nil
	case tok == "true" || tok == "false":
		p.next()
		return tok == "true", nil
	}
	p.next()
	if p.tok == "(" {
		return nil, fmt.Errorf("function %s() is not supported by this harness", tok)
	}
	return p.lookup(tok)
}

func (p *exprParser) lookup(path string) (any, error) {
	parts := strings.Split(path, ".")
	table := map[string]map[string]string{"inputs": p.ctx.inputs, "github": p.ctx.github, "runner": p.ctx.runner, "env": p.ctx.env}
	switch {
	case parts[0] == "steps" && len(parts) == 4 && parts[2] == "outputs":
		return p.ctx.steps[parts[1]][parts[3]], nil // a skipped step's outputs are empty
	case len(parts) == 2 && table[parts[0]] != nil:
		if parts[0] == "inputs" {
			if _, ok := p.ctx.inputs[parts[1]]; !ok {
				return nil, fmt.Errorf("inputs.%s is not declared", parts[1])
			}
		}
		v, ok := table[parts[0]][parts[1]]
		if !ok && parts[0] != "env" {
			return nil, fmt.Errorf("%s is not known to this harness", path)
		}
		return v, nil
	}
	return nil, fmt.Errorf("%q is not a context lookup this harness supports", path)
}

func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v != ""
	}
	return v != nil
}

func toString(v any) string {
	switch v := v.(type) {
	case bool:
		if v {
			return "true"
		}
		return "false"
	case string:
		return v
	}
	return ""
}

func TestExprSubset(t *testing.T) {
	ctx := &exprContext{
		inputs: map[string]string{"mode": "build", "tpm": "auto", "empty": ""},
		steps:  map[string]map[string]string{"go": {"found": "true"}},
		github: map[string]string{"action_path": "/a"},
		runner: map[string]string{"temp": "/t"},
		env:    map[string]string{"X": "x"},
	}
	for _, tc := range []struct {
		expr string
		want string
	}{
		{"inputs.mode == 'build'", "true"},
		{"inputs.mode == 'BUILD'", "true"},
		{"inputs.mode != 'build' && inputs.mode != 'verify'", "false"},
		{"inputs.mode == 'verify' || inputs.tpm == 'auto'", "true"},
		{"steps.go.outputs.found != 'true'", "false"},
		{"steps.missing.outputs.found != 'true'", "true"},
		{"!(inputs.empty)", "true"},
		{" github.action_path ", "/a"},
		{"runner.temp", "/t"},
		{"env.X", "x"},
		{"'it''s'", "it's"},
	} {
		v, err := evalExpr(tc.expr, ctx)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if got := toString(v); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.expr, got, tc.want)
		}
	}
	for _, bad := range []string{"inputs.nope", "success()", "secrets.KEY", "inputs.mode ==", "(inputs.mode", "github.token"} {
		if _, err := evalExpr(bad, ctx); err == nil {
			t.Errorf("%s: evaluated, want an error", bad)
		}
	}
}
