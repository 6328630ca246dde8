package httpapi

import (
	"encoding/json"
	"reflect"

	"github.com/danielgtaylor/huma/v2"
)

// Nullable is a PATCH field that tells apart "absent" (leave alone),
// null (clear) and a value (set).
type Nullable[T any] struct {
	Set   bool // the field was present
	Null  bool // it was null
	Value T
}

// UnmarshalJSON records presence and null-ness.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.Set = true
	if string(b) == "null" {
		n.Null = true
		return nil
	}
	return json.Unmarshal(b, &n.Value)
}

// Schema makes the OpenAPI type "T or null".
func (n Nullable[T]) Schema(r huma.Registry) *huma.Schema {
	var zero T
	s := huma.SchemaFromType(r, reflectTypeOf(zero))
	cp := *s
	cp.Nullable = true
	return &cp
}

// Ptr returns the value as a pointer when set to a value, else nil.
func (n Nullable[T]) Ptr() *T {
	if !n.Set || n.Null {
		return nil
	}
	v := n.Value
	return &v
}

func reflectTypeOf(v any) reflect.Type { return reflect.TypeOf(v) }
