// Package catalog owns what a guide draws on in a call besides the call
// itself: the merchant's product feed (the products a guide can find and
// show a shopper) and saved chat replies (the merchant's, kept by admins,
// and each guide's own). An admin replaces the whole feed
// at once, as JSON or CSV (PUT /api/v1/admin/products); guides search it
// (GET /api/v1/products?q=) and may fill a card from a product page's
// Open Graph data (POST /api/v1/products/preview), fetched server-side
// only from origins the node already trusts.
//
// The feed is a Store with a memory and a PostgreSQL implementation that
// pass one conformance suite (catalogtest); a replace is one transaction,
// so a search never sees half a feed.
//
// It does not own who may call its routes (the wiring puts the admin and
// guide token checks in front of them), the product cards of a call (the
// queue keeps those with the call's items) or money beyond an amount in
// minor units and an ISO 4217 code.
package catalog
