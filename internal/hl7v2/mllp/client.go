package mllp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Client sends messages on one connection and reads each one's
// acknowledgment.
type Client struct {
	conn net.Conn
	r    *Reader
}

// Dial connects to an MLLP receiver at addr (host:port).
func Dial(ctx context.Context, addr string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return NewClient(conn), nil
}

// NewClient is a client on conn, which the caller dialled (with TLS, say).
func NewClient(conn net.Conn) *Client { return &Client{conn: conn, r: NewReader(conn, 0)} }

// ErrNotSent wraps Send's errors that come before the whole message was
// written: the receiver cannot have taken it. Any later error (no
// answer) leaves that unknown.
var ErrNotSent = errors.New("mllp: the message was not sent")

// Send sends msg and returns the acknowledgment, waiting for it until
// ctx ends (or for a minute when ctx has no deadline).
func (c *Client) Send(ctx context.Context, msg []byte) ([]byte, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Minute)
	}
	c.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Now()) })
	defer stop()
	if err := WriteMessage(c.conn, msg); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	ack, err := c.r.ReadMessage()
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return ack, err
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }
