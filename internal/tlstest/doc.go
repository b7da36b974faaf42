// Package tlstest makes self-signed certificates for tests of HTTPS
// serving, written to files as --tls-cert and --tls-key take them. It owns
// nothing else, and nothing outside tests uses it.
package tlstest
