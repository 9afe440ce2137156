package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf16"
)

// Properties is a parsed Java .properties file: keys to values, where a later line for the
// same key replaces an earlier one (as java.util.Properties.load does). Line remembers the
// line on which each key's value started, for error messages.
type Properties struct {
	values map[string]string
	lines  map[string]int
}

// NewProperties returns an empty Properties.
func NewProperties() *Properties {
	return &Properties{values: map[string]string{}, lines: map[string]int{}}
}

// Get returns the value of key and whether it is set.
func (p *Properties) Get(key string) (string, bool) {
	v, ok := p.values[key]
	return v, ok
}

// Line returns the 1-based line on which key's value started, or 0 if it was set by Set.
func (p *Properties) Line(key string) int { return p.lines[key] }

// Set sets key to value.
func (p *Properties) Set(key, value string) {
	p.values[key] = value
	delete(p.lines, key)
}

// Len returns the number of keys.
func (p *Properties) Len() int { return len(p.values) }

// Keys returns every key, sorted.
func (p *Properties) Keys() []string {
	return slices.Sorted(maps.Keys(p.values))
}

// ParseProperties parses a .properties file with java.util.Properties.load(InputStream)'s
// grammar, which is how Kafka reads server.properties and meta.properties:
//   - the input is ISO-8859-1: each byte is one character (non-ASCII text must use \uXXXX);
//   - natural lines end at \n, \r or \r\n; a line ending in an odd number of backslashes
//     continues on the next line, whose leading whitespace is dropped;
//   - whitespace is space, \t and \f; blank lines are skipped; a line whose first
//     non-whitespace character is # or ! is a comment (and never continues);
//   - the key runs to the first unescaped '=', ':' or whitespace; whitespace, then at most one
//     '=' or ':', then whitespace separate it from the value, which runs to the end of the
//     logical line (trailing whitespace kept);
//   - escapes: \t \n \r \f, \uXXXX (exactly four hex digits, else an error), and \c for any
//     other c stands for c itself.
func ParseProperties(data []byte) (*Properties, error) {
	p := NewProperties()
	r := lineReader{data: data}
	for {
		logical, lineNo, ok := r.next()
		if !ok {
			return p, nil
		}
		key, value, err := splitKeyValue(logical)
		if err != nil {
			return nil, fmt.Errorf("properties line %d: %w", lineNo, err)
		}
		p.values[key] = value
		p.lines[key] = lineNo
	}
}

// lineReader yields logical lines (continuations joined, comments and blank lines skipped),
// still escaped, with the line number each started on.
type lineReader struct {
	data []byte
	pos  int
	line int // natural lines consumed so far
}

func isPropertiesSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

// naturalLine returns the next natural line without its terminator.
func (r *lineReader) naturalLine() ([]byte, bool) {
	if r.pos >= len(r.data) {
		return nil, false
	}
	start := r.pos
	for r.pos < len(r.data) && r.data[r.pos] != '\n' && r.data[r.pos] != '\r' {
		r.pos++
	}
	line := r.data[start:r.pos]
	if r.pos < len(r.data) {
		if r.data[r.pos] == '\r' && r.pos+1 < len(r.data) && r.data[r.pos+1] == '\n' {
			r.pos++
		}
		r.pos++
	}
	r.line++
	return line, true
}

// endsInContinuation reports whether line ends with an odd number of backslashes.
func endsInContinuation(line []byte) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func (r *lineReader) next() (string, int, bool) {
	for {
		line, ok := r.naturalLine()
		if !ok {
			return "", 0, false
		}
		startLine := r.line
		i := 0
		for i < len(line) && isPropertiesSpace(line[i]) {
			i++
		}
		line = line[i:]
		if len(line) == 0 || line[0] == '#' || line[0] == '!' {
			continue
		}
		var b strings.Builder
		for endsInContinuation(line) {
			b.Write(line[:len(line)-1])
			nextLine, ok := r.naturalLine()
			if !ok {
				// A continuation at the end of input continues into nothing (Java drops it).
				line = nil
				break
			}
			j := 0
			for j < len(nextLine) && isPropertiesSpace(nextLine[j]) {
				j++
			}
			line = nextLine[j:]
		}
		b.Write(line)
		return b.String(), startLine, true
	}
}

