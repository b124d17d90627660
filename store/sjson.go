package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// decodeSJSON turns a document as FerretDB v1 stores it in SQLite (JSON, its BSON types in a
// schema under "$s": properties "p", key order "$k", each property's type "t", an object's own
// schema "$s", an array's item types "i", binary data's subtype "s") back into BSON. It knows the types the App writes,
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
	Type    string       `json:"t"`
	Schema  *sjsonSchema `json:"$s"`
	Items   []*sjsonType `json:"i"`
	Subtype *byte        `json:"s"` // binData's
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
	case "binData": // base64, as encoding/json writes bytes; the subtype in the schema
		if t.Subtype == nil {
			return nil, errors.New("binData without its subtype")
		}
		b, err := unmarshalAs[[]byte](raw)
		return bson.Binary{Subtype: *t.Subtype, Data: b}, err
	}
	return nil, fmt.Errorf("type %q not read here", t.Type)
}

func unmarshalAs[T any](raw json.RawMessage) (T, error) {
	var v T
	err := json.Unmarshal(raw, &v)
	return v, err
}

// encodeSJSON is decodeSJSON's inverse: doc as FerretDB v1 stores it, its values as JSON and
// their BSON types in the schema under "$s", written as FerretDB's own encoder writes them
// (strings and keys by encoding/json, dates as Unix milliseconds, an empty document's schema
// {}). It knows the types decodeSJSON reads; any other fails, and the caller writes through
// FerretDB instead.
func encodeSJSON(doc bson.Raw) ([]byte, error) {
	var values, schema bytes.Buffer
	if err := encodeDocument(&values, &schema, doc, true); err != nil {
		return nil, err
	}
	return values.Bytes(), nil
}

// encodeStored is v, a document type of the App's, as FerretDB stores it.
func encodeStored(v any) (string, error) {
	raw, err := bson.Marshal(v)
	if err != nil {
		return "", err
	}
	b, err := encodeSJSON(raw)
	return string(b), err
}

// encodeAll is each of docs as FerretDB stores it (encodeStored).
func encodeAll[T any](docs []T) ([]string, error) {
	out := make([]string, len(docs))
	for i, d := range docs {
		var err error
		if out[i], err = encodeStored(d); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// encodeDocument writes doc's fields to values and its schema to schema; at the top, the
// schema goes first among the values, under "$s".
func encodeDocument(values, schema *bytes.Buffer, doc bson.Raw, top bool) error {
	elems, err := doc.Elements()
	if err != nil {
		return err
	}
	var fields bytes.Buffer
	keys := make([]string, len(elems))
	if len(elems) > 0 {
		schema.WriteString(`{"p":{`)
	}
	seen := make(map[string]bool, len(elems))
	for i, e := range elems {
		keys[i] = e.Key()
		// FerretDB stores neither; "$s" would be taken for the schema.
		if seen[keys[i]] || strings.HasPrefix(keys[i], "$") || !utf8.ValidString(keys[i]) {
			return fmt.Errorf("key %q not stored", keys[i])
		}
		seen[keys[i]] = true
		key, err := json.Marshal(keys[i])
		if err != nil {
			return err
		}
		if i > 0 {
			fields.WriteByte(',')
			schema.WriteByte(',')
		}
		fields.Write(key)
		fields.WriteByte(':')
		schema.Write(key)
		schema.WriteByte(':')
		if err := encodeValue(&fields, schema, e.Value()); err != nil {
			return fmt.Errorf("%q: %w", keys[i], err)
		}
	}
	if len(elems) == 0 {
		schema.WriteString(`{}`)
	} else {
		k, err := json.Marshal(keys)
		if err != nil {
			return err
		}
		schema.WriteString(`},"$k":`)
		schema.Write(k)
		schema.WriteByte('}')
	}
	values.WriteByte('{')
	if top {
		values.WriteString(`"$s":`)
		values.Write(schema.Bytes())
		if fields.Len() > 0 {
			values.WriteByte(',')
		}
	}
	values.Write(fields.Bytes())
	values.WriteByte('}')
	return nil
}

// errMalformed is a BSON value too short for its type: its reader would panic.
var errMalformed = errors.New("a malformed BSON value")

// marshalOK is v as JSON, if ok says v was read whole.
func marshalOK[T any](v T, ok bool) ([]byte, error) {
	if !ok {
		return nil, errMalformed
	}
	return json.Marshal(v)
}

// encodeValue writes v to values and its type to schema.
func encodeValue(values, schema *bytes.Buffer, v bson.RawValue) error {
	var typ string
	var b []byte
	var err error
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		schema.WriteString(`{"t":"object","$s":`)
		doc, ok := v.DocumentOK()
		if !ok {
			return errMalformed
		}
		if err := encodeDocument(values, schema, doc, false); err != nil {
			return err
		}
		schema.WriteByte('}')
		return nil
	case bson.TypeArray:
		arr, ok := v.ArrayOK()
		if !ok {
			return errMalformed
		}
		items, err := arr.Values()
		if err != nil {
			return err
		}
		schema.WriteString(`{"t":"array","i":[`)
		values.WriteByte('[')
		for i, item := range items {
			if i > 0 {
				schema.WriteByte(',')
				values.WriteByte(',')
			}
			if err := encodeValue(values, schema, item); err != nil {
				return err
			}
		}
		schema.WriteString(`]}`)
		values.WriteByte(']')
		return nil
	case bson.TypeString:
		str, ok := v.StringValueOK()
		if !ok {
			return errMalformed
		}
		if !utf8.ValidString(str) {
			return errors.New("a string not UTF-8") // which encoding/json would change
		}
		typ = "string"
		b, err = json.Marshal(str)
	case bson.TypeBoolean:
		typ = "bool"
		b, err = marshalOK(v.BooleanOK())
	case bson.TypeInt32:
		typ = "int"
		b, err = marshalOK(v.Int32OK())
	case bson.TypeInt64:
		typ = "long"
		b, err = marshalOK(v.Int64OK())
	case bson.TypeDateTime:
		typ = "date"
		b, err = marshalOK(v.DateTimeOK())
	case bson.TypeNull:
		typ, b = "null", []byte("null")
	default:
		return fmt.Errorf("type %s not written here", v.Type)
	}
	if err != nil {
		return err
	}
	schema.WriteString(`{"t":"` + typ + `"}`)
	values.Write(b)
	return nil
}
