package httpapi

import (
	"bytes"
	"html/template"
	"io/fs"
	"net/http"

	swaggerfiles "github.com/swaggo/files/v2"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// Guide is the Markdown integration guide served under /documentation.
type Guide struct {
	Index []byte            // the short index of documentation surfaces
	Full  []byte            // the full integration guide
	Extra map[string][]byte // other pages, by file name (e.g. "simulator.md")
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:16px/1.55 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em}
pre{background:#f4f5f7;padding:.8rem;overflow:auto;border-radius:6px}
table{border-collapse:collapse}td,th{border:1px solid #d5d9e0;padding:.3rem .6rem;text-align:left;vertical-align:top}
a{color:#1750c4}hr{border:0;border-top:1px solid #d5d9e0;margin:2.5rem 0}
</style></head><body>{{.Body}}</body></html>`))

var swaggerTmpl = template.Must(template.New("swagger").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} — Swagger UI</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body></html>`))

// swaggerInit is served as a file so the page needs no inline script.
const swaggerInit = `window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui",
  deepLinking: true, presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout"});`

// ReDoc has no Go module to embed it from, so /redoc loads its standalone
// bundle from the official CDN; everything else works offline.
var redocTmpl = template.Must(template.New("redoc").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} — ReDoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="/openapi.json"></redoc>
<script src="https://cdn.redoc.ly/redoc/latest/bundles/redoc.standalone.js"></script>
</body></html>`))

func (s *Server) registerDocs() {
	title := s.cfg.Title
	assets, _ := fs.Sub(swaggerfiles.FS, ".")
	s.mux.Handle("GET /docs/assets/", http.StripPrefix("/docs/assets/", http.FileServerFS(assets)))
	s.mux.HandleFunc("GET /docs/init.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write([]byte(swaggerInit))
	})
	s.mux.Handle("GET /docs", htmlPage(swaggerTmpl, map[string]any{"Title": title}))
	s.mux.Handle("GET /redoc", htmlPage(redocTmpl, map[string]any{"Title": title}))

	g := s.cfg.Guide
	both := append(append(append([]byte{}, g.Index...), "\n\n---\n\n"...), g.Full...)
	s.mux.Handle("GET /documentation", htmlPage(pageTmpl, map[string]any{
		"Title": title + " documentation", "Body": renderMarkdown(both)}))
	s.mux.Handle("GET /documentation/index.md", markdown(g.Index))
	s.mux.Handle("GET /documentation/peak-voice-api.md", markdown(g.Full))
	s.mux.Handle("GET /documentation/agents.md", markdown(g.Full))
	for name, body := range g.Extra {
		s.mux.Handle("GET /documentation/"+name, markdown(body))
	}
}

func renderMarkdown(src []byte) template.HTML {
	var buf bytes.Buffer
	md := goldmark.New(goldmark.WithExtensions(extension.GFM))
	if err := md.Convert(src, &buf); err != nil {
		return template.HTML(template.HTMLEscapeString(string(src)))
	}
	// The guide is our own Markdown, compiled into the binary: trusted.
	return template.HTML(buf.String()) //nolint:gosec
}

// htmlPage renders tmpl once and serves the bytes.
func htmlPage(tmpl *template.Template, data any) http.Handler {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		panic("httpapi: docs template: " + err.Error())
	}
	body := buf.Bytes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(body)
	})
}

func markdown(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		_, _ = w.Write(body)
	})
}
