package fhirpath

import (
	"encoding/base64"
	"encoding/hex"
	"html"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// stringFn adapts a function of the single string input and evaluated
// arguments; an empty input or an empty argument gives an empty result.
func stringFn(nargs int, f func(s string, args []string) ([]Node, error)) func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
	return func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		s, ok, err := singleString(focus, c.name)
		if err != nil || !ok {
			return nil, err
		}
		args := make([]string, 0, nargs)
		for i := range c.args {
			a, ok, err := c.stringArg(e, i, in)
			if err != nil || !ok {
				return nil, err
			}
			args = append(args, a)
		}
		return f(s, args)
	}
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

// regexCache keeps compiled patterns: the same few appear in every
// evaluation of an invariant.
var regexCache sync.Map

func compileRegex(p string) (*regexp.Regexp, error) {
	if r, ok := regexCache.Load(p); ok {
		return r.(*regexp.Regexp), nil
	}
	r, err := regexp.Compile(p)
	if err != nil {
		return nil, evalErr("invalid regular expression %q: %v", p, err)
	}
	regexCache.Store(p, r)
	return r, nil
}

func addStringFunctions(m fnMap) {
	m.add("indexOf", 1, 1, stringFn(1, func(s string, a []string) ([]Node, error) {
		i := strings.Index(s, a[0])
		if i > 0 {
			i = utf8.RuneCountInString(s[:i])
		}
		return []Node{intNode(int64(i))}, nil
	}))
	m.add("lastIndexOf", 1, 1, stringFn(1, func(s string, a []string) ([]Node, error) {
		i := strings.LastIndex(s, a[0])
		if i > 0 {
			i = utf8.RuneCountInString(s[:i])
		}
		return []Node{intNode(int64(i))}, nil
	}))
	m.add("substring", 1, 2, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		s, ok, err := singleString(focus, "substring")
		if err != nil || !ok {
			return nil, err
		}
		start, ok, err := c.intArg(e, 0, in)
		if err != nil || !ok {
			return nil, err
		}
		r := []rune(s)
		if start < 0 || start >= int64(len(r)) {
			return nil, nil
		}
		end := int64(len(r))
		if len(c.args) == 2 {
			n, ok, err := c.intArg(e, 1, in)
			if err != nil {
				return nil, err
			}
			if ok {
				end = min(end, start+max(n, 0))
			}
		}
		return []Node{stringNode(string(r[start:end]))}, nil
	})
	m.add("startsWith", 1, 1, stringFn(1, func(s string, a []string) ([]Node, error) { return boolResult(strings.HasPrefix(s, a[0])) }))
	m.add("endsWith", 1, 1, stringFn(1, func(s string, a []string) ([]Node, error) { return boolResult(strings.HasSuffix(s, a[0])) }))
	m.add("contains", 1, 1, stringFn(1, func(s string, a []string) ([]Node, error) { return boolResult(strings.Contains(s, a[0])) }))
	m.add("upper", 0, 0, stringFn(0, func(s string, a []string) ([]Node, error) { return []Node{stringNode(strings.ToUpper(s))}, nil }))
	m.add("lower", 0, 0, stringFn(0, func(s string, a []string) ([]Node, error) { return []Node{stringNode(strings.ToLower(s))}, nil }))
	m.add("replace", 2, 2, stringFn(2, func(s string, a []string) ([]Node, error) {
		return []Node{stringNode(strings.ReplaceAll(s, a[0], a[1]))}, nil
	}))
	m.add("matches", 1, 1, stringFn(1, func(s string, a []string) ([]Node, error) {
		r, err := compileRegex("(?s)" + a[0])
		if err != nil {
			return nil, err
		}
		return boolResult(r.MatchString(s))
	}))
	m.add("matchesFull", 1, 1, stringFn(1, func(s string, a []string) ([]Node, error) {
		r, err := compileRegex("(?s)^(?:" + a[0] + ")$")
		if err != nil {
			return nil, err
		}
		return boolResult(r.MatchString(s))
	}))
	m.add("replaceMatches", 2, 2, stringFn(2, func(s string, a []string) ([]Node, error) {
		r, err := compileRegex("(?s)" + a[0])
		if err != nil {
			return nil, err
		}
		if a[0] == "" {
			return []Node{stringNode(s)}, nil
		}
		return []Node{stringNode(r.ReplaceAllString(s, a[1]))}, nil
	}))
	m.add("length", 0, 0, stringFn(0, func(s string, a []string) ([]Node, error) {
		return []Node{intNode(int64(utf8.RuneCountInString(s)))}, nil
	}))
	m.add("toChars", 0, 0, stringFn(0, func(s string, a []string) ([]Node, error) {
		var out []Node
		for _, r := range s {
			out = append(out, stringNode(string(r)))
		}
		return out, nil
	}))
	m.add("trim", 0, 0, stringFn(0, func(s string, a []string) ([]Node, error) { return []Node{stringNode(strings.TrimSpace(s))}, nil }))
	m.add("split", 1, 1, stringFn(1, func(s string, a []string) ([]Node, error) {
		var out []Node
		for _, p := range strings.Split(s, a[0]) {
			out = append(out, stringNode(p))
		}
		return out, nil
	}))
	m.add("join", 0, 1, func(e *env, c *callNode, focus, in []Node) ([]Node, error) {
		sep := ""
		if len(c.args) == 1 {
			s, _, err := c.stringArg(e, 0, in)
			if err != nil {
				return nil, err
			}
			sep = s
		}
		parts := make([]string, 0, len(focus))
		for _, n := range focus {
			s, ok := system(n).(string)
			if !ok {
				return nil, evalErr("join() expects strings, got %s", typeName(n))
			}
			parts = append(parts, s)
		}
		return []Node{stringNode(strings.Join(parts, sep))}, nil
	})
	m.add("encode", 1, 1, stringFn(1, func(s string, a []string) ([]Node, error) {
		switch a[0] {
		case "base64":
			return []Node{stringNode(base64.StdEncoding.EncodeToString([]byte(s)))}, nil
		case "urlbase64":
			return []Node{stringNode(base64.URLEncoding.EncodeToString([]byte(s)))}, nil
		case "hex":
			return []Node{stringNode(hex.EncodeToString([]byte(s)))}, nil
		}
		return nil, evalErr("unknown encoding %q", a[0])
	}))
	m.add("decode", 1, 1, stringFn(1, func(s string, a []string) ([]Node, error) {
		var b []byte
		var err error
		switch a[0] {
		case "base64":
			b, err = base64.StdEncoding.DecodeString(s)
		case "urlbase64":
			b, err = base64.URLEncoding.DecodeString(s)
		case "hex":
			b, err = hex.DecodeString(s)
		default:
			return nil, evalErr("unknown encoding %q", a[0])
		}
		if err != nil {
			return nil, nil
		}
		return []Node{stringNode(string(b))}, nil
	}))
	m.add("escape", 1, 1, stringFn(1, func(s string, a []string) ([]Node, error) {
		switch a[0] {
		case "html":
			return []Node{stringNode(htmlEscaper.Replace(s))}, nil
		case "json":
			r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
			return []Node{stringNode(r.Replace(s))}, nil
		case "url":
			return []Node{stringNode(url.QueryEscape(s))}, nil
		}
		return nil, evalErr("unknown escape %q", a[0])
	}))
	m.add("unescape", 1, 1, stringFn(1, func(s string, a []string) ([]Node, error) {
		switch a[0] {
		case "html":
			return []Node{stringNode(html.UnescapeString(s))}, nil
		case "json":
			v, _, err := unquote("'"+strings.ReplaceAll(s, "'", `\'`)+"'", '\'')
			if err != nil {
				return nil, nil
			}
			return []Node{stringNode(v)}, nil
		case "url":
			v, err := url.QueryUnescape(s)
			if err != nil {
				return nil, nil
			}
			return []Node{stringNode(v)}, nil
		}
		return nil, evalErr("unknown escape %q", a[0])
	}))
}
