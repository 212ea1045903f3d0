package wire

import (
	"fmt"
	"strings"
)

// Kind is the type tag of an attribute value on the wire.
type Kind uint8

// The attribute value kinds. Their numbers are part of the wire format.
const (
	KindInt    Kind = 1 // int64, 8 bytes big-endian
	KindString Kind = 2 // u32 length + UTF-8
	KindBytes  Kind = 3 // u32 length + octets
	KindList   Kind = 4 // a nested KVList
)

func (k Kind) String() string {
	switch k {
	case KindInt:
		return "int"
	case KindString:
		return "string"
	case KindBytes:
		return "bytes"
	case KindList:
		return "list"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Pair is one attribute: a key and a value of type int64, string, []byte or KVList.
type Pair struct {
	Key   string
	Value any
}

// KVList is an ordered list of attributes, as in T-Lib: keys may repeat and
// order is kept. A message's attributes, its Extensions and its Reasons are all
// KVLists.
type KVList []Pair

// Add appends a pair and returns the list, so that lists can be built inline.
// v must be an int64, int, string, []byte or KVList; other types fail at encode time.
func (l KVList) Add(key string, v any) KVList {
	if i, ok := v.(int); ok {
		v = int64(i)
	}
	return append(l, Pair{Key: key, Value: v})
}

// Get returns the first value stored under key.
func (l KVList) Get(key string) (any, bool) {
	for _, p := range l {
		if p.Key == key {
			return p.Value, true
		}
	}
	return nil, false
}

// String returns the first string value under key, or "".
func (l KVList) String(key string) string {
	v, _ := l.Get(key)
	s, _ := v.(string)
	return s
}

// Int returns the first integer value under key.
func (l KVList) Int(key string) (int64, bool) {
	v, ok := l.Get(key)
	if !ok {
		return 0, false
	}
	i, ok := v.(int64)
	return i, ok
}

// Bytes returns the first octet-string value under key.
func (l KVList) Bytes(key string) []byte {
	v, _ := l.Get(key)
	b, _ := v.([]byte)
	return b
}

// List returns the first nested list under key.
func (l KVList) List(key string) KVList {
	v, _ := l.Get(key)
	n, _ := v.(KVList)
	return n
}

// Set replaces the first value under key, or appends it.
func (l KVList) Set(key string, v any) KVList {
	if i, ok := v.(int); ok {
		v = int64(i)
	}
	for i := range l {
		if l[i].Key == key {
			l[i].Value = v
			return l
		}
	}
	return append(l, Pair{Key: key, Value: v})
}

// Redacted returns a copy fit for a log: the values of secret attributes
// (Password and the like) are replaced, at any depth.
func (l KVList) Redacted() KVList {
	out := make(KVList, len(l))
	for i, p := range l {
		switch v := p.Value.(type) {
		case KVList:
			p.Value = v.Redacted()
		default:
			if isSecret(p.Key) {
				p.Value = "***"
			}
		}
		out[i] = p
	}
	return out
}

// isSecret tells whether a key names a secret: Password, and any key that
// says password in any case (a DN's annex keeps its SIP password as "password").
func isSecret(key string) bool {
	return strings.Contains(strings.ToLower(key), "password")
}
