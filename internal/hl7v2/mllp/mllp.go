// Package mllp carries HL7 v2 messages on TCP with the Minimal Lower Layer
// Protocol: each message goes as a start block (0x0B), the message, an end
// block (0x1C) and a carriage return. A receiver answers each message with
// its acknowledgment, framed the same way, before the sender sends the
// next (original mode).
package mllp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// The framing bytes.
const (
	StartBlock     = 0x0B
	EndBlock       = 0x1C
	CarriageReturn = 0x0D
)

// DefaultMaxMessage is the largest message a Reader takes unless told
// otherwise: 16 MiB, room for a result with an embedded document.
const DefaultMaxMessage = 16 << 20

var (
	// ErrTooLarge is a message longer than the reader's limit. The stream
	// cannot be read further.
	ErrTooLarge = errors.New("mllp: message larger than the limit")
	// ErrFraming is a stream that does not follow MLLP: something other
	// than white space between messages, or an end block without its
	// carriage return. The stream cannot be read further.
	ErrFraming = errors.New("mllp: framing error")
)

// Reader reads framed messages from a stream.
type Reader struct {
	br  *bufio.Reader
	max int
}

// NewReader reads from r messages of at most max bytes (DefaultMaxMessage
// when max is 0 or less).
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxMessage
	}
	return &Reader{br: bufio.NewReaderSize(r, 64<<10), max: max}
}

// ReadMessage returns the next message, without its framing. White space
// between messages (some senders end a frame with a line feed) is
// skipped. It returns io.EOF when the stream ends between messages and
// io.ErrUnexpectedEOF when it ends inside one.
func (r *Reader) ReadMessage() ([]byte, error) {
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == StartBlock {
			break
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return nil, fmt.Errorf("%w: byte 0x%02x where a message should start", ErrFraming, c)
	}
	var msg []byte
	for {
		chunk, err := r.br.ReadSlice(EndBlock)
		if len(msg)+len(chunk) > r.max+1 {
			return nil, ErrTooLarge
		}
		msg = append(msg, chunk...)
		switch {
		case err == nil:
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
		msg = msg[:len(msg)-1] // the end block
		c, err := r.br.ReadByte()
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
		if c != CarriageReturn {
			return nil, fmt.Errorf("%w: byte 0x%02x after the end block", ErrFraming, c)
		}
		if bytes.IndexByte(msg, StartBlock) >= 0 {
			return nil, fmt.Errorf("%w: a start block inside a message", ErrFraming)
		}
		return msg, nil
	}
}

// WriteMessage writes msg framed, in one write. A message holding a
// framing byte cannot be framed and is refused.
func WriteMessage(w io.Writer, msg []byte) error {
	if bytes.IndexByte(msg, StartBlock) >= 0 || bytes.IndexByte(msg, EndBlock) >= 0 {
		return fmt.Errorf("%w: the message holds a framing byte", ErrFraming)
	}
	frame := make([]byte, 0, len(msg)+3)
	frame = append(frame, StartBlock)
	frame = append(frame, msg...)
	frame = append(frame, EndBlock, CarriageReturn)
	_, err := w.Write(frame)
	return err
}
