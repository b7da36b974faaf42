package db

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnavailable reports whether err means the database could not be
// reached or went away: the kind of failure a caller should answer with
// "try again later" (HTTP 503) rather than "you asked for something wrong".
//
// It is the one place that knows how pgx spells that: a server error of
// class 08 (connection exception), 57P01..57P03 (admin or crash shutdown,
// cannot connect now) or 53300 (too many connections); a failed connect,
// including a connect cut short by its context; network errors and
// unexpected EOFs; and errors pgconn marks safe to retry because nothing
// reached the server. A query cancelled by its caller's context is not
// unavailability: that error is the caller's own and passes through.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"),
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03",
			pgErr.Code == "53300":
			return true
		}
		return false
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	return pgconn.SafeToRetry(err)
}

// UniqueViolation returns the name of the constraint err violated, and whether
// err is a unique violation (SQLSTATE 23505). Stores map the name to their
// own duplicate errors.
func UniqueViolation(err error) (constraint string, ok bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return pgErr.ConstraintName, true
	}
	return "", false
}
