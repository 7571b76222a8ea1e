package sqlstore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
)

// cursor is where a page starts: the sort values and rid of the row just
// before it (or, Back, just after it), so that paging is stable while
// resources are added and removed (keyset paging, not offsets). Offset
// counts the rows before the page, for the total of a last page.
type cursor struct {
	Values []any  `json:"v,omitempty"`
	Rid    int64  `json:"r"`
	Back   bool   `json:"b,omitempty"`
	Tail   bool   `json:"t,omitempty"` // the row has no value of the first sort key (searchPlan.walk)
	Offset int64  `json:"o,omitempty"`
	Sig    string `json:"s,omitempty"` // the _sort it was issued for
}

func encodeCursor(c cursor) string {
	body, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(body)
}

// decodeCursor accepts only a cursor issued for the same ordering.
func decodeCursor(s, sig string, nsorts int) (*cursor, error) {
	body, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, invalid("the paging cursor is not valid")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var c cursor
	if err := dec.Decode(&c); err != nil || c.Sig != sig || len(c.Values) != nsorts || c.Offset < 0 {
		return nil, invalid("the paging cursor is not valid for this search")
	}
	for i, v := range c.Values {
		switch v := v.(type) {
		case json.Number:
			if n, err := v.Int64(); err == nil {
				c.Values[i] = n
			} else if f, err := v.Float64(); err == nil {
				c.Values[i] = f
			} else {
				return nil, invalid("the paging cursor is not valid")
			}
		case string:
		default:
			return nil, invalid("the paging cursor is not valid")
		}
	}
	return &c, nil
}