// splitKeyValue splits one logical line into its unescaped key and value.
func splitKeyValue(line string) (string, string, error) {
	keyEnd := len(line)
	valueStart := len(line)
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == '\\' {
			i++ // the escaped character never ends the key
			continue
		}
		if c == '=' || c == ':' {
			keyEnd, valueStart = i, i+1
			break
		}
		if isPropertiesSpace(c) {
			keyEnd = i
			j := i + 1
			for j < len(line) && isPropertiesSpace(line[j]) {
				j++
			}
			if j < len(line) && (line[j] == '=' || line[j] == ':') {
				j++
			}
			valueStart = j
			break
		}
	}
	for valueStart < len(line) && isPropertiesSpace(line[valueStart]) {
		valueStart++
	}
	key, err := unescapeProperty(line[:keyEnd])
	if err != nil {
		return "", "", fmt.Errorf("key %q: %w", line[:keyEnd], err)
	}
	value, err := unescapeProperty(line[valueStart:])
	if err != nil {
		return "", "", fmt.Errorf("value of key %q: %w", key, err)
	}
	return key, value, nil
}

// unescapeProperty resolves backslash escapes. Bytes are ISO-8859-1 characters and \uXXXX
// escapes are UTF-16 code units (a surrogate pair makes one character), as in Java.
func unescapeProperty(s string) (string, error) {
	units := make([]uint16, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			units = append(units, uint16(c)) // ISO-8859-1: the byte is the code point
			continue
		}
		i++
		if i >= len(s) {
			break // a lone trailing backslash stands for nothing
		}
		switch c = s[i]; c {
		case 't':
			units = append(units, '\t')
		case 'n':
			units = append(units, '\n')
		case 'r':
			units = append(units, '\r')
		case 'f':
			units = append(units, '\f')
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("malformed \\uxxxx encoding")
			}
			var unit uint16
			for _, h := range []byte(s[i+1 : i+5]) {
				var d byte
				switch {
				case h >= '0' && h <= '9':
					d = h - '0'
				case h >= 'a' && h <= 'f':
					d = h - 'a' + 10
				case h >= 'A' && h <= 'F':
					d = h - 'A' + 10
				default:
					return "", fmt.Errorf("malformed \\uxxxx encoding")
				}
				unit = unit<<4 | uint16(d)
			}
			units = append(units, unit)
			i += 4
		default:
			units = append(units, uint16(c))
		}
	}
	return string(utf16.Decode(units)), nil
}

// FormatProperties writes entries in Properties.store's escaping, one key=value per line, in
// the order given. header lines are written first, each prefixed with '#'.
func FormatProperties(header []string, keys []string, values map[string]string) []byte {
	var b strings.Builder
	for _, h := range header {
		b.WriteString("#")
		b.WriteString(h)
		b.WriteString("\n")
	}
	for _, k := range keys {
		b.WriteString(escapeProperty(k, true))
		b.WriteString("=")
		b.WriteString(escapeProperty(values[k], false))
		b.WriteString("\n")
	}
	return []byte(b.String())
}

// escapeProperty is Properties.saveConvert with escUnicode (store(OutputStream)): a space is
// escaped everywhere in a key but only when leading in a value.
func escapeProperty(s string, isKey bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == ' ':
			if i == 0 || isKey {
				b.WriteString("\\ ")
			} else {
				b.WriteByte(' ')
			}
		case r == '\t':
			b.WriteString("\\t")
		case r == '\n':
			b.WriteString("\\n")
		case r == '\r':
			b.WriteString("\\r")
		case r == '\f':
			b.WriteString("\\f")
		case r == '=' || r == ':' || r == '#' || r == '!' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				// Java strings are UTF-16: a supplementary character is two \u escapes.
				r1, r2 := utf16.EncodeRune(r)
				writeUnicodeEscape(&b, r1)
				writeUnicodeEscape(&b, r2)
			} else {
				writeUnicodeEscape(&b, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// writeUnicodeEscape writes \uXXXX with upper-case hex digits, as Java's saveConvert does.
func writeUnicodeEscape(b *strings.Builder, r rune) {
	const hexDigits = "0123456789ABCDEF"
	b.WriteString("\\u")
	for shift := 12; shift >= 0; shift -= 4 {
		b.WriteByte(hexDigits[(r>>shift)&0xf])
	}
}
