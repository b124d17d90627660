package store

import (
	"encoding/json"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// decodeSJSON turns a document as FerretDB v1 stores it in SQLite (JSON, its BSON types in a
// schema under "$s": properties "p", key order "$k", each property's type "t", an object's own
// schema "$s", an array's item types "i") back into BSON. It knows the types the App writes,
// which are all FerretDB v1 gives a plain JSON value; any other fails, and the caller reads
// through FerretDB instead.
func decodeSJSON(data []byte) (bson.D, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, fmt.Errorf("store: stored document: %w", err)
	}
	var sch sjsonSchema
	if err := json.Unmarshal(fields["$s"], &sch); err != nil {
		return nil, fmt.Errorf("store: stored document's schema: %w", err)
	}
	delete(fields, "$s")
	return sch.document(fields)
}

type sjsonSchema struct {
	Properties map[string]*sjsonType `json:"p"`
	Keys       []string              `json:"$k"`
}

type sjsonType struct {
	Type   string       `json:"t"`
	Schema *sjsonSchema `json:"$s"`
	Items  []*sjsonType `json:"i"`
}

func (s *sjsonSchema) document(fields map[string]json.RawMessage) (bson.D, error) {
	if len(fields) == 0 {
		return bson.D{}, nil
	}
	if s == nil || len(s.Keys) != len(fields) {
		return nil, fmt.Errorf("store: stored document: %d fields against its schema", len(fields))
	}
	d := make(bson.D, 0, len(s.Keys))
	for _, k := range s.Keys {
		raw, ok := fields[k]
		if !ok {
			return nil, fmt.Errorf("store: stored document: %q missing", k)
		}
		v, err := s.Properties[k].value(raw)
		if err != nil {
			return nil, fmt.Errorf("store: stored document: %q: %w", k, err)
		}
		d = append(d, bson.E{Key: k, Value: v})
	}
	return d, nil
}

func (t *sjsonType) value(raw json.RawMessage) (any, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	if t == nil {
		return nil, fmt.Errorf("no type")
	}
	switch t.Type {
	case "object":
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, err
		}
		return t.Schema.document(fields)
	case "array":
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		if len(items) != len(t.Items) {
			return nil, fmt.Errorf("%d items against %d types", len(items), len(t.Items))
		}
		a := make(bson.A, len(items))
		for i, item := range items {
			v, err := t.Items[i].value(item)
			if err != nil {
				return nil, err
			}
			a[i] = v
		}
		return a, nil
	case "string":
		return unmarshalAs[string](raw)
	case "bool":
		return unmarshalAs[bool](raw)
	case "int":
		return unmarshalAs[int32](raw)
	case "long":
		return unmarshalAs[int64](raw)
	case "double":
		return unmarshalAs[float64](raw)
	case "date":
		ms, err := unmarshalAs[int64](raw)
		return bson.DateTime(ms), err
	}
	return nil, fmt.Errorf("type %q not read here", t.Type)
}

func unmarshalAs[T any](raw json.RawMessage) (T, error) {
	var v T
	err := json.Unmarshal(raw, &v)
	return v, err
}
