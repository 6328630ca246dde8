// Package carrier adapts the Telnyx client to the small interfaces the
// domain packages declare, so that no domain imports Telnyx's wire types.
// Each file bridges one domain.
package carrier
