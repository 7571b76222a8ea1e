package audit

import (
	encb64 "encoding/base64"
	"strconv"
)

func base64(s string) string { return encb64.StdEncoding.EncodeToString([]byte(s)) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
