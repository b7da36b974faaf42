// Package httpapi wires guidecall together: it picks the stores from
// config, builds the domain services, connects them through the small
// interfaces and event streams each declares (queue.Service.Subscribe, signaling.Controller,
// payments.Notifier, payments.CallAuthorizer), mounts every resource's
// routes on one chi router, and runs them all under one lifecycle.
//
// It owns no domain rules. The adapters here translate between packages
// (queue events into protocol messages, tokens into signaling identities)
// and nothing more; a rule found here belongs in a domain package.
package httpapi
