// Package config reads guidecall's settings from command-line flags and
// GUIDECALL_* environment variables. Every flag has an environment twin
// named after it (--http-addr is GUIDECALL_HTTP_ADDR); a flag given on the
// command line wins. It owns parsing and validation only: each package
// still owns the meaning of its settings.
package config
