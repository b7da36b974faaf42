package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

func guide(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	return errors.New("guide: needs --database-url (PostgreSQL support is not built yet)")
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	_ = flag.ErrHelp
	_ = fmt.Sprint
	return errors.New("migrate: PostgreSQL support is not built yet")
}
