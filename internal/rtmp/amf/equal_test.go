package amf

import (
	"math"
	"testing"
	"time"
)

func TestEqual(t *testing.T) {
	tests := []struct {
		name string
		a, b any
		want bool
	}{
		{name: "nil", a: nil, b: nil, want: true},
		{name: "nil and undefined", a: nil, b: Undefined{}, want: false},
		{name: "numbers", a: 1.5, b: 1.5, want: true},
		{name: "different numbers", a: 1.5, b: 2.5, want: false},
		{name: "NaN equals NaN", a: math.NaN(), b: math.NaN(), want: true},
		{name: "int32 and float64", a: int32(7), b: 7.0, want: true},
		{name: "int and float64", a: 7, b: 7.0, want: true},
		{name: "int32 and different float64", a: int32(7), b: 7.5, want: false},
		{name: "number and string", a: 1.0, b: "1", want: false},
		{name: "number and bool", a: 1.0, b: true, want: false},
		{name: "strings", a: "a", b: "a", want: true},
		{name: "string and xml document", a: "<a/>", b: XMLDocument("<a/>"), want: false},
		{name: "xml and xml document", a: XML("<a/>"), b: XMLDocument("<a/>"), want: false},
		{
			name: "BallControl moved",
			a:    Object{{"x", 100.0}, {"y", 200.0}},
			b:    Object{{"x", 101.0}, {"y", 200.0}},
			want: false,
		},
		{
			name: "BallControl same place from amf3",
			a:    Object{{"x", 100.0}, {"y", 200.0}},
			b:    Object{{"x", int32(100)}, {"y", int32(200)}},
			want: true,
		},
		{
			name: "object property order matters",
			a:    Object{{"x", 1.0}, {"y", 2.0}},
			b:    Object{{"y", 2.0}, {"x", 1.0}},
			want: false,
		},
		{
			name: "nested change",
			a:    Object{{"o", Object{{"a", StrictArray{1.0, 2.0}}}}},
			b:    Object{{"o", Object{{"a", StrictArray{1.0, 3.0}}}}},
			want: false,
		},
		{name: "object and extra property", a: Object{{"x", 1.0}}, b: Object{{"x", 1.0}, {"y", nil}}, want: false},
		{
			name: "typed objects ignore traits flags",
			a:    &TypedObject{Class: "Pt", Props: Object{{"x", 1.0}}, Sealed: 1},
			b:    &TypedObject{Class: "Pt", Props: Object{{"x", 1.0}}, Dynamic: true},
			want: true,
		},
		{
			name: "typed objects of other classes",
			a:    &TypedObject{Class: "A", Props: Object{}},
			b:    &TypedObject{Class: "B", Props: Object{}},
			want: false,
		},
		{
			name: "classless typed object and object",
			a:    &TypedObject{Props: Object{{"x", 1.0}}, Sealed: 1},
			b:    Object{{"x", 1.0}},
			want: true,
		},
		{name: "typed object and object", a: &TypedObject{Class: "A"}, b: Object{}, want: false},
		{name: "object and ecma array", a: Object{{"x", 1.0}}, b: ECMAArray{{"x", 1.0}}, want: false},
		{
			name: "ecma array and associative array",
			a:    ECMAArray{{"x", 1.0}},
			b:    &Array{Assoc: []Property{{"x", 1.0}}},
			want: true,
		},
		{name: "dense array and strict array", a: &Array{Dense: []any{1.0}}, b: StrictArray{1.0}, want: true},
		{name: "arrays of other lengths", a: StrictArray{1.0}, b: StrictArray{1.0, 1.0}, want: false},
		{name: "slice and strict array", a: []any{"a"}, b: StrictArray{"a"}, want: true},
		{name: "map and object", a: map[string]any{"b": 2, "a": 1}, b: Object{{"a", 1.0}, {"b", 2.0}}, want: true},
		{name: "dates", a: Date{Millis: 5}, b: Date{Millis: 5}, want: true},
		{name: "NaN dates", a: Date{Millis: math.NaN()}, b: Date{Millis: math.NaN()}, want: true},
		{name: "time and date", a: time.UnixMilli(5), b: Date{Millis: 5}, want: true},
		{name: "byte arrays", a: ByteArray{1, 2}, b: []byte{1, 2}, want: true},
		{name: "different byte arrays", a: ByteArray{1, 2}, b: ByteArray{1, 3}, want: false},
		{
			name: "vectors",
			a:    &Vector{Kind: VectorUint, Items: []any{uint32(1)}},
			b:    &Vector{Kind: VectorUint, Items: []any{uint32(1)}},
			want: true,
		},
		{
			name: "vectors of other kinds",
			a:    &Vector{Kind: VectorUint, Items: []any{uint32(1)}},
			b:    &Vector{Kind: VectorInt, Items: []any{int32(1)}},
			want: false,
		},
		{
			name: "dictionaries",
			a:    &Dictionary{Entries: []DictEntry{{Key: 1.0, Value: "a"}}},
			b:    &Dictionary{Entries: []DictEntry{{Key: int32(1), Value: "a"}}},
			want: true,
		},
		{
			name: "dictionaries with other values",
			a:    &Dictionary{Entries: []DictEntry{{Key: 1.0, Value: "a"}}},
			b:    &Dictionary{Entries: []DictEntry{{Key: 1.0, Value: "b"}}},
			want: false,
		},
		{name: "nil typed object and nil", a: (*TypedObject)(nil), b: nil, want: true},
		{name: "unknown Go types", a: struct{}{}, b: struct{}{}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Equal(tt.a, tt.b); got != tt.want {
				t.Errorf("Equal(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
			if got := Equal(tt.b, tt.a); got != tt.want {
				t.Errorf("Equal(%v, %v) = %v, want %v", tt.b, tt.a, got, tt.want)
			}
		})
	}
}

func TestEqualCyclicValueTerminates(t *testing.T) {
	a := &TypedObject{Class: "A"}
	a.Props = Object{{"self", a}}
	if Equal(a, a) {
		t.Errorf("Equal(cyclic, cyclic) = true, want false (too deep to compare)")
	}
}
