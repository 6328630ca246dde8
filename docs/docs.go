// Package docs embeds Peak Voice's user guide, written in Markdown in this
// folder, so the server can serve it at /documentation.
package docs

import "embed"

// FS holds every Markdown file in this folder and its runbooks.
//
//go:embed *.md runbooks/*.md
var FS embed.FS
