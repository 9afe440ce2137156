package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePropertiesGrammar(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  map[string]string
	}{
		{"equals", "a=b", map[string]string{"a": "b"}},
		{"colon", "a:b", map[string]string{"a": "b"}},
		{"space separator", "a b", map[string]string{"a": "b"}},
		{"spaces around equals", "a   =   b", map[string]string{"a": "b"}},
		{"tab and form feed separators", "a\t=\fb", map[string]string{"a": "b"}},
		{"only one separator consumed", "a==b", map[string]string{"a": "=b"}},
		{"space then colon then equals", "a : =b", map[string]string{"a": "=b"}},
		{"trailing whitespace kept in value", "a=b  ", map[string]string{"a": "b  "}},
		{"leading whitespace of line skipped", "   a=b", map[string]string{"a": "b"}},
		{"key without value", "a", map[string]string{"a": ""}},
		{"key with separator no value", "a=", map[string]string{"a": ""}},
		{"empty key", "=b", map[string]string{"": "b"}},
		{"hash comment", "# a=b\nc=d", map[string]string{"c": "d"}},
		{"bang comment", "! a=b\nc=d", map[string]string{"c": "d"}},
		{"indented comment", "   # a=b", map[string]string{}},
		{"hash inside value is literal", "a=b#c", map[string]string{"a": "b#c"}},
		{"blank lines", "\n\n  \t\na=b\n\n", map[string]string{"a": "b"}},
		{"CRLF", "a=b\r\nc=d\r\n", map[string]string{"a": "b", "c": "d"}},
		{"CR only", "a=b\rc=d", map[string]string{"a": "b", "c": "d"}},
		{"continuation", "a=b\\\n   c", map[string]string{"a": "bc"}},
		{"continuation across CRLF", "a=b\\\r\n  c\r\n", map[string]string{"a": "bc"}},
		{"multiple continuations", "a=1,\\\n 2,\\\n\t3", map[string]string{"a": "1,2,3"}},
		{"continuation in key", "ke\\\n  y=v", map[string]string{"key": "v"}},
		{"even backslashes do not continue", "a=b\\\\\nc=d", map[string]string{"a": "b\\", "c": "d"}},
		{"comment does not continue", "# x \\\na=b", map[string]string{"a": "b"}},
		{"continuation onto comment-looking line", "a=b\\\n#c", map[string]string{"a": "b#c"}},
		{"continuation at end of input", "a=b\\", map[string]string{"a": "b"}},
		{"continuation onto blank line", "a=b\\\n\nc=d", map[string]string{"a": "b", "c": "d"}},
		{"escaped separator in key", "a\\=b=c", map[string]string{"a=b": "c"}},
		{"escaped colon in key", "a\\:b:c", map[string]string{"a:b": "c"}},
		{"escaped space in key", "a\\ b c", map[string]string{"a b": "c"}},
		{"escapes", `a=\t\n\r\f\\\q`, map[string]string{"a": "\t\n\r\f\\q"}},
		{"unicode escape", `a=\u0041\u00e9`, map[string]string{"a": "Aé"}},
		{"surrogate pair", `a=\uD83D\uDE00`, map[string]string{"a": "😀"}},
		{"latin1 bytes", "a=\xe9", map[string]string{"a": "é"}},
		{"last duplicate wins", "a=1\na=2", map[string]string{"a": "2"}},
		{"kafka sample lines", "log.dirs=/tmp/kraft-combined-logs\nlisteners=PLAINTEXT://:9092,CONTROLLER://:9093",
			map[string]string{"log.dirs": "/tmp/kraft-combined-logs", "listeners": "PLAINTEXT://:9092,CONTROLLER://:9093"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProperties([]byte(tt.input))
			if err != nil {
				t.Fatalf("ParseProperties(%q): %v", tt.input, err)
			}
			got := map[string]string{}
			for _, k := range p.Keys() {
				got[k], _ = p.Get(k)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseProperties(%q) = %q, want %q", tt.input, got, tt.want)
			}
		})
	}
}

func TestParsePropertiesErrors(t *testing.T) {
	tests := []struct{ input, wantErr string }{
		{"a=\\u12", "line 1"},
		{"x=1\na=\\u12zz", "line 2"},
		{"\\uXYZW=1", "malformed"},
	}
	for _, tt := range tests {
		_, err := ParseProperties([]byte(tt.input))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseProperties(%q) error = %v, want containing %q", tt.input, err, tt.wantErr)
		}
	}
}

func TestPropertiesLineNumbers(t *testing.T) {
	p, err := ParseProperties([]byte("# c\n\na=1\\\n  2\nb=3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Line("a"); got != 3 {
		t.Errorf("Line(a) = %d, want 3", got)
	}
	if got := p.Line("b"); got != 5 {
		t.Errorf("Line(b) = %d, want 5", got)
	}
}

func TestFormatPropertiesRoundTrip(t *testing.T) {
	values := map[string]string{
		"plain":       "value",
		"key with sp": " leading and inner space",
		"sep=:#!":     "a=b:c#d!e\\f",
		"ctl":         "tab\tnl\ncr\rff\f",
		"unicode":     "é😀",
		"empty":       "",
	}
	keys := []string{"plain", "key with sp", "sep=:#!", "ctl", "unicode", "empty"}
	data := FormatProperties([]string{"", "comment"}, keys, values)
	if !strings.HasPrefix(string(data), "#\n#comment\nplain=value\n") {
		t.Fatalf("unexpected prefix: %q", data)
	}
	if !strings.Contains(string(data), "unicode=\\u00E9\\uD83D\\uDE00\n") {
		t.Fatalf("unicode not escaped as Java does: %q", data)
	}
	p, err := ParseProperties(data)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range values {
		if got, ok := p.Get(k); !ok || got != want {
			t.Errorf("round trip %q = %q (%v), want %q", k, got, ok, want)
		}
	}
	if p.Len() != len(values) {
		t.Errorf("round trip has %d keys, want %d", p.Len(), len(values))
	}
}

func FuzzParseProperties(f *testing.F) {
	f.Add([]byte("a=b\\\n c\n#x\n\\u0041:1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProperties(data)
		if err != nil {
			return
		}
		// Whatever parses must survive a write and a re-read unchanged.
		keys := p.Keys()
		values := map[string]string{}
		for _, k := range keys {
			values[k], _ = p.Get(k)
		}
		again, err := ParseProperties(FormatProperties(nil, keys, values))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		for _, k := range keys {
			if got, _ := again.Get(k); got != values[k] {
				t.Fatalf("key %q: %q after round trip, want %q", k, got, values[k])
			}
		}
	})
}
